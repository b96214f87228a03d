"""Job requests: fields, encoding, names, tags, determinism, botocore validity."""

import json

import pytest

from runtool_iac import build_plan, plan, sagemaker
from runtool_iac.config import load_config
from runtool_iac.errors import ConfigError
from runtool_iac.experiment_expr import parse_experiment
from runtool_iac.plan import PLAN_NAME_MAX, SYSTEM_TAGS

from textwrap import dedent as d

from conftest import ALGO, DS, EXAMPLE_CONFIGS, load


@pytest.fixture(scope="module")
def example():
    return load_config(*EXAMPLE_CONFIGS)


def test_request_fields_follow_the_original(example):
    requests = plan(example.seasonal_naive * example.electricity, runs=2, experiment_name="bench", bucket="out", role_arn="arn:aws:iam::123456789012:role/sm", tags={"owner": "me"})
    assert len(requests) == 2
    request = requests[0]
    assert request["AlgorithmSpecification"]["TrainingInputMode"] == "File"
    assert request["AlgorithmSpecification"]["MetricDefinitions"][0]["Name"] == "MASE"
    assert request["HyperParameters"] == {"prediction_length": "24", "season_length": "24", "freq": "H", "method": "seasonal_naive"}
    assert [c["ChannelName"] for c in request["InputDataConfig"]] == ["train", "test"]
    assert request["OutputDataConfig"]["S3OutputPath"].startswith("s3://out/bench/bench_")
    assert request["ResourceConfig"] == {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 32}
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
    assert request["RoleArn"] == "arn:aws:iam::123456789012:role/sm"
    tags = {t["Key"]: t["Value"] for t in request["Tags"]}
    assert tags["owner"] == "me" and tags["domain"] == "energy"
    assert set(SYSTEM_TAGS) <= set(tags)
    assert tags["run_number"] == "0" and tags["number_of_runs"] == "2" and tags["experiment_name"] == "bench"
    assert {t["Value"] for t in requests[1]["Tags"] if t["Key"] == "run_number"} == {"1"}


def test_non_string_values_are_json_encoded():
    config = load(
        d("""
        algo:
          image: img
          instance: ml.m5.xlarge
          hyperparameters: {flag: true, none: null, n: 3, f: 0.5, l: [1, "a"], d: {k: false}}
          tags: {bool: True, num: 3}
        """)
        + DS
    )
    (request,) = plan(config.algo * config.ds)
    assert request["HyperParameters"] == {"flag": "true", "none": "null", "n": "3", "f": "0.5", "l": '[1,"a"]', "d": '{"k":false}'}
    tags = {t["Key"]: t["Value"] for t in request["Tags"]}
    assert tags["bool"] == "true" and tags["num"] == "3"


def test_every_request_passes_botocore_and_sagemaker_rules(example):
    requests = plan(parse_experiment("algorithms * datasets", example), runs=3)
    assert len(requests) == 27
    for request in requests:
        assert sagemaker.check_request(request) == []
        assert len(request["TrainingJobName"]) <= PLAN_NAME_MAX
    assert len({r["TrainingJobName"] for r in requests}) == 27


def test_plans_are_byte_identical_across_loads():
    first = build_plan(parse_experiment("algorithms * datasets", load_config(*EXAMPLE_CONFIGS)), runs=2).to_json()
    second = build_plan(parse_experiment("algorithms * datasets", load_config(*EXAMPLE_CONFIGS)), runs=2).to_json()
    assert first == second
    json.loads(first)


def test_long_names_are_shortened_to_fit_and_stay_valid():
    config = load(
        d("""
        a_very_long_algorithm_name_that_goes_on_and_on_and_on:
          image: img
          instance: ml.m5.xlarge
          hyperparameters: {x: {$each: [1, 2]}}
        another_extremely_long_dataset_name_for_testing_purposes:
          path: {train: s3://b/t/}
        """)
    )
    requests = plan(config["a_very_long_algorithm_name_that_goes_on_and_on_and_on"] * config["another_extremely_long_dataset_name_for_testing_purposes"], runs=12)
    names = [r["TrainingJobName"] for r in requests]
    assert len(set(names)) == 24
    for name in names:
        assert len(name) <= PLAN_NAME_MAX and sagemaker.JOB_NAME_RE.match(name)
        assert name.startswith("a-very-long")


def test_custom_job_name_collisions_are_disambiguated():
    config = load(
        d("""
        algo: {image: img, instance: ml.m5.xlarge, $job_name: same, hyperparameters: {x: {$each: [1, 2]}}}
        """)
        + DS
    )
    names = [r["TrainingJobName"] for r in plan(config.algo * config.ds)]
    assert len(set(names)) == 2 and all(n.startswith("same-") for n in names)


def test_duplicate_trials_are_planned_once():
    config = load(ALGO + DS)
    planned = build_plan((config.algo + config.algo) * config.ds)
    assert len(planned) == 1 and planned.duplicate_trials == 1


def test_local_paths_are_refused_for_sagemaker_and_allowed_locally(tmp_path):
    config = load(ALGO + "ds: {path: {train: data/train}}\n")
    with pytest.raises(ConfigError, match="not an s3:// URI; local paths work only in local mode"):
        plan(config.algo * config.ds)
    (request,) = plan(config.algo * config.ds, target="local")
    assert request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"].startswith("file:///")


def test_local_images_are_refused_for_sagemaker():
    config = load("algo: {image: 'local:python train.py', instance: ml.m5.xlarge}\n" + DS)
    with pytest.raises(ConfigError, match="runs only in local mode"):
        plan(config.algo * config.ds)


def test_too_many_tags_is_an_error():
    tags = "".join(f"    t{i}: v\n" for i in range(40))
    config = load(ALGO + "  tags:\n" + tags + DS + "  tags:\n" + tags.replace("t", "u"))
    with pytest.raises(ConfigError, match="tags; SageMaker allows 50"):
        plan(config.algo * config.ds)


def test_reserved_tag_names_are_refused():
    config = load(ALGO + "  tags: {run_number: x}\n" + DS)
    with pytest.raises(ConfigError, match="set by runtool_iac itself"):
        plan(config.algo * config.ds)


def test_trial_eval_results_are_validated_at_plan_time():
    config = load(
        d("""
        algo:
          image: img
          instance: {$eval: "'ml.' + $trial.dataset.meta.size"}
        ds: {path: {train: s3://b/t/}, meta: {size: tiny}}
        """)
    )
    with pytest.raises(ConfigError, match="algo.instance: unknown value 'ml.tiny'"):
        plan(config.algo * config.ds)


def test_arguments_are_checked():
    config = load(ALGO + DS)
    with pytest.raises(ValueError, match="runs"):
        plan(config.algo * config.ds, runs=0)
    with pytest.raises(ValueError, match="experiment name"):
        plan(config.algo * config.ds, experiment_name="bad name!")
    with pytest.raises(TypeError, match="combine it with datasets"):
        plan(config.algo)


def test_hyperparameter_value_length_limit():
    config = load(ALGO + "  hyperparameters: {big: {$eval: \"'x' * 3000\"}}\n" + DS)
    with pytest.raises(ConfigError, match="SageMaker allows 2500"):
        plan(config.algo * config.ds)
