"""The $eval sandbox: what works, and escape/exhaustion payloads that must not."""

import os
import time

import pytest

from runtool_iac.expressions import ExpressionError, evaluate_text

from conftest import load, problems


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1 + 2 * 3", 7),
        ("7 // 2, 7 % 2, 2 ** 10, -3, 1 / 4", [3, 1, 1024, -3, 0.25]),
        ("1 < 2 <= 2 != 3", True),
        ("not (True and False) or False", True),
        ("'big' if 3 > 2 else 'small'", "big"),
        ("f'{3.14159:.2f}-{\"x\"!r}'", "3.14-'x'"),
        ("'abc'[1:], 'abc'[::-1], [1, 2, 3][-1]", ["bc", "cba", 3]),
        ("min(3, 1), max([4, 9]), sum([1, 2]), len('four'), abs(-2), round(2.567, 1)", [1, 9, 3, 4, 2, 2.6]),
        ("int('7'), float('0.5'), str(3), bool(0), ceil(1.2), floor(1.8)", [7, 0.5, "3", False, 2, 1]),
        ("'a,b'.split(','), '-'.join(['x', 'y']), 'Ab'.upper(), 'Ab'.lower()", [["a", "b"], "x-y", "AB", "ab"]),
        ("'aXa'.replace('X', '-'), ' s '.strip(), 'abc'.startswith('a'), 'abc'.endswith('x')", ["a-a", "s", True, False]),
        ("'{}-{}'.format(1, 2), '{0}{0}'.format('a'), '{name}!'.format(name='hi'), '{:>4}'.format(7)", ["1-2", "aa", "hi!", "   7"]),
        ("[x * 2 for x in [1, 2, 3] if x > 1]", [4, 6]),
        ("sum(x for x in [1, 2, 3])", 6),
        ("{'a': 1, 'b': [True, None]}", {"a": 1, "b": [True, None]}),
    ],
)
def test_allowed_expressions(text, expected):
    assert evaluate_text(text) == expected


SIDE_EFFECT = "/tmp/runtool_sandbox_escape_marker"

# Each of these must be refused with an ExpressionError and do nothing.
PAYLOADS = [
    "__import__('os').system('touch " + SIDE_EFFECT + "')",
    "open('" + SIDE_EFFECT + "', 'w')",
    "eval('1')",
    "exec('x = 1')",
    "().__class__.__bases__[0].__subclasses__()",
    "''.__class__.__mro__",
    "(lambda: 1)()",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "getattr('', '__class__')",
    "'{0.__class__}'.format(1)",
    "'{0[0]}'.format([1])",
    "'{a.__globals__}'.format(a=1)",
    "f'{(1).__class__}'",
    "globals()",
    "vars()",
    "type(1)",
    "[].append(1)",
    "{'a': 1}.items()",
    "(x := 1)",
    "9 ** 9 ** 9",
    "10 ** 100000",
    "'a' * 10 ** 9",
    "[0] * 10 ** 9",
    "'%s' % 'x'",
    "'%0999999999d' % 1",
    "f'{1:>999999999}'",
    "'{:>999999999}'.format(1)",
    "'x' * 50000 + 'y' * 60000",
    "('a' * 90000).replace('a', 'aaaa')",
    "[x for x in 'a' * 99999 for y in 'b' * 99999]",
    "{1, 2, 3}",
    "1 << 10000",
    "int('9' * 5000)",
    "__builtins__",
    "_private",
    "compile('1', 'x', 'eval')",
    "b'bytes'",
    "[*[1, 2]]",
    "sum([[0] * 1000] * 99999, [])",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_escape_and_exhaustion_payloads_are_refused(payload):
    if os.path.exists(SIDE_EFFECT):
        os.remove(SIDE_EFFECT)
    started = time.monotonic()
    with pytest.raises(ExpressionError):
        evaluate_text(payload)
    assert time.monotonic() - started < 5
    assert not os.path.exists(SIDE_EFFECT)


def test_payloads_in_configs_are_located_config_errors():
    (line,) = problems("""
    x:
      v: {$eval: "__import__('os')"}
    """)
    assert line == "test.yml:3:14: x.v: $eval: calling '__import__' is not allowed"


def test_expression_time_limit():
    # Many cheap steps still finish or are cut by the step/time budget — never hang.
    started = time.monotonic()
    with pytest.raises(ExpressionError, match="steps|longer than"):
        evaluate_text("[[x for x in 'a' * 2000] for y in 'b' * 2000]")
    assert time.monotonic() - started < 5


def test_eval_of_trial_values_at_load_time_is_refused():
    (line,) = problems("""
    algo:
      image: img
      instance: ml.m5.xlarge
      hyperparameters:
        a: {$eval: $trial.dataset.meta.x}
        b: {$eval: "$.algo.hyperparameters.a + 1"}
    """)
    assert "depends on $trial; use $trial in this expression too" in line


def test_dollar_inside_strings_is_left_alone():
    config = load("""
    x: {v: {$eval: "'costs $5'"}}
    """)
    assert config.x == {"v": "costs $5"}
