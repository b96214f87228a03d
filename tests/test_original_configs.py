"""Configs written for the original runtool (issue 14's findings), each reproduced as a test.

`ds` is `{path: {train: s3://my-bucket/train/}}` throughout, as in the issue.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import runtool_iac as runtool
from runtool_iac import sagemaker
from runtool_iac.cli import main
from runtool_iac.errors import ConfigError
from runtool_iac.plan import PLAN_NAME_MAX, build_plan

from conftest import load, problems

DS = "ds: {path: {train: s3://my-bucket/train/}}\n"
ALGO = "algo: {image: my-image, instance: ml.m5.xlarge}\n"


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


# --------------------------------------------------------------- instance: local


def test_instance_local_validates_and_runs_in_local_mode_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # process jobs run in the project folder
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "data.json").write_text("{}\n")
    (tmp_path / "job.py").write_text(
        "import os, pathlib\npathlib.Path(os.environ['SM_MODEL_DIR'], 'model.txt').write_text('ok')\nprint('MASE=0.5')\n"
    )
    config = tmp_path / "config.yml"
    config.write_text(
        'algo: {image: "local:python job.py", instance: local, metrics: {MASE: "MASE=([0-9.]+)"}}\n'
        "ds: {path: {train: train/}}\n"
        "cloud_ds: {path: {train: s3://my-bucket/train/}}\n"
    )
    assert cli("validate", str(config)).exit_code == 0
    planned = cli("plan", str(config), "-e", "algo * cloud_ds")
    assert planned.exit_code == 1
    assert f"{config}:1:48: algo.instance: instance 'local' runs only in local mode: `runtool-iac local`" in planned.output
    ran = cli("local", str(config), "-e", "algo * ds", "--output-dir", str(tmp_path / "out"), "--quiet")
    assert ran.exit_code == 0, ran.output
    assert "Completed" in ran.output and "0.5" in ran.output
    assert list((tmp_path / "out").rglob("model.tar.gz"))


def test_a_project_experiment_of_local_algorithms_validates_as_local_mode_runs_it(tmp_path):
    (tmp_path / "c.yml").write_text(
        'algo: {image: "local:python job.py", instance: local}\ncloud: {image: my-image, instance: ml.m5.large}\n'
        "ds: {path: {train: s3://my-bucket/train/}}\n"
    )
    project = tmp_path / "runtool.yml"
    project.write_text("project: p\nconfigs: [c.yml]\nexperiments:\n  here: {experiment: algo * ds}\n  there: {experiment: cloud * ds}\n")
    result = cli("validate", "--project", str(project))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "ok: runtool.yml, 1 config file(s), 2 experiment(s), 2 jobs"
    planned = cli("plan", "here", "--project", str(project))  # for SageMaker: refused, naming local mode
    assert planned.exit_code == 1 and "runs only in local mode: `runtool-iac local`" in planned.output


# --------------------------------------------------------------- kinds


def test_a_partial_from_template_is_a_plain_mapping():
    config = load("base: {image: my-image}\nalgo: {$from: base, instance: ml.m5.xlarge}\n" + DS)
    assert [r["AlgorithmSpecification"]["TrainingImage"] for r in runtool.plan(config.algo * config.ds)] == ["my-image"]


def test_a_half_written_algorithm_used_in_an_experiment_says_what_is_missing():
    config = load("base: {instance: ml.m5.xlarge}\n" + DS)
    with pytest.raises(ConfigError, match=r"test.yml:1:7: not an algorithm: it has 'instance' but no 'image'"):
        config.base * config.ds
    result = cli("plan", "/dev/null", "-e", "x")  # (an empty file has no nodes)
    assert result.exit_code == 1


def test_a_half_written_algorithm_in_an_experiment_expression_is_located(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("base: {image: my-image}\n" + DS)
    result = cli("plan", str(path), "-e", "base * ds")
    assert result.exit_code == 1
    assert "'base' is a plain value, not an algorithm, dataset or experiment: it has 'image' but no 'instance'" in result.output
    assert f"({path}:1:1)" in result.output


# --------------------------------------------------------------- no silent merging


PLACEHOLDERS = ALGO + "a: {path: {train: s3://b/x/}}\nb: {path: {train: s3://b/x/}}\ndatasets: [{$ref: a}, {$ref: b}]\n"


def test_identical_placeholder_datasets_each_give_their_jobs():
    config = load(PLACEHOLDERS)
    planned = build_plan(config.algo * config.datasets, runs=3)
    assert len(planned) == 1 * 2 * 3 and planned.duplicate_trials == 0
    assert len({job.name for job in planned}) == 6
    assert [job.dataset for job in planned if job.run == 0] == ["a", "b"]


def test_the_same_node_listed_twice_is_one_trial_and_every_format_says_so(tmp_path):
    config = load(PLACEHOLDERS)
    planned = build_plan(config.algo * config.a + config.algo * config.a)
    assert len(planned) == 1 and planned.duplicate_trials == 1
    path = tmp_path / "c.yml"
    path.write_text(PLACEHOLDERS)
    for fmt in ("table", "markdown", "json"):
        result = CliRunner().invoke(main, ["plan", str(path), "-e", "algo * a + algo * a", "--format", fmt])
        assert result.exit_code == 0
        assert "1 duplicate trial" in (result.stderr if fmt == "json" else result.stdout), fmt
    result = CliRunner().invoke(main, ["plan", str(path), "-e", "algo * a + algo * a", "--format", "json"])
    assert len(json.loads(result.stdout)) == 1  # stdout stays pure JSON


# --------------------------------------------------------------- $sagemaker


def test_sagemaker_training_job_name_and_tags_are_not_dropped():
    config = load(
        "algo: {image: my-image, instance: ml.m5.xlarge, $sagemaker.TrainingJobName: my-name,"
        " $sagemaker.Tags: [{Key: owner, Value: me}]}\n" + DS
    )
    requests = runtool.plan(config.algo * config.ds, runs=2, tags={"team": "x"})
    assert [r["TrainingJobName"] for r in requests] == ["my-name-r0", "my-name-r1"]
    tags = {t["Key"]: t["Value"] for t in requests[0]["Tags"]}
    assert tags["owner"] == "me" and tags["team"] == "x" and tags["run_number"] == "0"
    config = load("algo: {image: i, instance: ml.m5.xlarge, $sagemaker.Tags: [{Key: run_number, Value: x}]}\n" + DS)
    with pytest.raises(ConfigError, match=r"test.yml:1:59: algo.\$sagemaker.Tags: tag 'run_number' is set by runtool_iac"):
        runtool.plan(config.algo * config.ds)


def _sample(shape, depth: int = 0):
    """A plausible value of a botocore shape (required members of structures)."""
    kind = shape.type_name
    if kind == "structure":
        members = shape.required_members or list(shape.members)[:1]
        return {name: _sample(shape.members[name], depth + 1) for name in members} if depth < 6 else {}
    if kind == "list":
        return [_sample(shape.member, depth + 1)]
    if kind == "map":
        return {"key": _sample(shape.value, depth + 1)}
    if kind == "string":
        return shape.enum[0] if shape.enum else "x" * max(1, shape.metadata.get("min", 1))
    if kind == "boolean":
        return True
    if kind in ("integer", "long"):
        return max(1, shape.metadata.get("min", 1))
    if kind in ("float", "double"):
        return 1.0
    return "x"


def _arrived(value, got) -> bool:
    if isinstance(value, dict):
        return isinstance(got, dict) and all(_arrived(v, got.get(k)) for k, v in value.items())
    return value == got


def test_every_create_training_job_field_through_sagemaker_arrives_or_is_refused():
    import botocore.session

    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model("CreateTrainingJob").input_shape
    assert len(shape.members) > 20
    outcomes = {}
    for field, member in shape.members.items():
        value = "my-name" if field == "TrainingJobName" else _sample(member)
        text = f"algo: {{image: my-image, instance: ml.m5.xlarge, $sagemaker.{field}: {json.dumps(value)}}}\n" + DS
        try:
            config = load(text)
            (request,) = runtool.plan(config.algo * config.ds)
        except ConfigError as exc:
            # Refused: located at the override, naming it.
            assert any(p.path == f"algo.$sagemaker.{field}" and p.location and p.location.line == 1 for p in exc.problems), (field, str(exc))
            outcomes[field] = "refused"
            continue
        if field == "TrainingJobName":
            assert request["TrainingJobName"] == "my-name-r0"
        elif field == "Tags":
            assert all(t in request["Tags"] for t in value), request["Tags"]
        else:
            assert _arrived(value, request.get(field)), (field, value, request.get(field))
        outcomes[field] = "arrived"
    assert outcomes["RoleArn"] == "refused"  # the deployed stack's role runs every job
    assert outcomes["TrainingJobName"] == outcomes["Tags"] == outcomes["StoppingCondition"] == "arrived"


# --------------------------------------------------------------- names


def test_name_computed_from_trial_is_used_in_job_names_and_labels():
    config = load(
        "algo:\n  image: my-image\n  instance: ml.m5.xlarge\n"
        "  name: {$eval: \"$trial.algorithm.hyperparameters.forecaster_name.split('.')[-1]\"}\n"
        "  hyperparameters: {forecaster_name: {$each: [gluonts.model.deepar.DeepAREstimator, gluonts.model.prophet.Prophet]}}\n" + DS
    )
    planned = build_plan(config.algo * config.ds)
    assert [job.name.split("-")[0] for job in planned] == ["DeepAREstimator", "Prophet"]
    assert [job.algorithm for job in planned] == [
        "DeepAREstimator[forecaster_name=gluonts.model.deepar.DeepAREstimator]",
        "Prophet[forecaster_name=gluonts.model.prophet.Prophet]",
    ]


def test_job_names_are_kept_as_written():
    config = load("algo: {image: my-image, instance: ml.m5.xlarge, $job_name: a--b}\n" + DS)
    assert [r["TrainingJobName"] for r in runtool.plan(config.algo * config.ds)] == ["a--b-r0"]
    config = load("algo: {image: my-image, instance: ml.m5.xlarge, $job_name: my_algo.v2}\n" + DS)
    assert [r["TrainingJobName"] for r in runtool.plan(config.algo * config.ds)] == ["my-algo-v2-r0"]


def test_shortened_names_keep_the_distinguishing_end_and_stay_unique():
    long = "forecasting-benchmark-with-a-very-descriptive-name-electricity"
    config = load(
        "algo:\n  image: my-image\n  instance: ml.m5.xlarge\n"
        f"  $job_name: {{$eval: \"'{long}-' + str($trial.algorithm.hyperparameters.lr) + '-' + uid\"}}\n"
        "  hyperparameters: {lr: {$each: [0.1, 0.01]}}\n" + DS
    )
    planned = build_plan(config.algo * config.ds, runs=2)
    names = [job.name for job in planned]
    assert len(set(names)) == 4 and all(len(n) <= PLAN_NAME_MAX and sagemaker.JOB_NAME_RE.match(n) for n in names)
    uids = [job.run_configuration_id.split("_")[-1] for job in planned]
    assert all(n.startswith("forecasting-bench") and n.endswith(f"{uid}-r{job.run}") for n, uid, job in zip(names, uids, planned))
    assert names == [job.name for job in build_plan(config.algo * config.ds, runs=2)]  # deterministic


# --------------------------------------------------------------- $eval, references


def test_a_number_eval_is_its_own_value():
    config = load("x: {$eval: 10}\nalgo: {image: my-image, instance: ml.m5.xlarge, hyperparameters: {epochs: {$ref: x}}}\n" + DS)
    assert config.x == 10
    assert runtool.plan(config.algo * config.ds)[0]["HyperParameters"] == {"epochs": "10"}
    assert problems("x: {$eval: [1, 2]}\n") == ["test.yml:1:12: x: $eval takes an expression string (or a number), not a list"]


def test_every_missing_reference_is_reported():
    lines = problems("x: {a: {$ref: nope1}, b: {$ref: nope2}}\ny: [{$ref: nope3}, {$from: nope4, k: 1}]\n")
    assert [line.split(": ", 1)[0] for line in lines] == ["test.yml:1:15", "test.yml:1:33", "test.yml:2:12", "test.yml:2:28"]
    assert all("reference to 'nope" in line for line in lines)


# --------------------------------------------------------------- CLI arguments


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--tag", "repeated_runs_group_id=x", "'--tag'"),
        ("--role-arn", "dummy", "'--role-arn'"),
        ("--bucket", "Bad_Bucket", "'--bucket'"),
        ("--experiment-name", "a b", "'--experiment-name'"),
        ("--tag", "k=v%", "'--tag'"),
    ],
)
def test_wrong_arguments_are_argument_errors_naming_the_option(tmp_path, option, value, named):
    path = tmp_path / "c.yml"
    path.write_text("algo: {image: my-image, instance: ml.m5.xlarge, tags: {a: b}}\n" + DS)
    result = cli("plan", str(path), "-e", "algo * ds", option, value)
    assert result.exit_code == 2
    assert f"Invalid value for {named}" in result.output and str(path) not in result.output
