"""The fast paths of runtool_iac.patterns give the regex's answer, and still apply."""

from __future__ import annotations

import ast
import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from runtool_iac import patterns, sagemaker_codegen
from runtool_iac.config.schema_check import ecma_pattern
from runtool_iac.sagemaker_shapes import SHAPES

from conftest import ROOT

# Characters around every rule: ASCII (each class edge), the line and space characters
# the patterns name, letters, digits and marks beyond ASCII.
ALPHABET = [chr(c) for c in range(128)] + list("\x85\xa0\u1680\u2000\u200a\u200b\u2028\u2029\u202f\u205f\u3000éßЖ中٣²\u0301")
TEXTS = st.text(alphabet=st.sampled_from(ALPHABET), max_size=12)
SCHEMA_PATTERNS = {
    m for path in (ROOT / "schemas").glob("*.schema.json") for m in re.findall(r'"pattern": ("(?:[^"\\]|\\.)*")', path.read_text())
}


def test_every_fast_path_is_in_use():
    """A pattern changed where it is written would silently lose its fast path."""
    from runtool_iac.plan import ROLE_ARN

    shape_patterns = {shape["pattern"] for shape in SHAPES.values() if "pattern" in shape}
    assert set(patterns.FULLMATCH) <= shape_patterns | {ROLE_ARN}
    assert {sagemaker_codegen.python_pattern(p) for p in (".*", ".+")} <= set(patterns.FULLMATCH)
    assert set(patterns.SEARCH) <= {json.loads(p) for p in SCHEMA_PATTERNS}


@given(TEXTS)
@settings(max_examples=400, deadline=None)
def test_fast_paths_answer_as_their_regex(value):
    for pattern, fast in patterns.FULLMATCH.items():
        answer = fast(value)
        assert answer is None or answer == (re.fullmatch(pattern, value) is not None), (pattern, value)
        assert patterns.full_match(pattern)(value) == (re.fullmatch(pattern, value) is not None)
    for pattern, fast in patterns.SEARCH.items():
        answer = fast(value)
        assert answer is None or answer == (ecma_pattern(pattern).search(value) is not None), (pattern, value)


def test_fast_paths_decide_every_ascii_character_alone():
    for c in map(chr, range(128)):
        for pattern, fast in {**patterns.FULLMATCH, **patterns.SEARCH}.items():
            assert fast(c) is not None, (pattern, c)


# The regexes that the scanners and fast paths below replaced, as references.
TOKEN_RE = re.compile(r"\s*(?:(?P<name>[A-Za-z0-9_][A-Za-z0-9_.\-]*)|\"(?P<dq>[^\"]+)\"|'(?P<sq>[^']+)'|(?P<op>[+*()]))")
PATH_TOKEN_RE = re.compile(r"\[(\d+)\]|\[['\"]([^'\"]+)['\"]\]|([^.\[\]]+)")
EXPRESSION_TEXTS = st.text(alphabet=st.sampled_from(list("ab_Z09.-+*() \t\u3000\"'é$") + ["\x1c", "\u00a0"]), max_size=14)


def reference_tokens(text: str) -> list[tuple[str, str, int]] | tuple[str, int]:
    tokens, pos = [], 0
    while pos < len(text):
        if re.match(r"\s*\Z", text[pos:]):
            break
        match = TOKEN_RE.match(text, pos)
        if not match:
            column = pos + len(text[pos:]) - len(text[pos:].lstrip()) + 1
            return (text[column - 1], column)
        group = match.lastgroup
        tokens.append((match.group(group) if group == "op" else "name", match.group(group), match.start(group) + 1))
        pos = match.end()
    return tokens + [("end", "", len(text) + 1)]


@given(EXPRESSION_TEXTS)
@settings(max_examples=500, deadline=None)
def test_experiment_tokens_are_the_regexs(text):
    from runtool_iac import experiment_expr

    try:
        got = [(t.kind, t.text, t.column) for t in experiment_expr._tokenize(text)]
    except experiment_expr._Error as exc:
        got = (ast.literal_eval(str(exc).removeprefix("unexpected character ")), exc.column)
    assert got == reference_tokens(text)


@given(st.text(alphabet=st.sampled_from(list("ab.0 9$_-é²[]'\"")), max_size=10))
@settings(max_examples=500, deadline=None)
def test_dotted_paths_parse_as_the_token_regex_would(text):
    from runtool_iac.config.resolve import parse_path

    def reference(text: str) -> tuple | str:
        text = text.strip().removeprefix("$.")
        parts, pos = [], 0
        while pos < len(text):
            if text[pos] == ".":
                pos += 1
                continue
            match = PATH_TOKEN_RE.match(text, pos)
            if not match:
                return "error"
            index, quoted, name = match.groups()
            if index is None and quoted is None and name.isdigit() and not name.isdecimal():
                return "error"  # int('²') fails in both
            parts.append(int(index) if index is not None else quoted if quoted is not None else (int(name) if name.isdigit() else name))
            pos = match.end()
        return tuple(parts) or "error"

    try:
        got = parse_path(text)
    except ValueError:
        got = "error"
    assert got == reference(text)


@given(st.text(alphabet=st.sampled_from(list("aZ09-_. é\t") + ["\u0660"]), max_size=10))
@settings(max_examples=300, deadline=None)
def test_name_sanitizing_is_the_regexs(text):
    from runtool_iac.naming import sanitize_name

    assert sanitize_name(text) == re.sub(r"[^a-zA-Z0-9-]+", "-", text).strip("-")


@given(st.text(alphabet=st.sampled_from(list("az09._-A:/ \n") + ["\u0661", "é"]), max_size=70))
@settings(max_examples=500, deadline=None)
def test_name_rules_written_as_sets_are_their_regexs(text):
    from runtool_iac import aws_names
    from runtool_iac.plan import _has_space_or_control, _is_experiment_name

    assert aws_names._is_bucket_shaped(text) == bool(re.fullmatch(r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]", text))
    assert aws_names._is_ip_address(text) == bool(re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", text))
    assert _is_experiment_name(text) == bool(re.fullmatch(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,99}$", text))
    assert _has_space_or_control(text) == bool(re.search(r"[\s\x00-\x1f\x7f]", text))


def test_ip_addresses_are_found_by_the_set_rule():
    from runtool_iac import aws_names

    assert aws_names._is_ip_address("192.168.1.1") and not aws_names._is_ip_address("192.168.1")
    assert aws_names.bucket_problem("192.168.1.1") == "must not be formatted as an IP address"


@given(st.text(alphabet=st.sampled_from(list("as3:/htp.-fileA9 \n_\t") + ["\u2028", "é"]), max_size=16))
@settings(max_examples=800, deadline=None)
def test_structured_fast_paths_answer_as_their_regex(text):
    """The prefixes the URI, ARN and path rules look for, in every arrangement."""
    for prefix in ("", "s3://", "https://", "file://", "arn:aws:iam::1:role/", "arn:aws-cn:iam::", "$sagemaker."):
        value = prefix + text
        for pattern, fast in patterns.FULLMATCH.items():
            answer = fast(value)
            assert answer is None or answer == (re.fullmatch(pattern, value) is not None), (pattern, value)
        for pattern, fast in patterns.SEARCH.items():
            answer = fast(value)
            assert answer is None or answer == (ecma_pattern(pattern).search(value) is not None), (pattern, value)
