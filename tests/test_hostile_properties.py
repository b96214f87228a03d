"""Issue 13, property-based: any YAML scalar, tag or directive shape gives a
located one-line error or a valid plan, within a time bound.

The alphabets deliberately include what broke before: control characters,
line separators (NEL, U+2028), tabs, non-ASCII letters and spaces, lone
surrogate escapes, explicit tags (!!bool, !!timestamp, !!int, custom ones),
impossible dates, hex/underscore integers, 4,301-digit numbers, empty keys,
'$' inside strings, and $eval payloads that are single costly C calls.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtool_iac.config import Experiment, loads
from runtool_iac.errors import ConfigError
from runtool_iac.expressions import ExpressionError, evaluate_text
from runtool_iac.plan import build_plan

BOUND_S = 10.0  # per example, on a shared 2-core machine; typical cases take milliseconds
LOCATED = re.compile(r"^t\.yml:\d+:\d+: ")
def bounded(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/algo:1"


def located_error_or_valid_plan(text: str) -> str:
    """'error' or 'plan'; fails the test on anything else (traceback, unlocated or multi-line error, slow)."""
    started = time.monotonic()
    outcome = "plan"
    try:
        config = loads(text, "t.yml")
        for name in config:
            node = config[name]
            if isinstance(node, Experiment):
                for job in build_plan(node):
                    assert_request_follows_aws_rules(job.request)
    except ConfigError as exc:
        outcome = "error"
        lines = str(exc).splitlines()
        assert lines and len(lines) == len(exc.problems), str(exc)
        for line in lines:
            assert LOCATED.match(line), line
    elapsed = time.monotonic() - started
    assert elapsed < BOUND_S, f"{elapsed:.1f} s"
    return outcome


# AWS's tag pattern, ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$, written independently of the code under test.
def aws_tag_text(value: str) -> bool:
    return all(unicodedata.category(c)[0] in "LZN" or c in "_.:/=+-@" for c in value)


def assert_request_follows_aws_rules(request: dict) -> None:
    name = request["TrainingJobName"]
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name), name
    assert len(request["Tags"]) <= 49
    for tag in request["Tags"]:
        key, value = tag["Key"], tag["Value"]
        assert 1 <= len(key) <= 128 and aws_tag_text(key) and not key.startswith("aws:"), key
        assert len(value) <= 256 and aws_tag_text(value), value
    for key, value in request["HyperParameters"].items():
        assert isinstance(value, str) and len(value) <= 2500 and len(key) <= 256
    for text in json.dumps(request, ensure_ascii=False):
        text.encode("utf-8")  # no lone surrogates anywhere


TAGS = st.sampled_from(["", "", "", "!!bool ", "!!int ", "!!float ", "!!timestamp ", "!!str ", "!!null ", "!!binary ", "!custom ", "!!set ", "!!python/name:os.system "])
WEIRD_CHARS = st.sampled_from(list("aZ09_-.:/+=@ $'\"#&*!|>%{}[],?") + ["\t", "\x01", "\x07", "\x1f", "\x7f", "\x85", "\u2028", "\u00a0", "é", "\u3000", "ß", "\ufeff"])
SPECIAL_SCALARS = st.sampled_from(
    ["maybe", "nope", "2024-02-30", "2024-02-29", "2024-13-01 10:00:00", "0x_", "0x1F", "0o17", "1_000", "abc", "1" * 4301,
     "1" * 4300, ".nan", ".inf", "-.inf", "~", "null", "yes", "on", "1e400", "'$.x or $trial'", "\"\\ud800\"", "\"\\x01\"",
     "\"a\\nb\"", "\"\\u2028\"", "''", "<<", "*undefined", "&anchor v", "'quoted'", "- x", "[1, 2", "{a: 1}"]
)
SCALAR_TEXT = st.one_of(SPECIAL_SCALARS, st.lists(WEIRD_CHARS, max_size=12).map("".join))
SCALAR = st.tuples(TAGS, SCALAR_TEXT).map("".join)


def config_with(position: str, scalar: str) -> str:
    """A valid config with ``scalar`` written raw into one position."""
    hyper, tag_key, tag_value, top_key, image, meta = (
        scalar if position == p else default
        for p, default in (("hyper", "1"), ("tag_key", "team"), ("tag_value", "x"), ("top_key", "extra"),
                           ("image", IMAGE), ("meta", "D"))
    )
    return (
        f"algo:\n  image: {image}\n  instance: ml.m5.xlarge\n  hyperparameters:\n    p: {hyper}\n"
        f"    q: {{$eval: $trial.dataset.meta.freq}}\n  tags:\n    {tag_key}: {tag_value}\n"
        f"ds:\n  path: {{train: 's3://bucket/train/'}}\n  meta: {{freq: {meta}}}\n"
        f"exp: {{algorithm: {{$ref: algo}}, dataset: {{$ref: ds}}}}\n{top_key}: 1\n"
    )


@bounded(150)
@given(position=st.sampled_from(["hyper", "tag_key", "tag_value", "top_key", "image", "meta"]), scalar=SCALAR)
def test_any_scalar_anywhere_is_a_located_error_or_a_valid_plan(position, scalar):
    located_error_or_valid_plan(config_with(position, scalar))


TAG_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", categories=["L", "N", "Z", "P", "S", "Cc", "Zl", "Zp"]) | st.sampled_from(["\n", "\t", "\x85"]),
    max_size=140,
)


@bounded(150)
@given(tags=st.dictionaries(TAG_TEXT, st.one_of(TAG_TEXT, st.integers(), st.booleans(), st.floats(allow_nan=True)), max_size=4))
def test_tags_are_refused_exactly_when_aws_would(tags):
    body = "{" + ", ".join(f"{quote(k)}: {quote(v) if isinstance(v, str) else json.dumps(v)}" for k, v in tags.items()) + "}"
    text = f"algo: {{image: {IMAGE}, instance: ml.m5.xlarge, tags: {body}}}\nds: {{path: {{train: 's3://b/t/'}}}}\nexp: {{algorithm: {{$ref: algo}}, dataset: {{$ref: ds}}}}\n"
    outcome = located_error_or_valid_plan(text)
    from runtool_iac.plan import encode_value

    fine = all(
        1 <= len(k) <= 128 and aws_tag_text(k) and not k.startswith("aws:") and len(encode_value(v)) <= 256 and aws_tag_text(encode_value(v))
        for k, v in tags.items()
    )
    assert (outcome == "plan") == fine, (tags, outcome)


def quote(text: str) -> str:
    """A YAML double-quoted scalar whose escapes give back exactly ``text`` (JSON's surrogate pairs would not)."""
    out = []
    for c in text:
        if " " <= c <= "~" and c not in '"\\':
            out.append(c)
        else:
            out.append(f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}")
    return '"' + "".join(out) + '"'


EXPRESSIONS = st.sampled_from(
    ["round(1, -10**8)", "('ā'*100000).strip('ē'*99999+'ā')", "['a'*100000 for x in 'a'*3000]", "(' '*99999).join($.big)",
     "'\\\\ud800'", "'$.5 or $trial'", "('{0}'*30000).format('a'*99999)", "int('9'*5000)", "2**4096", "9**9**9",
     "$trial.dataset.meta.freq", "$.big.k1 + 1", "uid", "len($.big)", "[x for x in $.big]", "f'{$.big.k0}-{uid}'",
     "'-'.join(['a', $trial.dataset.meta.freq])", "$", "$trail", "__import__('os')", "1 +", "{'a': 1}", "[1, [2]]", "None"]
)
VALUE = st.recursive(
    st.one_of(st.integers(-5, 5), st.sampled_from(["$None", "x", "", "D", "ml.m5.xlarge", "s3://b/x"]), SPECIAL_SCALARS.map(lambda s: s.strip("'\""))),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(["$each", "$ref", "$from", "$None", "", "x", "image", "path", "$sagemaker.ResourceConfig.InstanceCount", "tags", "$job_name"]), children, max_size=3),
        EXPRESSIONS.map(lambda e: {"$eval": e}),
        st.sampled_from(["algo", "ds", "big", "big.k1", "algo.hyperparameters", "nowhere", ""]).map(lambda r: {"$ref": r}),
        st.sampled_from(["algo", "ds", "big"]).map(lambda r: {"$from": r}),
    ),
    max_leaves=10,
)


@bounded(120)
@given(hyper=st.dictionaries(st.sampled_from(["a", "b", "c"]), VALUE, max_size=3), meta=VALUE, extra=VALUE)
def test_directive_shapes_are_a_located_error_or_a_valid_plan(hyper, meta, extra):
    doc = {
        "big": {f"k{i}": i for i in range(50)},
        "algo": {"image": IMAGE, "instance": "ml.m5.xlarge", "hyperparameters": hyper},
        "ds": {"path": {"train": "s3://bucket/train/"}, "meta": {"freq": "D", "x": meta}},
        "other": extra,
        "exp": {"algorithm": {"$ref": "algo"}, "dataset": {"$ref": "ds"}},
    }
    located_error_or_valid_plan(json.dumps(doc))


PIECES = st.sampled_from(["'a'", "'ā'", "'{0}'", "'{}'", "' '", "1", "-1", "10**8", "-10**8", "99999", "100000", "3000", "2", "0.5"])
OPERATIONS = st.sampled_from(
    ["({a}*{b})", "round({a}, {b})", "({a}*{b}).strip({a}*{b})", "({a}*{b}).join([{a}]*{b})", "({a}*{b}).split({a})",
     "({a}*{b}).replace({a}, {a}*{b})", "({a}*{b}).format({a}*{b})", "[{a}*{b} for x in {a}*{b}]", "{a}**{b}",
     "int({a}*{b})", "str({a}*{b})", "f'{{{a}*{b}}}{{{a}*{b}}}'", "[[{a}]*{b}]*{b}", "len({a}*{b})"]
)


@bounded(120)
@given(st.lists(st.tuples(OPERATIONS, PIECES, PIECES), min_size=1, max_size=3))
def test_costly_operations_are_refused_or_finish_quickly(parts):
    text = " + ".join(op.format(a=a, b=b) for op, a, b in parts)
    started = time.monotonic()
    try:
        evaluate_text(text)
    except ExpressionError as exc:
        assert str(exc) and "\n" not in str(exc)
    assert time.monotonic() - started < BOUND_S, text
