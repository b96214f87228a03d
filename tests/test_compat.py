"""A config and a script written for the original runtool (DESIGN.md §1) work as written."""

import inspect

import boto3

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
    # `jobs = tool.run(my_experiment, runs=5)` keeps its shape (it needs a deployment: tests/test_docs.py's quickstart).
    assert list(inspect.signature(tool.run).parameters)[:2] == ["experiment", "runs"]


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
