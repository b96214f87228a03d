"""Exact answers for the regexes every plan checks, mostly without compiling them.

CPython compiles a regex in pure Python (``re._parser``, ``re._compiler``):
0.1-0.4 ms each, a Unicode class like AWS's tag characters the most. A small
plan checks some twenty of them once, which was a sixth of its work beyond
the interpreter's start (issue 11). For the patterns below, the common
values are decided by string methods; a fast path returns None when it does
not know (non-ASCII text), and only then is the regex compiled and asked.
Keyed by the exact pattern text: a pattern edited elsewhere simply loses its
fast path. tests/test_patterns.py holds every fast path to its regex.
"""

from __future__ import annotations

import functools
import re

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Callable

    Fast = Callable[[str], "bool | None"]

LINE_BREAKS = "\n\r\x85\u2028\u2029"  # what botocore's `.` excludes, as sagemaker_codegen translates it
LOWER = "abcdefghijklmnopqrstuvwxyz"  # ASCII only, as the rules below: [a-z]
LOWER_DIGITS = LOWER + "0123456789"  # [a-z0-9]
ALNUM = LOWER.upper() + LOWER_DIGITS  # [a-zA-Z0-9]
# AWS's tag characters (\p{L}\p{Z}\p{N}_.:/=+\-@) that are ASCII: what \w and the listed spaces leave.
_TAG_ASCII = ALNUM + "_ .:/=+-@"
_UNICODE_SPACES = "\\u0020\\u00a0\\u1680\\u2000\\u2001\\u2002\\u2003\\u2004\\u2005\\u2006\\u2007\\u2008\\u2009\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"


def _one_line(nonempty: bool) -> Fast:
    return lambda value: (bool(value) or not nonempty) and not any(c in value for c in LINE_BREAKS)


def made_of(value: str, chars: str, least: int = 1, most: int | None = None, first: str = "", last: str = "") -> bool:
    """``least`` to ``most`` characters, each one of ``chars``, the first one of ``first`` and the
    last one of ``last`` (when given): a character-class regex such as
    ``[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]``, without compiling one. ``not value.strip(chars)``
    (every character is one of chars) runs in C."""
    return (
        least <= len(value) <= (most or len(value)) and not value.strip(chars)
        and (not first or value[0] in first) and (not last or value[-1] in last)
    )


def _tag_text(value: str) -> bool | None:
    return made_of(value, _TAG_ASCII, least=0) if value.isascii() else None


def _all_in(chars: str, most: int | None = None) -> Fast:
    return lambda value: made_of(value, chars, most=most)


def _job_name(value: str) -> bool:
    """[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}: alphanumerics and hyphens, not at either end, at most 63 alphanumerics."""
    core = value.replace("-", "")
    return made_of(value, ALNUM + "-", first=ALNUM, last=ALNUM) and len(core) <= 63


def _web_uri(value: str) -> bool:
    """(https|s3)://([^/]+)/?(.*): a host up to the first '/' (not empty), then one line."""
    scheme = "s3://" if value.startswith("s3://") else "https://" if value.startswith("https://") else None
    if scheme is None:
        return False
    host, slash, path = value[len(scheme):].partition("/")
    return bool(host) and not any(c in path for c in LINE_BREAKS)


def _dataset_path(value: str) -> bool:
    """s3://[^/\\s]+(/.*)? | file://.+ | [^:]+ (Python's `.`: anything but \\n)."""
    if value.startswith("s3://"):
        host, slash, path = value[5:].partition("/")
        if host and not any(c.isspace() for c in host) and "\n" not in path:
            return True
    if value.startswith("file://") and len(value) > 7 and "\n" not in value[7:]:
        return True
    return bool(value) and ":" not in value


def _role_arn(value: str) -> bool:
    """arn:aws[a-z\\-]*:iam::[^:]*:role/.+ (the loose form plans accept; see plan.ROLE_ARN)."""
    if not value.startswith("arn:aws"):
        return False
    partition, sep, rest = value[7:].partition(":")
    if not sep or partition.strip(_PARTITION_CHARS) or not rest.startswith("iam::"):
        return False
    account, sep, rest = rest[5:].partition(":")
    return bool(sep) and rest.startswith("role/") and len(rest) > 5 and "\n" not in rest


_METRIC_NAME = ALNUM + ".-_"
_PARTITION_CHARS = LOWER + "-"

# Whole-value matches (re.fullmatch), as sagemaker.py checks botocore's shapes.
FULLMATCH: dict[str, Fast] = {
    "[^\\n\\r\\x85\\u2028\\u2029]*": _one_line(nonempty=False),  # botocore's `.*`
    "[^\\n\\r\\x85\\u2028\\u2029]+": _one_line(nonempty=True),  # botocore's `.+`
    f"([\\w{_UNICODE_SPACES}_.:/=+\\-@]*)": _tag_text,  # TagKey, TagValue
    "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}": _job_name,  # TrainingJobName
    "(https|s3)://([^/]+)/?([^\\n\\r\\x85\\u2028\\u2029]*)": _web_uri,  # S3Uri, S3OutputPath
    "[A-Za-z0-9\\.\\-_]+": _all_in(_METRIC_NAME),  # MetricName
    "^arn:aws[a-z\\-]*:iam::[^:]*:role/.+$": _role_arn,  # plan.ROLE_ARN
}

# Searches with ECMA-262's `$` (end of text), as the JSON schemas' `pattern`s are checked.
SEARCH: dict[str, Fast] = {
    "^[^$]": lambda value: value[:1] not in ("", "$"),
    "^aws:": lambda value: value.startswith("aws:"),
    "^[\\w\\u0020\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000.:/=+\\-@]*$": _tag_text,
    "^[A-Za-z0-9.\\-_]{1,64}$": _all_in(_METRIC_NAME, most=64),
    "^(s3://[^/\\s]+(/.*)?|file://.+|[^:]+)$": _dataset_path,
}


def matcher(pattern: str, fast: dict[str, Fast], compile_regex: Callable[[str], Callable[[str], bool]]) -> Callable[[str], bool]:
    """A predicate for ``pattern``: its fast path where there is one, else (or when that
    does not know) the regex ``compile_regex`` makes, compiled on first need."""
    regex = functools.cache(lambda: compile_regex(pattern))
    known = fast.get(pattern)
    if known is None:
        return lambda value: regex()(value)

    def check(value: str) -> bool:
        answer = known(value)
        return regex()(value) if answer is None else answer

    return check


def full_match(pattern: str) -> Callable[[str], bool]:
    return matcher(pattern, FULLMATCH, lambda p: (lambda v, m=re.compile(p).fullmatch: m(v) is not None))
