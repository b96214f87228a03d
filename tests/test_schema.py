"""Schema validation: every problem, located, with clear messages."""

import json

import jsonschema
import pytest

from runtool_iac import loads, sagemaker
from runtool_iac.config.schema import load_schema, schema_dir

from conftest import ROOT, problems


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "schemas").glob("*.schema.json")))
def test_schemas_are_valid_draft_2020_12(name):
    schema = json.loads((ROOT / "schemas" / name).read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_packaged_schemas_are_the_repository_schemas():
    assert schema_dir().resolve() == (ROOT / "schemas").resolve()


def test_instance_enum_matches_botocore():
    assert load_schema("algorithm.schema.json")["properties"]["instance"]["enum"] == [*sagemaker.instance_types(), "local"]


def test_all_problems_are_reported_with_file_line_column_and_path():
    lines = problems("""
    algo:
      image: img
      instance: 42
      hyperparameters: {a: 1}
      $frm: x
    algo2:
      image: img
      instance: ml.m5.xlarg
    ds:
      path: {train: 3, "bad channel": s3://b/x}
      tags: {"aws:x": 1, ok: "fine"}
      metrics: {loss: "([a-"}
    """)
    assert lines == [
        "test.yml:4:13: algo.instance: expected string, got number 42",
        "test.yml:6:3: algo: unknown directive '$frm' (did you mean '$from'?)",
        "test.yml:9:13: algo2.instance: unknown value 'ml.m5.xlarg' (did you mean 'ml.m5.xlarge' or 'ml.m5.4xlarge' or 'ml.m5.2xlarge'?)",
        "test.yml:11:17: ds.path.train: expected string, got number 3",
        "test.yml:11:20: ds.path.bad channel: 'bad channel' is not a channel name: 1-64 letters, digits, '.', '-' or '_'",
        "test.yml:12:10: ds.tags.aws:x: tag key 'aws:x' may not start with 'aws:' (reserved by AWS)",
        "test.yml:13:19: ds.metrics.loss: invalid regular expression '([a-'",
    ]


def test_wrong_type_is_a_located_error_not_a_change_of_kind():
    lines = problems("""
    algo: {image: img, instance: [ml.m5.xlarge]}
    """)
    assert lines == ["test.yml:2:30: algo.instance: expected string, got array ['ml.m5.xlarge']"]


def test_half_written_algorithm_is_a_plain_value_and_a_located_error_where_an_algorithm_is_expected():
    # As in the original, only image + instance make an algorithm: a partial node is a $from template.
    config = loads("base: {image: img}\nalgo: {$from: base, instance: ml.m5.xlarge}\n")
    assert type(config.algo).__name__ == "Algorithm" and dict(config.base) == {"image": "img"}
    (line,) = problems("algo: {image: img}\nds: {path: {train: s3://b/x/}}\nexp: {algorithm: {$ref: algo}, dataset: {$ref: ds}}\n")
    assert line == (
        "test.yml:3:18: exp.algorithm: expected algorithm(s) here, found a plain value: "
        "it has 'image' but no 'instance' (an algorithm needs both)"
    )


def test_ambiguous_kind():
    (line,) = problems("x: {image: a, instance: ml.m5.xlarge, path: {t: s3://b}}\n")
    assert "cannot tell the kind of node" in line


def test_top_level_directive_is_refused():
    (line,) = problems("$from: x\n")
    assert "'$from' starts with '$' but is not a directive" in line or "not a directive" in line


def test_hyperparameter_names_cannot_be_directives():
    (line,) = problems("algo: {image: a, instance: ml.m5.xlarge, hyperparameters: {$sagemaker.x: 1}}\n")
    assert "algo.hyperparameters" in line


def test_raw_schema_accepts_the_example_configs_as_an_editor_would():
    import yaml

    from conftest import EXAMPLE_CONFIGS

    validator = jsonschema.Draft202012Validator(load_schema("config.schema.json"))
    for path in EXAMPLE_CONFIGS:
        assert list(validator.iter_errors(yaml.safe_load(path.read_text()))) == []
        assert path.read_text().startswith("# yaml-language-server: $schema=../../../schemas/config.schema.json")
