"""Issue 13: every $eval is bounded in time, in memory, and across variants.

Each payload is a single C-level operation or a cheap-looking loop that used to
hang or allocate gigabytes. They must be refused with an ExpressionError (or a
located ConfigError in a config) well within a second or two, never run.
"""

from __future__ import annotations

import resource
import time

import pytest

from runtool_iac import expressions
from runtool_iac.expressions import ExpressionError, evaluate_text
from runtool_iac.limits import Limits

from conftest import load, problems

BOUND_S = 10.0  # generous for a shared, loaded machine: the bounds themselves are ~1 s; the hangs were minutes

HOSTILE = [
    "round(1, -10**8)",
    "round(1.5, 10**9)",
    "('ā'*100000).strip('ē'*99999+'ā')",
    "['a'*100000 for x in 'a'*3000]",
    "[('a'*90000) + 'b' for x in 'a'*200]",
    "('{0}'*30000).format('a'*100000)",
    "('{}'*3).format('a'*99999, 'b'*99999, 'c')",
    "f'{\"a\"*99999}{\"b\"*99999}'",
    "(' '*99999).join(['a']*20000)",
    "('a'*100000).split('a')",
    "('ab'*50000).replace('a', 'a'*50)",
    "int('1'*5000)",
    "str(2**4000 * 2**4000)",
    "[len('a'*99999) for x in 'a'*100000 for y in 'b'*100000]",
    "[x for x in [[1]*99999]*1000]",
    "[['x']*99999 == ['x']*99999 for y in 'a'*1000]",
]


@pytest.mark.parametrize("payload", HOSTILE)
def test_single_operations_and_totals_are_bounded(payload):
    started = time.monotonic()
    with pytest.raises(ExpressionError):
        evaluate_text(payload)
    assert time.monotonic() - started < BOUND_S


def test_total_memory_of_an_evaluation_is_bounded():
    """Every value counts against one total: 300 MB of 100k-character strings is refused early."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ExpressionError, match="in all"):
        evaluate_text("['a'*100000 for x in 'a'*3000]")
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 100


def test_join_over_a_config_mapping_is_checked_before_joining():
    keys = "\n".join(f"        k{i}: {i}" for i in range(3000))
    started = time.monotonic()
    (line,) = problems(f"""
    big:
      m:
{keys}
    x: {{v: {{$eval: "(' '*99999).join($.big.m)"}}}}
    """)
    assert "join result is too large" in line and line.startswith("test.yml:")
    assert time.monotonic() - started < BOUND_S


def test_reasonable_operations_still_work():
    assert evaluate_text("round(1234.5678, -2), round(2.675, 2)") == [1200.0, 2.67]
    assert evaluate_text("' x '.strip(), 'a-b'.strip('ab'), 'a,b,c'.split(',', 1)") == ["x", "-", ["a", "b,c"]]
    assert evaluate_text("'-'.join({'a': 1, 'b': 2})") == "a-b"
    assert evaluate_text("'{}|{:>5}|{x!r}'.format(1, 'ab', x='q')") == "1|   ab|'q'"
    assert evaluate_text("int('42'), int('ff', 16)") == [42, 255]


def test_dollar_inside_string_literals_is_text():
    config = load("""
    x:
      a: {$eval: "'$.5 or $trial'"}
      b: {$eval: "\\"$.x\\" + ' costs $3'"}
      c: {$eval: "f'{$.y.n}$.y.n'"}
    y: {n: 2}
    """)
    assert config.x == {"a": "$.5 or $trial", "b": "$.x costs $3", "c": "2$.y.n"}


def test_trial_inside_a_string_literal_does_not_make_it_trial_dependent():
    config = load("""
    x: {v: {$eval: "'$trial.dataset'.upper()"}}
    """)
    assert config.x == {"v": "$TRIAL.DATASET"}


def test_unknown_dollar_names_are_refused_with_their_dollar():
    (line,) = problems("""
    x: {v: {$eval: "$trail.dataset"}}
    """)
    assert "unknown name '$trail'" in line


def test_lone_surrogate_result_is_a_located_error():
    (line,) = problems("""
    x:
      v: {$eval: "'\\\\ud800'"}
    """)
    assert line.startswith("test.yml:3:") and "lone surrogate" in line


def test_time_budget_is_shared_by_all_variants_of_a_config(monkeypatch):
    """Each variant alone fits its own second; together they exceed the config's budget."""
    monkeypatch.setattr(expressions, "MAX_SECONDS", 5.0)
    slow = "len([x for x in 'a' * 30000 for y in 'ab'])"  # some tens of ms each
    values = ", ".join(str(i) for i in range(400))
    text = f"""
    x:
      k: {{$each: [{values}]}}
      v: {{$eval: "{slow} + $.x.k"}}
    """
    from runtool_iac.config import loads
    import textwrap

    started = time.monotonic()
    with pytest.raises(Exception) as info:
        loads(textwrap.dedent(text), "t.yml", limits=Limits(eval_seconds=0.5))
    assert "in all" in str(info.value) and "t.yml:" in str(info.value)
    assert time.monotonic() - started < BOUND_S


def test_deadline_is_checked_between_costly_steps():
    """Steps that each copy a 99,999-item list hit the deadline, not 256 steps later."""
    started = time.monotonic()
    with pytest.raises(ExpressionError):
        evaluate_text("[len(['x'] * 99999 + []) for y in 'a' * 5000]")
    assert time.monotonic() - started < BOUND_S
