"""The command line: exit codes, stdout contents, formats."""

import json
import subprocess
import sys

from click.testing import CliRunner

from runtool_iac.cli import main

from conftest import EXAMPLE_CONFIGS, ROOT

FILES = [str(p) for p in EXAMPLE_CONFIGS]


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_validate_ok_and_quiet():
    result = run("validate", *FILES)
    assert result.exit_code == 0 and "ok:" in result.output
    assert run("validate", "-q", *FILES).output == ""


def test_validate_errors_go_to_stdout_with_exit_1(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("algo:\n  image: img\n  instance: 42\nds: {path: {train: 3}}\n")
    result = run("validate", str(bad))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{bad}:3:13: algo.instance: expected string, got number 42",
        f"{bad}:4:20: ds.path.train: expected string, got number 3",
    ]


def test_plan_json_prints_only_the_requests():
    result = run("plan", *FILES, "-e", "algorithms * datasets", "--runs", "2", "--format", "json", "--tag", "team=x")
    assert result.exit_code == 0, result.output
    requests = json.loads(result.stdout)
    assert len(requests) == 18
    assert all({"Key": "team", "Value": "x"} in r["Tags"] for r in requests)


def test_plan_table_has_totals_and_instance_counts():
    result = run("plan", *FILES, "-e", "seasonal_naive * datasets")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    # What every job shares is said once, above the table.
    assert lines[0].startswith("hyperparameters of every job: {")
    assert lines[1].split()[:4] == ["job_name", "run", "algorithm", "dataset"]
    assert "total number of jobs: 3" in lines
    assert "  ml.m5.large: 3" in lines


def test_plan_markdown():
    result = run("plan", *FILES, "-e", "algorithms * retail", "--format", "markdown", "--experiment-name", "pr")
    assert result.exit_code == 0
    assert result.stdout.startswith("### pr: 3 training jobs")
    assert "| `ml.m5.large` | 3 |" in result.stdout


def test_plan_expression_error_is_located():
    result = run("plan", *FILES, "-e", "algorithms * datasetz")
    assert result.exit_code == 1
    assert "did you mean 'datasets'" in result.stdout


def test_bad_arguments_are_one_line_errors():
    result = run("plan", *FILES, "-e", "algorithms * datasets", "--experiment-name", "no spaces")
    assert result.exit_code == 2 and "Invalid value for '--experiment-name': experiment name" in result.output
    assert run("plan", *FILES, "-e", "algorithms * datasets", "--tag", "novalue").exit_code == 2


def test_python_dash_m_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "runtool_iac", "validate", *FILES], capture_output=True, text=True, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr


def test_client_dry_run_prints_and_returns(capsys):
    import runtool_iac as runtool

    config = runtool.load_config(*FILES)
    client = runtool.Client(role_arn="arn:aws:iam::123456789012:role/x", bucket="my_output_bucket")
    requests = client.dry_run(config.seasonal_naive * config.datasets, runs=2)
    assert len(requests) == 6
    assert "total number of jobs: 6" in capsys.readouterr().out


def test_validate_a_project_plans_every_experiment(tmp_path):
    import shutil

    shutil.copytree(ROOT / "examples" / "forecasting" / "configs", tmp_path / "configs")
    project = tmp_path / "runtool.yml"
    project.write_text(
        "project: p\nconfigs: [configs/*.yml]\nexperiments:\n"
        "  ok: {experiment: algorithms * datasets}\n"
        "  typo: {experiment: algorithms * datasetz}\n"
    )
    result = run("validate", "--project", str(project))
    assert result.exit_code == 1
    assert result.stdout.strip() == (
        f"{project}:5:35: experiments.typo.experiment: no top-level node 'datasetz' in the config "
        "(did you mean 'datasets'?) in experiment 'algorithms * datasetz'"
    )
    project.write_text(project.read_text().replace("datasetz", "datasets"))
    ok = run("validate", "--project", str(project))
    assert ok.exit_code == 0 and ok.stdout.strip() == "ok: runtool.yml, 2 config file(s), 2 experiment(s), 18 jobs"


def test_plan_of_a_declared_experiment_uses_the_project(monkeypatch):
    monkeypatch.chdir(ROOT)  # runtool.yml found upward, as for `run`
    result = CliRunner().invoke(main, ["plan", "bench", "--format", "json"])
    assert result.exit_code == 0, result.output
    requests = json.loads(result.stdout)
    assert len(requests) == 27  # the declared runs: 3
    assert all(r["TrainingJobName"].startswith("forecast-") for r in requests)
    assert all({"Key": "team", "Value": "forecasting"} in r["Tags"] for r in requests)
    table = CliRunner().invoke(main, ["plan", "bench", "--runs", "1"])
    assert "total number of jobs: 9" in table.stdout
    assert "placeholders for the ones the deployed stack creates" in table.stderr
    assert CliRunner().invoke(main, ["plan", "bench", "--bucket", "b"]).exit_code == 2
    assert CliRunner().invoke(main, ["plan", "nosuch"]).exit_code == 1
