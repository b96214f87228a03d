"""Issue 13: what AWS refuses is refused at plan time, with full-string matches.

Python's ``$`` also matches before a final newline, so ``^[a-z]+$`` lets
``'name\\n'`` through; every name, bucket and tag check here must not.
"""

from __future__ import annotations

import textwrap

import pytest
from click.testing import CliRunner

from runtool_iac import sagemaker
from runtool_iac.aws_names import bucket_problem
from runtool_iac.cli import main
from runtool_iac.config import loads
from runtool_iac.errors import ConfigError
from runtool_iac.plan import build_plan
from runtool_iac.project import load_project

from conftest import ALGO, DS, problems

CONFIG = textwrap.dedent(ALGO + DS)


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize(
    "name,ok",
    [
        ("my-bucket", True),
        ("my.bucket.01", True),
        ("my_output_bucket", True),  # legacy us-east-1 names are still served
        ("192.168.1.1", False),
        ("my-bucket\n", False),
        ("xn--bucket", False),
        ("sthree-bucket", False),
        ("bucket-s3alias", False),
        ("bucket--ol-s3", False),
        ("my..bucket", False),
        ("my.-bucket", False),
        ("ab", False),
        ("a" * 64, False),
        ("MyBucket", False),
        ("-bucket", False),
    ],
)
def test_bucket_names_follow_s3_rules(name, ok):
    assert (bucket_problem(name) is None) is ok


def test_names_and_tags_with_a_trailing_newline_are_refused():
    assert sagemaker.check_tags([{"Key": "team\n", "Value": "x"}])
    assert sagemaker.check_tags([{"Key": "team", "Value": "x\n"}])
    assert sagemaker.check_tags([{"Key": "te\tam", "Value": "x"}])
    assert not sagemaker.check_tags([{"Key": "équipe x", "Value": "a\u3000b"}])
    request = {"TrainingJobName": "abc\n"}
    assert any("TrainingJobName" in p for p in sagemaker.check_request(request))


def test_config_tag_key_with_a_newline_is_a_located_error():
    (line,) = problems(ALGO + '  tags: {"team\\n": x}\n' + DS)
    assert line.startswith("test.yml:5:") and "tag key" in line


def test_plan_refuses_bad_names_bucket_and_tags():
    config = loads(CONFIG)
    experiment = config.algo * config.ds
    with pytest.raises(ValueError, match="IP address"):
        build_plan(experiment, bucket="192.168.1.1")
    with pytest.raises(ValueError, match="experiment name"):
        build_plan(experiment, experiment_name="exp\n")
    with pytest.raises(ValueError, match="tag key"):
        build_plan(experiment, tags={"k\n": "v"})


def test_cli_refuses_bad_bucket_experiment_name_and_tag(tmp_path):
    file = tmp_path / "c.yml"
    file.write_text(CONFIG)
    for extra in (["--bucket", "192.168.1.1"], ["--experiment-name", "x\n"], ["--tag", "k\n=v"]):
        result = cli("plan", str(file), "-e", "algo * ds", *extra)
        assert result.exit_code == 2, extra  # a usage error naming the option
        assert "Traceback" not in result.output
        (error,) = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
        assert f"'{extra[0]}'" in error


def write_project(tmp_path, defaults: str = "", experiment: str = "", extra: str = ""):
    (tmp_path / "c.yml").write_text(CONFIG)
    text = "project: p\nconfigs: [c.yml]\n"
    if defaults:
        text += "defaults:\n" + textwrap.indent(textwrap.dedent(defaults), "  ")
    text += "experiments:\n  e:\n    experiment: algo * ds\n" + textwrap.indent(textwrap.dedent(experiment), "    ")
    text += extra
    (tmp_path / "runtool.yml").write_text(text)
    return tmp_path / "runtool.yml"


@pytest.mark.parametrize(
    "defaults,words,line",
    [
        ("log_retention_days: 2\n", "expected one of 1, 3, 5", 4),
        ("tolerated_failure_percentage: .nan\n", "finite number", 4),
        ("tolerated_failure_percentage: .inf\n", "maximum", 4),
        ("instance_limits: {ml.nope.xlarge: 2}\n", "ml.nope.xlarge", 4),
        ("bucket: 192.168.1.1\n", "IP address", 4),
        ("bucket: \"my-bucket\\n\"\n", "my-bucket", 4),
        ("tags: {\"team\\n\": x}\n", "tag key", 4),
        ("tags: {team: \"a\\tb\"}\n", "value", 4),
        ("role_arn: \"arn:aws:iam::123456789012:role/r\\n\"\n", "role_arn", 4),
    ],
)
def test_project_values_follow_aws_rules(tmp_path, defaults, words, line):
    file = write_project(tmp_path, defaults)
    with pytest.raises(ConfigError) as info:
        load_project(file)
    text = str(info.value)
    assert words in text, text
    first = text.splitlines()[0]
    assert first.startswith(f"{file}:{line}:"), text


def test_project_tags_are_encoded_as_in_configs(tmp_path):
    file = write_project(tmp_path, "tags: {flag: true, n: 3}\n")
    project = load_project(file)
    assert project.settings.tags == {"flag": "true", "n": "3"}
    tags = {t["Key"]: t["Value"] for t in project.plan("e").jobs[0].request["Tags"]}
    assert tags["flag"] == "true" and tags["n"] == "3"


def test_project_limits_apply_to_configs_and_plans(tmp_path):
    file = write_project(tmp_path, experiment="runs: 3\n", extra="limits: {jobs_per_plan: 2}\n")
    project = load_project(file)
    with pytest.raises(ConfigError) as info:
        project.plan("e")
    (line,) = str(info.value).splitlines()
    assert line.startswith(f"{file}:5:17: experiments.e.experiment: the experiment has 3 jobs")
    (tmp_path / "c.yml").write_text(CONFIG.replace("instance: ml.m5.xlarge", "instance: ml.m5.xlarge\n  hyperparameters: {a: {$each: [1, 2, 3]}}"))
    file.write_text(file.read_text().replace("limits: {jobs_per_plan: 2}", "limits: {variants_per_node: 2}"))
    with pytest.raises(ConfigError, match="3 variants; at most 2 per node"):
        load_project(file).config


@pytest.mark.parametrize(
    "extra,words",
    [
        ("  image: 'my image'\n", "has a space"),
        ("  image: \"img\\t1\"\n", "has a space"),
        ("  $sagemaker.ResourceConfig.InstanceCount: true\n", "Invalid type for parameter ResourceConfig.InstanceCount"),
        ("  $sagemaker.AlgorithmSpecification.TrainingImage: '" + "i" * 300 + "'\n", "Invalid length"),
    ],
)
def test_request_values_sagemaker_refuses_are_located_plan_errors(extra, words):
    text = CONFIG.replace("algo:\n", "algo:\n" + extra, 1)
    if "image:" in extra:
        text = text.replace("  image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/algo:1\n", "", 1)
    config = loads(text, "test.yml")
    with pytest.raises(ConfigError) as info:
        build_plan(config.algo * config.ds)
    (line,) = str(info.value).splitlines()
    assert line.startswith("test.yml:") and words in line, line
