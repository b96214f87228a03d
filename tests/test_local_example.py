"""`runtool-iac local` on the bundled forecasting example (runtool.yml at the repository root)."""

import json
import re
import subprocess
import sys

from click.testing import CliRunner

from runtool_iac import results
from runtool_iac.cli import main

from conftest import EXAMPLE_CONFIGS, ROOT

ALGORITHM = ROOT / "examples" / "forecasting" / "algorithm" / "forecast.py"
DATA = ROOT / "examples" / "forecasting" / "data"


def invoke(*args: str):
    return CliRunner().invoke(main, ["local", *args])


def test_smoke_experiment_runs_from_the_project(tmp_path):
    result = invoke("smoke", "--project", str(ROOT), "--output-dir", str(tmp_path), "--quiet")
    assert result.exit_code == 0, result.output
    assert "1 jobs (Completed: 1)" in result.stdout
    (found,) = results.read_local(tmp_path / "smoke" / "_results")
    assert (found.algorithm, found.dataset, found.status) == ("seasonal_naive", "retail", "Completed")
    assert set(found.metrics) == {"MASE", "sMAPE"} and 0 < found.metrics["MASE"] < 2
    (job,) = (tmp_path / "smoke").glob(f"*/{found.job_name}")
    assert json.loads((job / "model" / "model.json").read_text())["method"] == "seasonal_naive"
    assert (job / "input" / "data" / "test" / "data.json").resolve() == DATA / "retail" / "test" / "data.json"


def test_expression_over_files_streams_logs_and_pivots(tmp_path):
    files = [str(p) for p in EXAMPLE_CONFIGS]
    result = invoke(*files, "-e", "algorithms * (electricity + retail)", "--project", str(ROOT),
                    "--output-dir", str(tmp_path), "--experiment-name", "subset", "--max-parallel", "3")
    assert result.exit_code == 0, result.output
    assert re.search(r"^\[autoregression-electricity-\w+-r0\] MASE=\d\.\d{4}$", result.stdout, re.M)
    assert "6 jobs (Completed: 6)" in result.stdout
    pivot = results.pivot(results.read_local(tmp_path), "MASE")
    assert pivot.datasets == ["electricity", "retail"]
    assert pivot.algorithms == ["autoregression[ridge=0.0]", "autoregression[ridge=10.0]", "seasonal_naive"]
    assert all(len(values) == 1 for values in pivot.cells.values()) and len(pivot.cells) == 6


def test_unknown_experiment_and_usage_errors(tmp_path):
    result = invoke("smok", "--project", str(ROOT), "--output-dir", str(tmp_path))
    assert result.exit_code == 1 and "no experiment 'smok'" in result.stdout and "did you mean 'smoke'" in result.stdout
    assert invoke("a.yml", "b.yml", "--project", str(ROOT)).exit_code == 2


def test_missing_data_is_one_error_line_per_channel_with_exit_1(tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    text = (ROOT / "runtool.yml").read_text()
    text = text.replace("s3://runtool-example-data/forecasting: examples/forecasting/data", "s3://elsewhere: data")
    text = text.replace("  - examples/", f"  - {ROOT}/examples/")
    (tmp_path / "runtool.yml").write_text(text)
    (tmp_path / "data").mkdir()
    result = invoke("smoke", "--project", str(tmp_path / "runtool.yml"), "--output-dir", str(tmp_path / "out"))
    assert result.exit_code == 1
    job = re.search(r"forecast-seasonal-naive-retail-\w{8}-r0", result.stderr)[0]
    assert result.stderr.splitlines() == [
        f"error: channel '{channel}' of job {job}:"
        f" s3://runtool-example-data/forecasting/retail/{channel}/ is not mapped by local.data in runtool.yml"
        " and no AWS credentials were found to download it;"
        f" add 's3://runtool-example-data/forecasting/retail/{channel}: <local folder>' under local.data in runtool.yml"
        for channel in ("train", "test")
    ]
    assert not (tmp_path / "out").exists()


def test_forecast_algorithm_reports_bad_input_through_output_failure(tmp_path):
    config = tmp_path / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps({"method": "prophet", "prediction_length": "7", "season_length": "7"}))
    done = subprocess.run([sys.executable, str(ALGORITHM), "train"], env={"SAGEMAKER_BASE_DIR": str(tmp_path)}, capture_output=True, text=True)
    assert done.returncode == 1
    assert (tmp_path / "output" / "failure").read_text() == "hyperparameter 'method' must be one of seasonal_naive, ar, not 'prophet'"

    (config / "hyperparameters.json").write_text(json.dumps({"method": "ar", "prediction_length": "7", "season_length": "7"}))
    (tmp_path / "input" / "data" / "test").mkdir(parents=True)
    (tmp_path / "input" / "data" / "test" / "data.json").write_text('{"start": "2024-01-01", "target": [1, 2, "x"]}\n')
    done = subprocess.run([sys.executable, str(ALGORITHM), "train"], env={"SAGEMAKER_BASE_DIR": str(tmp_path)}, capture_output=True, text=True)
    assert done.returncode == 1
    assert (tmp_path / "output" / "failure").read_text().startswith("data.json:1: not a series with a numeric 'target'")


def test_generated_data_is_what_the_script_writes(tmp_path):
    """The committed files are the generator's output (fixed seed), and stay small."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("generate", DATA / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.HERE = tmp_path
    module.main()
    for name in ("electricity", "traffic", "retail"):
        for split in ("train", "test"):
            assert (tmp_path / name / split / "data.json").read_text() == (DATA / name / split / "data.json").read_text()
    assert sum(p.stat().st_size for p in DATA.rglob("*.json")) < 300_000


def test_client_local_run_as_in_the_original(tmp_path):
    import runtool_iac as runtool

    from conftest import EXAMPLE_CONFIGS, ROOT

    config = runtool.load_config(*EXAMPLE_CONFIGS)
    client = runtool.Client()
    results = client.local_run(
        config.seasonal_naive * config.retail,
        output_dir=tmp_path,
        runs=2,
        experiment_name="client-local",
        images={"123456789012.dkr.ecr.eu-west-1.amazonaws.com/runtool-example-forecast:1.0": "python examples/forecasting/algorithm/forecast.py"},
        data={"s3://runtool-example-data/forecasting": ROOT / "examples" / "forecasting" / "data"},
        project_root=ROOT,
        quiet=True,
    )
    assert [(r.status, r.run) for r in results] == [("Completed", 0), ("Completed", 1)]
    assert all(0 < r.metrics["MASE"] < 2 for r in results)
