"""Issue 13: every YAML form loads or is a located one-line error; expansion is capped."""

from __future__ import annotations

import re
import textwrap
import time

import pytest

from runtool_iac.config import loads
from runtool_iac.config.source import MAX_ALIAS_EXPANSION
from runtool_iac.errors import ConfigError
from runtool_iac.limits import Limits

from conftest import ALGO, DS, problems

LOCATED = re.compile(r"^test\.yml:\d+:\d+: ")


@pytest.mark.parametrize(
    "text,line,column,words",
    [
        ("x: !!bool maybe\n", 1, 4, "true/false"),
        ("x: !!timestamp nope\n", 1, 4, "date or time"),
        ("x: 2024-02-30\n", 1, 4, "day is out of range"),
        ("a: 1\nx: 0x_\n", 2, 4, "invalid integer '0x_'"),
        ("x: !!int abc\n", 1, 4, "invalid integer 'abc'"),
        ("x: !!float abc\n", 1, 4, "invalid number"),
        ("x: " + "1" * 4301 + "\n", 1, 4, "4,301 digits"),
        ('"": 1\n', 1, 1, "empty key"),
        ('a:\n  "": 1\n', 2, 3, "empty key"),
        ("a: 1\nb: x\x01y\n", 2, 5, "#x0001"),
        ("a: 'éé'\nb: 'é\x07'\n", 2, 6, "#x0007"),
        ("x: !!set {a, b}\n", 1, 4, "!!set is not supported"),
        ("x: !custom {a: 1}\n", 1, 4, "!custom is not supported"),
        ("x: !custom 1\n", 1, 4, "!custom"),
        ("x: !!binary aGk=\n", 1, 4, "binary"),
        ("x: !!python/object:os.system ls\n", 1, 4, "python/object"),
    ],
)
def test_every_yaml_form_is_a_located_one_line_error(text, line, column, words):
    with pytest.raises(ConfigError) as info:
        loads(text, "test.yml")
    lines = str(info.value).splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"test.yml:{line}:{column}: "), lines[0]
    assert words in lines[0]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("x: 2024-02-29\n", "2024-02-29"),
        ("x: '2024-02-30'\n", "2024-02-30"),
        ("x: 0x1F\n", 31),
        ("x: !!str 12\n", "12"),
        ("x: !!float 1\n", 1.0),
        ("x: " + "1" * 4300 + "\n", int("1" * 4300)),
        ("x: .inf\n", float("inf")),
        ("x: ~\n", None),
    ],
)
def test_valid_scalar_forms_load(text, expected):
    assert loads(text).x == expected


def test_line_breaks_in_keys_never_split_a_problem_over_lines():
    text = 'a:\n  "k\\u2028ey\\n": {$bad: 1}\n'
    with pytest.raises(ConfigError) as info:
        loads(text, "test.yml")
    lines = str(info.value).splitlines()
    assert len(lines) == 1 and LOCATED.match(lines[0]), lines


def test_variants_are_capped_before_expanding():
    """17 two-valued axes are 131,072 variants in 454 bytes: refused at once, naming node and count."""
    axes = "".join(f"    k{i}: {{$each: [1, 2]}}\n" for i in range(17))
    started = time.monotonic()
    (line,) = problems(ALGO + "  hyperparameters:\n" + axes)
    assert time.monotonic() - started < 10
    assert line.startswith("test.yml:6:5: algo.hyperparameters: this node has 131,072 variants")
    assert "variants_per_node" in line


def test_variant_cap_is_configurable():
    axes = "".join(f"    k{i}: {{$each: [1, 2]}}\n" for i in range(4))
    text = textwrap.dedent(ALGO) + "  hyperparameters:\n" + axes
    with pytest.raises(ConfigError, match="has 16 variants; at most 8 per node"):
        loads(text, "t.yml", limits=Limits(variants_per_node=8))
    assert len(loads(text, "t.yml", limits=Limits(variants_per_node=16)).algo) == 16


def test_total_variants_across_the_config_are_capped():
    nodes = "".join(f"n{i}: {{v: {{$each: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}}}}\n" for i in range(20))
    with pytest.raises(ConfigError, match="more than 100 variants in all"):
        loads(nodes, "t.yml", limits=Limits(variants_total=100))


def test_from_and_each_products_are_capped():
    text = textwrap.dedent("""
    base: {a: {$each: [1, 2, 3, 4]}, b: {$each: [1, 2, 3, 4]}}
    child: {$from: base, c: {$each: [1, 2, 3, 4]}}
    """)
    with pytest.raises(ConfigError, match="child: this node has 64 variants"):
        loads(text, "t.yml", limits=Limits(variants_per_node=20))


def test_jobs_per_plan_are_capped_before_planning():
    from runtool_iac.plan import build_plan

    text = textwrap.dedent(ALGO + "  hyperparameters: {lr: {$each: [1, 2, 3, 4, 5]}}\n" + DS)
    config = loads(text)
    with pytest.raises(ConfigError, match="10 jobs .*at most 9 per plan"):
        build_plan(config.algo * config.ds, runs=2, limits=Limits(jobs_per_plan=9))
    assert len(build_plan(config.algo * config.ds, runs=2, limits=Limits(jobs_per_plan=10))) == 10


def test_a_long_plain_list_is_not_called_an_alias_bomb():
    text = "x: [" + ",".join(["1"] * 200_000) + "]\n"
    assert len(loads(text).x) == 200_000


def test_alias_expansion_is_capped_quickly():
    text = "a: &a [" + ", ".join(["x"] * 1000) + "]\nb: [" + ", ".join(["*a"] * 200) + "]\n"
    started = time.monotonic()
    (line,) = problems(text)
    assert "alias bomb" in line and f"{MAX_ALIAS_EXPANSION:,}" in line
    assert time.monotonic() - started < 10


def test_lone_surrogate_in_yaml_is_located():
    from runtool_iac.config.source import parse_yaml

    with pytest.raises(ConfigError) as info:
        parse_yaml("a: 1\nb: x\ud800\n", "test.yml")
    assert str(info.value).startswith("test.yml:2:5: ") and "surrogate" in str(info.value)
