"""Incremental experiments in moto, through the CLI: run, grow the configs, run only what is new.

The deployed stack is the repository's (one session-wide synth); the configs
then change in a copy of the project, as a merged pull request would change
them. The new jobs share the deployed instance-type group, so no redeploy is
needed: ``--skip-completed`` uploads the manifest of exactly the jobs to run.
"""

import json
import sys
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).parent / "support"))

from example_project import add_algorithm, algorithms_file, copy_example_project  # noqa: E402
from moto_deploy import REGION, deploy  # noqa: E402
from moto_stepfunctions import patched_moto  # noqa: E402

from runtool_iac.cli import main  # noqa: E402
from runtool_iac.runner import Runner  # noqa: E402

from test_runner_e2e import synthesized  # noqa: E402,F401  (the session-wide synth, via conftest_cdk)

pytest_plugins = ["conftest_cdk"]


@pytest.fixture
def project(tmp_path):
    return copy_example_project(tmp_path)


@pytest.fixture
def deployed(synthesized):  # noqa: F811
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), patched_moto() as behaviour:
        session = boto3.Session(region_name=REGION)
        deploy(synthesized.outdir, synthesized.stack_name, session)
        behaviour.metrics = lambda request: {"MASE": float(request["HyperParameters"]["season_length"]) / 10}
        yield behaviour


def cli(project: Path, *args: str):
    return CliRunner().invoke(main, [*args, "--project", str(project / "runtool.yml"), "--region", REGION])


def run(project: Path, name: str, *extra: str):
    result = cli(project, "run", "bench", "--runs", "1", "--skip-completed", "--name", name, "--wait", "--poll-seconds", "0.05", *extra)
    assert result.exit_code == 0, result.output
    return result


def methods(created: list[dict]) -> list[tuple[str, str]]:
    return sorted((r["HyperParameters"]["method"], r["HyperParameters"]["freq"]) for r in created)


def test_skip_completed_runs_exactly_the_new_jobs(deployed, project):
    first = run(project, "first")
    assert first.output.splitlines()[0] == "9 to run, 0 already completed (in 0 earlier executions)"
    assert len(deployed.created) == 9

    # A pull request adds an algorithm: only its 3 jobs (one per dataset) run.
    add_algorithm(project)
    second = run(project, "second")
    assert second.output.splitlines()[0] == "3 to run, 9 already completed (in 1 earlier execution)"
    new = deployed.created[9:]
    assert [r["HyperParameters"]["lags"] for r in new] == ["3", "3", "3"]
    assert methods(new) == [("ar", "D"), ("ar", "H"), ("ar", "H")]
    assert all(r["TrainingJobName"].startswith("forecast-drift-") for r in new)
    assert "3 training jobs:" in second.output

    rows = json.loads(cli(project, "results", "--experiment", "bench", "--format", "json").output)
    assert len(rows) == 12 and len({r["key"] for r in rows}) == 12
    by_execution = {e: sorted((r["algorithm"], r["dataset"]) for r in rows if r["execution"] == e) for e in ("first", "second")}
    assert by_execution["second"] == [("drift", "electricity"), ("drift", "retail"), ("drift", "traffic")]
    assert len(by_execution["first"]) == 9 and not any(a == "drift" for a, _ in by_execution["first"])
    table = cli(project, "results", "--experiment", "bench").output.splitlines()
    assert table[0].split()[-1] == "execution" and table[-1] == "12 jobs (Completed: 12)"

    # Nothing new: nothing starts, exit 0.
    again = cli(project, "run", "bench", "--runs", "1", "--skip-completed", "--name", "third")
    assert again.exit_code == 0 and again.output.splitlines() == [
        "0 to run, 12 already completed (in 2 earlier executions)", "nothing to run"]
    assert len(deployed.created) == 12

    # Renaming a node alone is not a new job.
    text = algorithms_file(project).read_text()
    algorithms_file(project).write_text(text.replace("drift:", "drift_renamed:").replace("$ref: drift}", "$ref: drift_renamed}"))
    renamed = cli(project, "run", "bench", "--runs", "1", "--skip-completed", "--name", "fourth")
    assert renamed.exit_code == 0 and renamed.output.splitlines()[-1] == "nothing to run"

    # One changed hyperparameter: only the jobs of that algorithm run again.
    algorithms_file(project).write_text(algorithms_file(project).read_text().replace("lags: 3,", "lags: 4,"))
    fifth = run(project, "fifth")
    assert fifth.output.splitlines()[0] == "3 to run, 9 already completed (in 2 earlier executions)"
    assert [r["HyperParameters"]["lags"] for r in deployed.created[12:]] == ["4", "4", "4"]
    rows = json.loads(cli(project, "results", "--experiment", "bench", "--format", "json").output)
    assert len(rows) == 15  # the lags=3 results stay: they are other keys
    assert sorted(r["execution"] for r in rows if r["algorithm"] == "drift_renamed") == ["fifth"] * 3

    # More runs than before: only the new run numbers start.
    more = cli(project, "run", "bench", "--runs", "2", "--skip-completed", "--name", "sixth", "--wait", "--poll-seconds", "0.05")
    assert more.exit_code == 0 and more.output.splitlines()[0].startswith("12 to run, 12 already completed")
    assert {t["Value"] for r in deployed.created[15:] for t in r["Tags"] if t["Key"] == "run_number"} == {"1"}


def test_leaderboard_and_plan_against_cloud_results(deployed, project, monkeypatch):
    run(project, "first")
    board = json.loads(cli(project, "results", "--experiment", "bench", "--leaderboard", "MASE",
                           "--baseline", "seasonal_naive", "--format", "json").output)
    # Every algorithm reports season_length / 10: all tie on every dataset.
    assert {e["algorithm"]: e["mean_rank"] for e in board["entries"]} == {
        "autoregression[ridge=0.0]": 2.0, "autoregression[ridge=10.0]": 2.0, "seasonal_naive": 2.0}
    assert all(e["relative"] == pytest.approx(1.0) for e in board["entries"])
    assert board["missing"] == []

    add_algorithm(project)
    monkeypatch.chdir(project)  # the stack is the one of the runtool.yml found from here
    configs = ["examples/forecasting/configs/datasets.yml", "examples/forecasting/configs/algorithms.yml"]
    args = ["plan", *configs, "-e", "algorithms * datasets", "--experiment-name", "bench", "--against-results"]
    planned = CliRunner().invoke(main, [*args, "--format", "json"])
    assert planned.exit_code == 0, planned.output
    found = json.loads(planned.output)
    assert (found["to_run"], found["completed"], found["executions"]) == (3, 9, 1)
    assert sorted(j["dataset"] for j in found["new"]) == ["electricity", "retail", "traffic"]
    assert {j["algorithm"] for j in found["new"]} == {"drift"}
    assert {j["execution"] for j in found["completed_jobs"]} == {"first"}
    table = CliRunner().invoke(main, args).output.splitlines()
    assert table[table.index("against the results (aws):") + 1] == "bench: 3 to run, 9 already completed (in 1 earlier execution)"
    assert sum(line.startswith("  + drift-") for line in table) == 3
    # The declared form: exactly the jobs `run bench --skip-completed` would start.
    declared = CliRunner().invoke(main, ["plan", "bench", "--project", str(project), "--runs", "1", "--against-results", "--format", "json"])
    assert declared.exit_code == 0, declared.output
    found = json.loads(declared.output)
    assert (found["to_run"], found["completed"]) == (3, 9)
    assert all(j["name"].startswith("forecast-drift-") for j in found["new"])


def test_client_run_skip_completed(deployed, project, capsys):
    import runtool_iac as runtool

    config = runtool.load_config(*sorted((project / "examples" / "forecasting" / "configs").glob("*.yml")))
    client = runtool.Client(session=boto3.Session(region_name=REGION), stack_name="RuntoolExampleRuntool")
    first = client.run(config.seasonal_naive * config.datasets, experiment_name="adhoc-grow", execution_name="grow-1")
    runner = Runner("RuntoolExampleRuntool", session=boto3.Session(region_name=REGION), region=REGION)
    runner.wait(client.last_started.execution_arn, poll_seconds=0.05)
    other = client.run(config.algorithms * config.datasets, experiment_name="adhoc-other", execution_name="other-1")
    runner.wait(client.last_started.execution_arn, poll_seconds=0.05)
    capsys.readouterr()
    grown = client.run(config.algorithms * config.datasets, experiment_name="adhoc-grow", execution_name="grow-2", skip_completed=True)
    assert capsys.readouterr().out.splitlines() == ["6 to run, 3 already completed (in 1 earlier execution)"]
    assert len(first) == 3 and len(other) == 9 and len(grown) == 6
    assert all(name.startswith("forecast-autoregression-") for name in grown)
    runner.wait(client.last_started.execution_arn, poll_seconds=0.05)
    assert client.run(config.algorithms * config.datasets, experiment_name="adhoc-grow", skip_completed=True) == []
    assert capsys.readouterr().out.splitlines()[-1] == "nothing to run"


def test_reading_earlier_executions_costs_a_constant_number_of_calls_each(deployed, project):
    for name, runs in (("small", "1"), ("big", "3")):
        assert cli(project, "run", "bench", "--runs", runs, "--name", name, "--wait", "--poll-seconds", "0.05").exit_code == 0
    session = boto3.Session(region_name=REGION)
    calls: list[str] = []
    session.events.register("before-call.*.*", lambda event_name, **_: calls.append(event_name.split(".", 2)[2]))
    runner = Runner("RuntoolExampleRuntool", session=session, region=REGION)
    executions = runner.executions("bench")
    assert [(e.name, len(e.results)) for e in executions] == [("small", 9), ("big", 27)]
    # DescribeStacks, ListExecutions; per execution: ListObjectsV2, GetObject manifest.json, GetObject SUCCEEDED_0.json
    assert calls == ["DescribeStacks", "ListExecutions"] + ["ListObjectsV2", "GetObject", "GetObject"] * 2


def test_failed_jobs_of_earlier_executions_cost_no_extra_calls(deployed, project):
    """Skipping completed jobs needs only what completed: the per-job failure records
    (``failures/<job>.json``) of an earlier execution are not fetched."""
    deployed.failures["forecast-seasonal"] = "AlgorithmError: boom"
    cli(project, "run", "bench", "--runs", "1", "--name", "failing", "--wait", "--poll-seconds", "0.05")
    deployed.failures.clear()
    session = boto3.Session(region_name=REGION)
    bucket = Runner("RuntoolExampleRuntool", session=session, region=REGION).deployment().bucket
    keys = [o["Key"] for o in session.client("s3").list_objects_v2(Bucket=bucket, Prefix="bench/_results/").get("Contents", [])]
    assert any("/failures/" in k for k in keys)  # the records exist; reading earlier executions skips them
    result_files = [k for k in keys if k.endswith(".json") and "/failures/" not in k]
    calls: list[str] = []
    session.events.register("before-call.*.*", lambda event_name, **_: calls.append(event_name.split(".", 2)[2]))
    executions = Runner("RuntoolExampleRuntool", session=session, region=REGION).executions("bench")
    assert [e.name for e in executions] == ["failing"]
    assert sorted(r.status for r in executions[0].results).count("Completed") == 6
    assert calls == ["DescribeStacks", "ListExecutions", "ListObjectsV2"] + ["GetObject"] * len(result_files)
