"""Local runs end to end with a scripted `local:` algorithm: env, data, failures, timeouts, metrics, S3 data."""

import json
import os
import sys
import tarfile
import time
from pathlib import Path

import pytest

from runtool_iac import results
from runtool_iac.config import load_config
from runtool_iac.local import LocalModeError, executor, local_run
from runtool_iac.local.channels import map_s3

JOB_SCRIPT = """
import json, os, pathlib, signal, sys, time
hps = json.loads(pathlib.Path(os.environ["SM_INPUT_CONFIG_DIR"], "hyperparameters.json").read_text())
mode = hps["mode"]
print("loss=0.9")
print("loss=0.5 MASE=0.25")
print("loss=oops")
if mode == "env":
    pathlib.Path(os.environ["SM_OUTPUT_DATA_DIR"], "env.json").write_text(json.dumps({
        "env": dict(os.environ), "cwd": os.getcwd(), "argv": sys.argv,
        "train": sorted(os.listdir(os.environ["SM_CHANNEL_TRAIN"])),
        "test": pathlib.Path(os.environ["SM_CHANNEL_TEST"], "series.json").read_text(),
    }))
    pathlib.Path(os.environ["SM_MODEL_DIR"], "weights.txt").write_text("42")
elif mode == "exit":
    print("something broke", file=sys.stderr)
    sys.exit(3)
elif mode == "failure":
    pathlib.Path(os.environ["SM_OUTPUT_DIR"], "failure").write_text("bad input: column x is missing")
    sys.exit(1)
elif mode == "sleep":
    time.sleep(60)
elif mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("ignoring SIGTERM", flush=True)
    time.sleep(60)
"""


def write_project(tmp_path: Path, modes: list[str], algo_extra: str = "", path: str = "") -> Path:
    (tmp_path / "job.py").write_text(JOB_SCRIPT)
    for split in ("train", "test"):
        (tmp_path / "data" / split).mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / split / "series.json").write_text(f'{{"target": [1, 2, 3], "split": "{split}"}}\n')
    test_uri = (tmp_path / "data" / "test").as_uri()
    config = tmp_path / "config.yml"
    config.write_text(
        f"""
algo:
  image: "local:python job.py"
  instance: ml.m5.large
  metrics: {{MASE: 'MASE=([0-9.]+)', loss: 'loss=(\\S+)'}}
  hyperparameters:
    mode: {{$each: {json.dumps(modes)}}}
{algo_extra}
ds:
  path: {path or f"{{train: data/train, test: '{test_uri}'}}"}
"""
    )
    return config


def run(tmp_path: Path, modes: list[str], algo_extra: str = "", path: str = "", **options):
    config = load_config(write_project(tmp_path, modes, algo_extra, path))
    found = local_run(config.algo * config.ds, output_dir="out", project_root=tmp_path, quiet=True, **options)
    # Labels are "algo[mode=x]", or "algo" when there is one mode.
    return {r.algorithm.partition("mode=")[2].rstrip("]") or modes[0]: r for r in found}


def job_dir(tmp_path: Path, result) -> Path:
    (folder,) = (tmp_path / "out" / "experiment").glob(f"*/{result.job_name}")
    return folder


def test_process_job_gets_the_contract_env_data_and_cwd(tmp_path):
    result = run(tmp_path, ["env"], algo_extra="  $sagemaker.Environment: {MY_FLAG: 'on'}")["env"]
    assert result.status == "Completed", result.failure_reason
    folder = job_dir(tmp_path, result)
    seen = json.loads((folder / "output" / "data" / "env.json").read_text())
    env = seen["env"]
    assert seen["cwd"] == str(tmp_path) and seen["argv"] == ["job.py", "train"]
    assert env["SAGEMAKER_BASE_DIR"] == str(folder)
    assert env["SM_CHANNEL_TRAIN"] == str(folder / "input" / "data" / "train")
    assert env["SM_MODEL_DIR"] == str(folder / "model")
    assert env["SM_HP_MODE"] == "env" and json.loads(env["SM_HPS"]) == {"mode": "env"}
    assert env["SM_NUM_CPUS"] == str(min(2, len(os.sched_getaffinity(0))))  # ml.m5.large, capped by this machine
    assert env["TRAINING_JOB_NAME"] == result.job_name and env["MY_FLAG"] == "on"
    assert seen["train"] == ["series.json"] and '"split": "test"' in seen["test"]  # plain path and file:// URI
    assert (folder / "input" / "data" / "train" / "series.json").resolve() == tmp_path / "data" / "train" / "series.json"
    with tarfile.open(folder / "model.tar.gz") as archive:
        assert archive.getnames() == ["weights.txt"]
    assert result.model_artifacts == (folder / "model.tar.gz").as_uri()
    assert (folder / "logs.txt").read_text().splitlines() == ["loss=0.9", "loss=0.5 MASE=0.25", "loss=oops"]
    assert result.metrics == {"MASE": 0.25, "loss": 0.5}


def test_failures_are_reported_and_other_jobs_continue(tmp_path):
    found = run(tmp_path, ["exit", "failure", "env"], max_parallel=3)
    assert found["env"].status == "Completed"
    assert found["exit"].status == "Failed"
    assert found["exit"].failure_reason.startswith("AlgorithmError: exited with code 3; last log lines:")
    assert "something broke" in found["exit"].failure_reason
    assert found["failure"].status == "Failed"
    assert found["failure"].failure_reason == "AlgorithmError: bad input: column x is missing"
    assert found["failure"].metrics == {"MASE": 0.25, "loss": 0.5}  # metrics of failed jobs are kept, as SageMaker does
    assert not (job_dir(tmp_path, found["exit"]) / "model.tar.gz").exists()


def test_max_runtime_stops_jobs_and_kills_those_ignoring_sigterm(tmp_path, monkeypatch):
    monkeypatch.setattr(executor, "KILL_GRACE_S", 0.5)
    started = time.monotonic()
    found = run(tmp_path, ["sleep", "stubborn"], algo_extra="  $sagemaker.StoppingCondition.MaxRuntimeInSeconds: 1", max_parallel=2)
    elapsed = time.monotonic() - started
    for result in found.values():
        assert result.status == "Stopped"
        assert result.failure_reason == "MaxRuntimeExceeded: the job ran longer than MaxRuntimeInSeconds (1 s)"
    assert elapsed < 5, elapsed  # 1 s limit + 0.5 s grace, not the jobs' 60 s sleep
    assert "ignoring SIGTERM" in (job_dir(tmp_path, found["stubborn"]) / "logs.txt").read_text()


def test_result_files_match_what_local_run_returns(tmp_path):
    found = run(tmp_path, ["env", "exit"])
    (results_dir,) = (tmp_path / "out" / "experiment" / "_results").iterdir()
    assert (results_dir / "manifest.json").is_file()
    assert sorted(json.loads((results_dir / "manifest.json").read_text())["ResultFiles"]) == ["FAILED", "PENDING", "SUCCEEDED"]
    assert results.read_local(tmp_path / "out") == sorted(found.values(), key=lambda r: (r.algorithm, r.dataset, r.run, r.job_name))


def test_a_command_that_does_not_exist_fails_its_job(tmp_path):
    path = write_project(tmp_path, ["env"])
    path.write_text(path.read_text().replace("local:python job.py", "local:./no-such-program"))
    config = load_config(path)
    (result,) = local_run(config.algo * config.ds, output_dir="out", project_root=tmp_path, quiet=True)
    assert result.status == "Failed" and "cannot start ./no-such-program" in result.failure_reason


# ------------------------------------------------------------------ s3 data


def test_s3_prefixes_map_to_the_longest_matching_folder():
    mapping = {"s3://b/data": Path("/m/data"), "s3://b/data/special": Path("/m/special"), "s3://b/dat": Path("/m/dat")}
    assert map_s3("s3://b/data/x/train/", mapping) == ("s3://b/data", Path("/m/data/x/train"))
    assert map_s3("s3://b/data/special/train", mapping) == ("s3://b/data/special", Path("/m/special/train"))
    assert map_s3("s3://b/data", mapping) == ("s3://b/data", Path("/m/data"))
    assert map_s3("s3://b/database/x", mapping) is None  # whole path segments only
    assert map_s3("s3://other/data/x", mapping) is None


def test_mapped_s3_channels_run_from_local_folders(tmp_path):
    found = run(
        tmp_path, ["env"], path="{train: 's3://bucket/mirror/train/', test: 's3://bucket/mirror/test'}",
        data={"s3://bucket/mirror/": "data"},
    )
    assert found["env"].status == "Completed", found["env"].failure_reason


def _no_credentials(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_unmapped_s3_without_credentials_is_one_clear_error_before_anything_runs(tmp_path, monkeypatch):
    _no_credentials(monkeypatch, tmp_path)
    with pytest.raises(LocalModeError) as info:
        run(tmp_path, ["env", "exit"], path="{train: 's3://bucket/ds/train/', test: data/test}")
    (line,) = info.value.problems  # one line for the URI, not one per job
    assert line.startswith("channel 'train' of job algo-")
    assert "s3://bucket/ds/train/ is not mapped by local.data in runtool.yml and no AWS credentials were found" in line
    assert "add 's3://bucket/ds/train: <local folder>' under local.data" in line
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("logs.txt"))


def test_unmapped_s3_is_downloaded_when_credentials_exist(tmp_path):
    from moto import mock_aws  # in-process: no network
    import boto3

    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket="bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_object(Bucket="bucket", Key="ds/train/series.json", Body=b'{"target": [1]}\n')
        s3.put_object(Bucket="bucket", Key="ds/train2/ignored.json", Body=b"{}")
        found = run(tmp_path, ["env"], path="{train: 's3://bucket/ds/train', test: data/test}")
    result = found["env"]
    assert result.status == "Completed", result.failure_reason
    (cache,) = (tmp_path / "out" / "experiment").glob("*/_s3/bucket/ds")
    assert sorted(p.name for p in cache.iterdir()) == ["train"]  # train2 is another prefix's


def test_missing_local_folder_is_reported(tmp_path):
    with pytest.raises(LocalModeError, match=r"channel 'train' of job .*: .*/nowhere: no such file or folder"):
        run(tmp_path, ["env"], path=f"{{train: '{(tmp_path / 'nowhere').as_uri()}', test: data/test}}")


def test_plan_with_sagemaker_only_request_fields_runs_too(tmp_path):
    """A plan made for the cloud (s3:// channels, a real image mapped locally) runs unchanged."""
    from runtool_iac.plan import build_plan

    path = write_project(tmp_path, ["env"], path="{train: 's3://bucket/m/train/', test: 's3://bucket/m/test/'}")
    path.write_text(path.read_text().replace('"local:python job.py"', "algo:1"))
    config = load_config(path)
    plan = build_plan(config.algo * config.ds, experiment_name="cloud")
    (result,) = local_run(plan, output_dir="out", project_root=tmp_path, images={"algo:1": f"{sys.executable} job.py"},
                          data={"s3://bucket/m": "data"}, quiet=True)
    assert result.status == "Completed", result.failure_reason
    assert (tmp_path / "out" / "cloud" / "_results").is_dir()


FAKE_ENGINE = """#!/bin/sh
echo "$@" >> "$(dirname "$0")/calls.txt"
case "$1" in
  info) exit 0 ;;
  run) echo "container up"; exec sleep 30 ;;
esac
"""


def test_container_jobs_are_removed_when_stopped(tmp_path, monkeypatch):
    """With an engine, a timed-out job's container is removed (`rm -f <name>`), not just its client killed."""
    from runtool_iac.local import runtimes

    engine = tmp_path / "bin" / "docker"
    engine.parent.mkdir()
    engine.write_text(FAKE_ENGINE)
    engine.chmod(0o755)
    monkeypatch.setattr(runtimes, "find_engine", lambda: str(engine))
    path = write_project(tmp_path, ["env"], algo_extra="  $sagemaker.StoppingCondition.MaxRuntimeInSeconds: 1")
    path.write_text(path.read_text().replace('"local:python job.py"', "algo:1"))
    config = load_config(path)
    (result,) = local_run(config.algo * config.ds, output_dir="out", project_root=tmp_path, quiet=True)
    assert result.status == "Stopped" and result.failure_reason.startswith("MaxRuntimeExceeded")
    (jobs_dir,) = [p for p in (tmp_path / "out" / "experiment").iterdir() if p.name != "_results"]
    container = f"runtool-{jobs_dir.name}-{result.job_name}"
    calls = (engine.parent / "calls.txt").read_text().splitlines()
    assert calls[0] == "info"
    assert calls[1].startswith(f"run --rm --name {container} -v {jobs_dir / result.job_name}:/opt/ml -v ")
    assert calls[1].endswith(f"-e TRAINING_JOB_NAME={result.job_name} algo:1 train")
    assert calls[2] == f"rm -f {container}"
    assert (jobs_dir / result.job_name / "logs.txt").read_text() == "container up\n"
    assert list((jobs_dir / result.job_name / "input" / "data" / "train").iterdir()) == []  # mounted, not linked
