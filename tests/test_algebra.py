"""+ and * on nodes, and experiment expressions."""

import pytest

from runtool_iac.config import Algorithms, Datasets, Experiment, Experiments
from runtool_iac.errors import ConfigError
from runtool_iac.experiment_expr import parse_experiment

from conftest import load

CONFIG = """
a1: {image: a, instance: ml.m5.xlarge}
a2: {image: b, instance: ml.m5.xlarge, hyperparameters: {x: {$each: [1, 2]}}}
d1: {path: {train: s3://b/1/}}
d2: {path: {train: s3://b/2/}}
algos: [{$ref: a1}, {$ref: a2}]
dss: [{$ref: d1}, {$ref: d2}]
exp: {algorithm: {$ref: algos}, dataset: {$ref: d1}}
exps: [{$ref: exp}, {algorithm: {$ref: a1}, dataset: {$ref: dss}}]
value: 5
"""


@pytest.fixture(scope="module")
def config():
    return load(CONFIG)


def test_addition_and_multiplication(config):
    assert isinstance(config.a1 + config.a2, Algorithms) and len(config.a1 + config.a2) == 3
    assert isinstance(config.d1 + config.d2, Datasets)
    assert len(config.a1 * config.d1) == 1
    assert len(config.d1 * config.algos) == len(config.algos * config.d1) == 3
    both = config.a1 * config.d1 + config.a2 * config.dss
    assert isinstance(both, Experiments) and len(both) == 5


def test_experiment_nodes(config):
    assert isinstance(config.exp, Experiment) and len(config.exp) == 3
    assert isinstance(config.exps, Experiments) and len(config.exps) == 5
    assert config["value"] == 5


@pytest.mark.parametrize(
    "expr,left,right",
    [
        ("a1 + d1", "Algorithm", "Dataset"),
        ("a1 * a2", "Algorithm", "Algorithm"),
        ("exp * d1", "Experiment", "Dataset"),
        ("exp + a1", "Experiment", "Algorithm"),
    ],
)
def test_other_combinations_raise_type_error_naming_both(config, expr, left, right):
    a, op, b = expr.split()
    with pytest.raises(TypeError) as info:
        (config[a] + config[b]) if op == "+" else (config[a] * config[b])
    assert left in str(info.value) and right in str(info.value)


def test_type_error_with_plain_values(config):
    with pytest.raises(TypeError, match="Algorithm \\+ int value"):
        config.a1 + 5


def test_expressions_are_parsed_not_evaluated(config):
    assert len(parse_experiment("(a1 + a2) * dss", config)) == 6
    assert len(parse_experiment("a1 * d1 + a2 * d2", config)) == 3
    assert len(parse_experiment("exps", config)) == 5


@pytest.mark.parametrize(
    "expr,message",
    [
        ("a1 * dd1", "<experiment>:1:6: no top-level node 'dd1' in the config (did you mean 'd1'?)"),
        ("a1 +", "unexpected the end"),
        ("(a1 * d1", "missing ')'"),
        ("a1 * value", "'value' is a plain value"),
        ("a1 + d1", "cannot combine Algorithm + Dataset"),
        ("__import__('os')", "no top-level node '__import__'"),
        ("", "empty"),
    ],
)
def test_expression_errors(config, expr, message):
    with pytest.raises(ConfigError) as info:
        parse_experiment(expr, config)
    assert message in str(info.value)


def test_attribute_and_item_access(config):
    assert config.a1 is config["a1"]
    with pytest.raises(AttributeError, match="did you mean 'a1'"):
        config.a11
    with pytest.raises(KeyError):
        config["nope"]
