"""A config and a script written for the original runtool (DESIGN.md §1) work as written."""

import inspect
import os
import sys

import boto3
import pytest

ORIGINAL_CONFIG = """\
my_dataset:
    meta: {freq: D, prediction_length: 7}
    path:
        train: s3://my_bucket/datasets/my_dataset/train/data.json
        test: s3://my_bucket/datasets/my_dataset/test/data.json
my_algorithm:
    image: 0123456789012.dkr.ecr.eu-west-1.amazonaws.com/my_repo:my_tag
    instance: ml.m5.xlarge
    hyperparameters:
        prediction_length: {$eval: $trial.dataset.meta.prediction_length}   # 7
        freq: {$eval: $trial.dataset.meta.freq}                             # "D"
"""


def test_original_config_and_script_work_unchanged(tmp_path, monkeypatch, capsys):
    (tmp_path / "config.yml").write_text(ORIGINAL_CONFIG)
    monkeypatch.chdir(tmp_path)

    import runtool_iac as runtool

    config = runtool.load_config("config.yml")
    my_experiment = config.my_algorithm * config.my_dataset   # kinds inferred from shape
    tool = runtool.Client(role_arn="arn:aws:iam::0123456789:role/...", bucket="my_output_bucket", session=boto3.Session())
    requests = tool.dry_run(my_experiment)

    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split() == ["job_name", "run", "algorithm", "dataset", "instance", "image", "hyperparameters", "output_path", "tags"]
    assert "total number of jobs: 1" in printed
    (request,) = requests
    assert request["HyperParameters"] == {"prediction_length": "7", "freq": "D"}
    assert request["RoleArn"] == "arn:aws:iam::0123456789:role/..."
    assert request["OutputDataConfig"]["S3OutputPath"].startswith("s3://my_output_bucket/")
    assert [c["DataSource"]["S3DataSource"]["S3Uri"] for c in request["InputDataConfig"]] == [
        "s3://my_bucket/datasets/my_dataset/train/data.json",
        "s3://my_bucket/datasets/my_dataset/test/data.json",
    ]
    # `jobs = tool.run(my_experiment, runs=5)` keeps the original's parameters and order (the run itself
    # needs a deployment: tests/test_runner_e2e.py runs Client.run positionally against moto).
    original = ["experiment", "experiment_name", "runs", "job_name_expression", "tags"]
    assert list(inspect.signature(tool.run).parameters)[:5] == original
    assert list(inspect.signature(tool.dry_run).parameters)[:5] == original


def test_runs_are_numbered_from_zero_as_in_the_original():
    import runtool_iac as runtool

    config = runtool.loads(ORIGINAL_CONFIG)
    requests = runtool.Client().dry_run(config.my_algorithm * config.my_dataset, runs=3, file=open("/dev/null", "w"))
    run_numbers = [{t["Key"]: t["Value"] for t in r["Tags"]}["run_number"] for r in requests]
    assert run_numbers == ["0", "1", "2"]
    assert [r["TrainingJobName"][-3:] for r in requests] == ["-r0", "-r1", "-r2"]


def test_uid_and_plans_are_the_same_on_every_load():
    import runtool_iac as runtool

    text = ORIGINAL_CONFIG.replace("# \"D\"", "\n        id: {$eval: uid}")
    first, second = (runtool.loads(text) for _ in range(2))
    planned = runtool.plan(first.my_algorithm * first.my_dataset)
    assert planned == runtool.plan(second.my_algorithm * second.my_dataset)
    assert planned[0]["HyperParameters"]["id"] == planned[0]["TrainingJobName"].split("-")[-2]


# The original's README quickstart and runnable example, exactly as written but for the import's first word
# (`import runtool.runtool as runtool` there): role=, a config of algorithm/dataset lists, positional arguments.
ORIGINAL_EXAMPLE_CONFIG = """\
base_algorithm:
    image: 012345678901.dkr.ecr.eu-west-1.amazonaws.com/gluonts/cpu:latest
    hyperparameters:
        prediction_length: 7
        freq: D
my_algo:
    $from: base_algorithm
    instance: ml.m5.xlarge
    hyperparameters:
        epochs: {$each: [10, 20]}
algorithms:
    - $ref: my_algo
constant:
    path:
        train: s3://gluonts-run-tool/gluon_ts_datasets/constant/train/data.json
        test: s3://gluonts-run-tool/gluon_ts_datasets/constant/test/data.json
placeholder:
    path:
        train: s3://gluonts-run-tool/gluon_ts_datasets/constant/train/data.json
        test: s3://gluonts-run-tool/gluon_ts_datasets/constant/test/data.json
datasets:
    - $ref: constant
    - $ref: placeholder
"""

ORIGINAL_EXAMPLE_SCRIPT = """\
import boto3
import runtool_iac.runtool as runtool

# load config file
config = runtool.load_config("minimum.yml")

# create an experiment
my_experiment = config.algorithms * config.datasets

# initialize runtool
tool = runtool.Client(
    role="arn:aws:iam::012345678901:role/service-role/AmazonSageMaker-ExecutionRole",
    bucket="my_bucket",
    session=boto3.Session(),
)

# check what jobs are to be created
tool.dry_run(my_experiment)
tool.dry_run(my_experiment, "my-experiment", 2)
tool.dry_run(my_experiment, job_name_expression='"my-name"')

# dispatch the jobs
# jobs = tool.run(my_experiment)  # blocking call
"""


def test_a_script_written_for_the_original_runs_with_only_its_import_changed(tmp_path):
    import subprocess

    (tmp_path / "minimum.yml").write_text(ORIGINAL_EXAMPLE_CONFIG)
    (tmp_path / "run.py").write_text(ORIGINAL_EXAMPLE_SCRIPT)
    env = {**os.environ, "AWS_DEFAULT_REGION": "eu-west-1"}
    done = subprocess.run([sys.executable, "run.py"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    totals = [line for line in done.stdout.splitlines() if line.startswith("total number of jobs")]
    # 2 epochs variants x 2 datasets (identical content, still two nodes), then with runs=2, then renamed.
    assert totals == ["total number of jobs: 4", "total number of jobs: 8", "total number of jobs: 4"]
    assert "s3://my_bucket/my-experiment/my-experiment_" in done.stdout
    assert "my-name-" in done.stdout and "arn:aws:iam" not in done.stderr


def test_client_takes_role_as_the_original_and_role_arn_too():
    import runtool_iac as runtool

    role = "arn:aws:iam::012345678901:role/r"
    assert runtool.Client(role=role).role_arn == runtool.Client(role_arn=role).role == role
    assert runtool.Client(role, "my-bucket").bucket == "my-bucket"  # the original's positional order
    assert runtool.Client(role_arn="", bucket="").bucket == runtool.PLACEHOLDER_BUCKET  # its local-mode examples
    with pytest.raises(TypeError, match="differ"):
        runtool.Client(role=role, role_arn=role + "x")


def test_dry_run_takes_the_original_positional_order_and_job_name_expression(capsys):
    import runtool_iac as runtool

    config = runtool.loads(ORIGINAL_CONFIG)
    experiment = config.my_algorithm * config.my_dataset
    requests = runtool.Client().dry_run(experiment, "my-experiment", 2)
    assert len(requests) == 2
    assert {t["Key"]: t["Value"] for t in requests[0]["Tags"]}["experiment_name"] == "my-experiment"
    named = runtool.Client().dry_run(experiment, job_name_expression='"my-name"', runs=2)
    assert [r["TrainingJobName"] for r in named] == ["my-name-r0", "my-name-r1"]
    # Evaluated per job with the original's names: $trial (or __trial__), uid, run, run_configuration.
    per_run = runtool.Client().dry_run(
        experiment, "e", 2, "'{}-{}-{}'.format(__trial__.dataset.meta.freq, $trial.dataset.meta.prediction_length, run)"
    )
    assert [r["TrainingJobName"] for r in per_run] == ["D-7-0-r0", "D-7-1-r1"]
    with_uid = runtool.plan(experiment, job_name_expression="'x-' + uid + '-' + run_configuration")
    assert with_uid[0]["TrainingJobName"].startswith("x-") and "experiment-" in with_uid[0]["TrainingJobName"]
    with pytest.raises(ValueError, match="job_name_expression"):
        runtool.plan(experiment, job_name_expression="__import__('os')")


def test_module_level_names_of_the_original():
    import runtool_iac
    import runtool_iac.runtool as runtool

    for name in ("Client", "load_config", "loads", "transform_config", "Algorithm", "Experiment"):
        assert getattr(runtool, name) is getattr(runtool_iac, name)
    assert runtool_iac.runtool.transform_config is runtool.transform_config  # `runtool.runtool.transform_config(...)`
    config = runtool.transform_config(
        {"algo": {"image": "my-image", "instance": "ml.m5.xlarge"}, "ds": {"path": {"train": "s3://my-bucket/x/"}}}
    )
    assert len(runtool_iac.plan(config.algo * config.ds)) == 1
    with pytest.raises(TypeError):
        runtool.transform_config(["not", "a", "mapping"])
