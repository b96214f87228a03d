"""The compiled yes/no schema check gives jsonschema's answer, on every schema we ship.

schema.problems() trusts a "yes" from it without asking jsonschema, so a
disagreement would hide a config error: these tests hold the two to each other
on generated and mutated configs, including the plan-time sub-schemas and the
values skipped while trial $evals are unevaluated.
"""

from __future__ import annotations

import copy

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtool_iac.config import schema, schema_check
from runtool_iac.config.resolve import Deferred

from conftest import EXAMPLE_CONFIGS, ROOT

DEFERRED = Deferred(source="$trial.dataset.meta.x", tree=None, bindings={}, loc=None, path="algo.x")
SCHEMAS = sorted(p.name for p in (ROOT / "schemas").glob("*.schema.json"))

KEYS = [
    "image", "instance", "hyperparameters", "tags", "path", "meta", "metrics", "name", "algorithm", "dataset",
    "$job_name", "$sagemaker", "$sagemaker.ResourceConfig.VolumeSizeInGB", "$sagemaker.", "$from", "$ref",
    "$each", "$eval", "$bogus", "train", "test", "aws:key", "lr", "a b", "", "x" * 130, "project", "configs",
    "experiments", "experiment", "runs", "defaults", "local", "job_prefix", "max_concurrency", "create_role",
    "role_arn", "bucket", "create_bucket", "instance_limits", "tolerated_failure_percentage",
    "log_retention_days", "notification_email", "images", "data", "output_dir", "max_parallel", "description",
]
STRINGS = st.sampled_from(
    [
        "ml.m5.xlarge", "ml.m5.large", "ml.bogus", "s3://bucket/prefix/", "s3://", "file:///tmp/x", "rel/path",
        "c:/x", "img", "", "local:python x.py", "loss=([0-9.]+)", "(", "[a-", "$ref", "$x", "a" * 300, "D",
        "arn:aws:iam::123456789012:role/x", "my-bucket", "forecast", "aws:x", "ok tag", "tab\tx", "new\nline",
    ]
) | st.text(max_size=12)
SCALARS = st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(allow_nan=False, width=32) | st.sampled_from([1.0, 0.5, 2.0, -1.0]) | STRINGS


def values(leaves=SCALARS):
    return st.recursive(
        leaves,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), children, max_size=5),
        max_leaves=20,
    )


def jsonschema_valid(name: str, instance, pointer: str = "") -> bool:
    validator = schema.validator(name) if not pointer else schema._sub_validator(name, pointer)
    return next(iter(validator.iter_errors(instance)), None) is None


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_shipped_schema_compiles(name):
    """A keyword the check does not know would silently send every config to jsonschema (slow)."""
    assert schema.quick_check(name) is not None, "extend runtool_iac/config/schema_check.py for the new keyword"
    assert schema.quick_check(name, "", Deferred) is not None


@pytest.mark.parametrize("name", SCHEMAS)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instance=values())
def test_agrees_with_jsonschema_on_generated_values(name, instance):
    assert schema.quick_check(name)(instance) == jsonschema_valid(name, instance)


def _documents():
    docs = [yaml.safe_load(p.read_text()) for p in EXAMPLE_CONFIGS]
    docs.append(yaml.safe_load((ROOT / "runtool.yml").read_text()))
    nodes = [v for d in docs[:-1] for v in d.values() if isinstance(v, dict)]
    return docs, nodes


def _mutations(value, path=()):
    """Every one-step change of a document: drop a key, replace a value by odd ones, add a key."""
    odd = [None, True, 3, 2.5, "", "s3://", "ml.bogus", [], {}, "(", "aws:x", "x" * 300, -1, 10**9]
    if isinstance(value, dict):
        for key in list(value):
            yield path + (key,), "drop", None
            for o in odd:
                yield path + (key,), "set", o
            yield from _mutations(value[key], path + (key,))
        for key in ("$bogus", "aws:k", "extra", "$sagemaker.X", ""):
            yield path + (key,), "set", "v"
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield path + (i,), "set", None
            yield from _mutations(item, path + (i,))


def _apply(document, path, op, new):
    out = copy.deepcopy(document)
    node = out
    for key in path[:-1]:
        node = node[key]
    if op == "drop":
        del node[path[-1]]
    else:
        node[path[-1]] = new
    return out


def test_agrees_with_jsonschema_on_every_mutation_of_the_examples():
    docs, nodes = _documents()
    cases = [("config.schema.json", d) for d in docs[:-1]] + [("project.schema.json", docs[-1])]
    for node in nodes:
        kind = "algorithm" if "image" in node else "dataset" if "path" in node else None
        if kind:
            cases.append((f"{kind}.schema.json", node))
    checked = invalid = 0
    for name, document in cases:
        check = schema.quick_check(name)
        for path, op, new in _mutations(document):
            mutated = _apply(document, path, op, new)
            expected = jsonschema_valid(name, mutated)
            assert check(mutated) == expected, (name, path, op, new)
            checked += 1
            invalid += not expected
    assert checked > 1000 and invalid > 300  # the mutations really exercise both answers


SUBSCHEMA_PATHS = [
    ("algorithm.schema.json", ("tags", "k")),
    ("algorithm.schema.json", ("metrics", "m")),
    ("algorithm.schema.json", ("$job_name",)),
    ("algorithm.schema.json", ("image",)),
    ("algorithm.schema.json", ("instance",)),
    ("algorithm.schema.json", ("hyperparameters",)),
    ("dataset.schema.json", ("path", "train")),
    ("dataset.schema.json", ("tags",)),
    ("dataset.schema.json", ("path",)),
]


@pytest.mark.parametrize("name,path", SUBSCHEMA_PATHS)
@settings(max_examples=60, deadline=None)
@given(value=values())
def test_agrees_with_jsonschema_on_plan_time_values(name, path, value):
    """value_problems() checks values computed by trial $evals against the schema at their path."""
    where = schema._subschema(name, path)
    assert where is not None
    assert schema.quick_check(*where)(value) == jsonschema_valid(where[0], value, where[1])


def test_unevaluated_evals_pass_the_check_as_jsonschema_problems_skips_them():
    deferred = DEFERRED
    node = {"image": "img", "instance": "ml.m5.xlarge", "hyperparameters": {"lr": deferred, "n": 1}, "$job_name": deferred}
    assert schema.quick_check("algorithm.schema.json", "", Deferred)(node)
    assert schema.quick_check("algorithm.schema.json")(node) is False
    node["instance"] = "ml.bogus"
    assert schema.quick_check("algorithm.schema.json", "", Deferred)(node) is False


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instance=values(SCALARS | st.just("DEFERRED")))
def test_with_unevaluated_evals_a_yes_means_problems_finds_none(instance):
    """With Deferreds inside, a yes must mean jsonschema's problems() (which skips them) reports nothing."""
    deferred = DEFERRED

    def swap(v):
        if v == "DEFERRED":
            return deferred
        if isinstance(v, dict):
            return {k: swap(x) for k, x in v.items()}
        if isinstance(v, list):
            return [swap(x) for x in v]
        return v

    instance = swap(instance)
    for name in ("algorithm.schema.json", "dataset.schema.json"):
        if schema.quick_check(name, "", Deferred)(instance):
            slow = [e for e in schema.validator(name).iter_errors(instance) if not schema._touches(e, Deferred)]
            assert slow == []


def test_unknown_keywords_are_left_to_jsonschema():
    compiler = schema_check.Compiler(lambda name: {"type": "string", "dependentSchemas": {}})
    with pytest.raises(schema_check.Unsupported):
        compiler.at("x.json")


def test_type_and_equality_rules_are_jsonschemas():
    for value, name in [(True, "integer"), (1.0, "integer"), (1.5, "integer"), (True, "number"), ([], "object"), ((), "array")]:
        assert schema_check.is_type(value, name) == jsonschema.Draft202012Validator({}).is_type(value, name)
    assert not schema_check.equal(True, 1) and not schema_check.equal([1], [True]) and schema_check.equal({"a": [1.0]}, {"a": [1]})
