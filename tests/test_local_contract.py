"""Local mode's pure parts: the container contract, resources, runtime choice, docker argv, metrics, result files."""

import json
import subprocess
from pathlib import Path

import pytest

from runtool_iac import results
from runtool_iac.local import contract, report, resources, runtimes
from runtool_iac.local.contract import JobPaths
from runtool_iac.local.errors import LocalModeError
from runtool_iac.local.executor import Outcome
from runtool_iac.local.metrics import MetricScraper
from runtool_iac.local.resources import Limits
from runtool_iac.plan import Job

REQUEST = {
    "TrainingJobName": "algo-ds-12345678-r0",
    "AlgorithmSpecification": {
        "TrainingImage": "local:python train.py",
        "TrainingInputMode": "File",
        "MetricDefinitions": [{"Name": "MASE", "Regex": "MASE=([0-9.]+)"}],
    },
    "HyperParameters": {"epochs": "3", "lr": "0.5", "name": "deep-ar", "use-gpu": "true"},
    "InputDataConfig": [
        {"ChannelName": "train", "ContentType": "application/jsonlines", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/train/"}}},
        {"ChannelName": "test", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/test/", "S3DataDistributionType": "ShardedByS3Key"}}},
    ],
    "OutputDataConfig": {"S3OutputPath": "s3://out/exp/exp_12345678"},
    "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.c5.2xlarge", "VolumeSizeInGB": 32},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    "Environment": {"MY_FLAG": "on"},
    "Tags": [],
}
JOB = Job(request=REQUEST, algorithm="algo", dataset="ds", run=0, runs=1, run_configuration_id="exp_12345678", metrics=("MASE",))


def test_config_files_follow_sagemaker_field_by_field(tmp_path):
    paths = JobPaths(tmp_path / "job")
    contract.create(paths, REQUEST)
    config = paths.root / "input" / "config"
    assert json.loads((config / "hyperparameters.json").read_text()) == REQUEST["HyperParameters"]
    assert json.loads((config / "inputdataconfig.json").read_text()) == {
        "train": {"ContentType": "application/jsonlines", "TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"},
        "test": {"TrainingInputMode": "File", "S3DistributionType": "ShardedByS3Key", "RecordWrapperType": "None"},
    }
    assert json.loads((config / "resourceconfig.json").read_text()) == {
        "current_host": "algo-1",
        "current_instance_type": "ml.c5.2xlarge",
        "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1"],
        "instance_groups": [{"instance_group_name": "homogeneousCluster", "instance_type": "ml.c5.2xlarge", "hosts": ["algo-1"]}],
        "network_interface_name": "eth0",
    }
    for folder in ("input/data/train", "input/data/test", "model", "output/data"):
        assert (paths.root / folder).is_dir(), folder
    assert not (paths.root / "output" / "failure").exists()  # the algorithm's to write


def test_toolkit_environment_points_into_the_job_folder(tmp_path):
    paths = JobPaths(tmp_path)
    env = contract.toolkit_environment(paths, REQUEST, num_cpus=3)
    assert env["SAGEMAKER_BASE_DIR"] == str(tmp_path)
    assert env["SM_MODEL_DIR"] == str(tmp_path / "model")
    assert env["SM_OUTPUT_DIR"] == str(tmp_path / "output")
    assert env["SM_OUTPUT_DATA_DIR"] == str(tmp_path / "output" / "data")
    assert env["SM_INPUT_DIR"] == str(tmp_path / "input")
    assert env["SM_INPUT_CONFIG_DIR"] == str(tmp_path / "input" / "config")
    assert json.loads(env["SM_CHANNELS"]) == ["test", "train"]
    assert env["SM_CHANNEL_TRAIN"] == str(tmp_path / "input" / "data" / "train")
    assert env["SM_CHANNEL_TEST"] == str(tmp_path / "input" / "data" / "test")
    assert json.loads(env["SM_HPS"]) == {"epochs": 3, "lr": 0.5, "name": "deep-ar", "use-gpu": True}
    assert env["SM_HP_EPOCHS"] == "3" and env["SM_HP_LR"] == "0.5" and env["SM_HP_NAME"] == "deep-ar"
    assert env["SM_HP_USE-GPU"] == "true"  # upper-cased, otherwise kept, as the toolkit does
    assert json.loads(env["SM_HOSTS"]) == ["algo-1"] and env["SM_CURRENT_HOST"] == "algo-1"
    assert env["SM_NUM_CPUS"] == "3" and env["SM_NUM_GPUS"] == "0"
    training = json.loads(env["SM_TRAINING_ENV"])
    assert training["channel_input_dirs"]["train"] == env["SM_CHANNEL_TRAIN"]
    assert training["hyperparameters"]["lr"] == 0.5
    assert training["job_name"] == REQUEST["TrainingJobName"]
    assert training["resource_config"] == json.loads(env["SM_RESOURCE_CONFIG"])
    assert contract.request_environment(REQUEST) == {"TRAINING_JOB_NAME": REQUEST["TrainingJobName"], "MY_FLAG": "on"}


@pytest.mark.parametrize(
    "instance, expected",
    [
        ("ml.m5.large", Limits(2, 8 * 1024)),
        ("ml.m5.4xlarge", Limits(16, 64 * 1024)),
        ("ml.c5.xlarge", Limits(4, 8 * 1024)),
        ("ml.c4.8xlarge", Limits(36, 60 * 1024)),
        ("ml.t3.medium", Limits(2, 4 * 1024)),
        ("ml.p3.2xlarge", Limits(8, 61 * 1024)),
        ("local", None),
    ],
)
def test_instance_sizes(instance, expected):
    assert resources.instance_size(instance) == expected


def test_job_limits_are_capped_by_the_machine():
    big, small = Limits(64, 512 * 1024), Limits(2, 4096)
    assert resources.job_limits("ml.m5.xlarge", big) == Limits(4, 16 * 1024)
    assert resources.job_limits("ml.m5.xlarge", small) == small
    assert resources.job_limits("ml.unknown", small) == small
    host = resources.machine()
    assert host.cpus >= 1 and host.memory_mib > 256


@pytest.mark.parametrize(
    "value, is_image",
    [
        ("python:3.11", True),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/algo:1.0", True),
        ("my.registry.io/team/algo", True),
        ("localhost:5000/algo", True),
        ("algo@sha256:" + "a" * 64, True),
        ("python train.py", False),
        ("./train.sh", False),
        ("bin/train", False),
        ("train.py", False),
        ("ubuntu", False),
    ],
)
def test_image_reference_rule(value, is_image):
    assert runtimes.is_image_reference(value) is is_image


def test_runtime_selection(tmp_path):
    images = {"cloud:1": "python train.py", "other:2": "python:3.11", "forced:3": "local:python:3.11"}
    assert runtimes.select("local:./run.sh --fast", {}, tmp_path, None) == runtimes.ProcessRuntime("./run.sh --fast", tmp_path)
    assert runtimes.select("cloud:1", images, tmp_path, None) == runtimes.ProcessRuntime("python train.py", tmp_path)
    assert runtimes.select("forced:3", images, tmp_path, None) == runtimes.ProcessRuntime("python:3.11", tmp_path)
    assert runtimes.select("other:2", images, tmp_path, "/usr/bin/docker") == runtimes.ContainerRuntime("/usr/bin/docker", "python:3.11")
    assert runtimes.select("unmapped:1", images, tmp_path, "/usr/bin/podman") == runtimes.ContainerRuntime("/usr/bin/podman", "unmapped:1")
    with pytest.raises(LocalModeError, match="image unmapped:1 needs Docker or Podman.*local.images"):
        runtimes.select("unmapped:1", images, tmp_path, None)


def test_process_command_uses_this_interpreter_for_python(tmp_path):
    import sys

    spec = launch_spec(tmp_path)
    assert runtimes.ProcessRuntime("python a.py --x 'y z'", tmp_path).argv(spec) == [sys.executable, "a.py", "--x", "y z", "train"]
    assert runtimes.ProcessRuntime("./run.sh", tmp_path).argv(spec) == ["./run.sh", "train"]


def launch_spec(tmp_path: Path) -> runtimes.LaunchSpec:
    train = tmp_path / "data" / "train"
    train.mkdir(parents=True)
    test_file = tmp_path / "data" / "test.json"
    test_file.write_text("{}\n")
    return runtimes.LaunchSpec(
        paths=JobPaths(tmp_path / "run" / REQUEST["TrainingJobName"]),
        request=REQUEST,
        sources={"train": train, "test": test_file},
        limits=Limits(2, 8192),
        container_name="runtool-20240101-000000-000000-algo-ds-12345678-r0",
    )


def test_docker_command_line(tmp_path):
    spec = launch_spec(tmp_path)
    root = spec.paths.root
    assert runtimes.container_command("docker", "algo:1", spec) == [
        "docker", "run", "--rm", "--name", "runtool-20240101-000000-000000-algo-ds-12345678-r0",
        "-v", f"{root}:/opt/ml",
        "-v", f"{tmp_path / 'data' / 'train'}:/opt/ml/input/data/train:ro",
        "-v", f"{tmp_path / 'data' / 'test.json'}:/opt/ml/input/data/test/test.json:ro",
        "--cpus", "2", "--memory", "8192m",
        "-e", "TRAINING_JOB_NAME=algo-ds-12345678-r0", "-e", "MY_FLAG=on",
        "algo:1", "train",
    ]
    assert runtimes.ContainerRuntime("docker", "algo:1").links_data is False


def test_engine_check_reports_an_unreachable_daemon(tmp_path):
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(LocalModeError, match=r"`docker info` failed \(Cannot connect to the Docker daemon.*local.images"):
        runtimes.check_engine(str(fake))


def _engine_works() -> bool:
    engine = runtimes.find_engine()
    if engine is None:
        return False
    try:
        return subprocess.run([engine, "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not _engine_works(), reason="no working Docker/Podman engine (`docker info` fails) on this machine")
def test_container_command_runs_for_real(tmp_path):
    spec = launch_spec(tmp_path)
    contract.create(spec.paths, REQUEST)
    argv = runtimes.container_command(runtimes.find_engine(), "busybox:1.36", spec)
    assert argv[-2:] == ["busybox:1.36", "train"]
    # busybox has no `train`: the same command line, with a shell line in its place.
    line = "cat /opt/ml/input/config/resourceconfig.json; ls /opt/ml/input/data/train /opt/ml/input/data/test; echo $TRAINING_JOB_NAME"
    done = subprocess.run(argv[:-1] + ["sh", "-c", line], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "algo-1" in done.stdout and "test.json" in done.stdout and REQUEST["TrainingJobName"] in done.stdout


def test_metric_scraping_last_match_wins_and_ignores_non_numbers():
    scraper = MetricScraper(
        [{"Name": "loss", "Regex": r"loss=(\S+)"}, {"Name": "MASE", "Regex": r"MASE=([-+0-9.eE]+|nan)"}, {"Name": "epoch", "Regex": r"epoch \d+"}]
    )
    for line in ["epoch 1 loss=0.9", "loss=0.5 loss=0.4", "loss=oops", "MASE=1e-2", "nothing here", "MASE=nan"]:
        scraper.feed(line)
    assert scraper.values["loss"] == 0.4
    assert scraper.values["MASE"] != scraper.values["MASE"]  # nan: the regex allows it, pivots skip it
    assert "epoch" not in scraper.values  # no group and no number
    assert [m["MetricName"] for m in scraper.final_metric_data()] == ["loss", "MASE"]


def test_result_files_round_trip_through_read_local_and_pivot(tmp_path):
    jobs = {name: Job({**REQUEST, "TrainingJobName": name}, alg, ds, run, 2, "exp_1", ("MASE",)) for name, alg, ds, run in [
        ("a-x-r0", "a", "x", 0), ("a-x-r1", "a", "x", 1), ("b-x-r0", "b", "x", 0), ("b-x-r1", "b", "x", 1),
        ("a-y-r0", "a", "y", 0), ("a-y-r1", "a", "y", 1),
    ]}
    mase = lambda v: [{"MetricName": "MASE", "Value": v}]  # noqa: E731
    outcomes = {
        "a-x-r0": Outcome("Completed", "", "Completed", mase(0.5), 1.2, "file:///m/a-x-r0/model.tar.gz"),
        "a-x-r1": Outcome("Completed", "", "Completed", mase(0.7), 0.4, "file:///m/a-x-r1/model.tar.gz"),
        "b-x-r0": Outcome("Failed", "AlgorithmError: bad input", "Failed", mase(9.0), 2.0),
        "b-x-r1": Outcome("Stopped", "MaxRuntimeExceeded: too long", "MaxRuntimeExceeded", [], 5.0),
        "a-y-r0": Outcome("Stopped", "Stopped: the run was interrupted while the job ran", "Stopped", [], 3.0),
        "a-y-r1": Outcome("NotStarted", "interrupted before the job started"),
    }
    entries = [report.entry(jobs[name], outcome) for name, outcome in outcomes.items()]
    failed = entries[2]
    assert failed["Status"] == "FAILED" and json.loads(failed["Cause"])["error"] == "States.TaskFailed"
    cause = json.loads(json.loads(failed["Cause"])["cause"])
    assert cause["TrainingJobStatus"] == "Failed" and cause["FailureReason"] == "AlgorithmError: bad input"
    results.write_result_files(tmp_path / "exp" / "_results" / "run1", entries)

    read = {r.job_name: r for r in results.read_local(tmp_path / "exp" / "_results")}
    assert {name: r.status for name, r in read.items()} == {
        "a-x-r0": "Completed", "a-x-r1": "Completed", "b-x-r0": "Failed", "b-x-r1": "Stopped", "a-y-r0": "Stopped", "a-y-r1": "Aborted",
    }
    assert read["a-x-r0"].metrics == {"MASE": 0.5} and read["a-x-r0"].model_artifacts == "file:///m/a-x-r0/model.tar.gz"
    assert read["a-x-r0"].training_seconds == 2 and read["a-x-r1"].billable_seconds == 1
    assert read["b-x-r0"].failure_reason == "AlgorithmError: bad input"
    assert read["b-x-r1"].failure_reason.startswith("MaxRuntimeExceeded")
    assert read["a-y-r1"].failure_reason == "Aborted: interrupted before the job started"
    assert read["a-x-r0"].algorithm == "a" and read["a-x-r0"].dataset == "x" and read["a-x-r1"].run == 1

    pivot = results.pivot(list(read.values()), "MASE")
    assert pivot.cells == {("a", "x"): [0.5, 0.7]}  # only completed runs count
    assert pivot.cell_text("a", "x") == "0.600 ± 0.141 (n=2)" and pivot.cell_text("b", "x") == "-"
