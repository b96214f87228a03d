"""AWS naming rules that are not in botocore's model.

S3 bucket names are checked by S3 itself, not by the SageMaker request
model (whose S3OutputPath only says ``s3://...``): a name that passes a
character-class regex can still be refused, e.g. ``192.168.1.1``. Rules from
the S3 user guide, "General purpose bucket naming rules"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
"""

from __future__ import annotations

from runtool_iac import patterns

# '_' only for existing buckets from before March 2018 (us-east-1 allowed it then):
# the original runtool's examples use such names, and S3 still serves them.
# (Character sets, not regexes: see ``patterns``.)
_BUCKET_CHARS = patterns.LOWER_DIGITS + "._-"
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_problem(name: object) -> str | None:
    """Why S3 would refuse ``name`` as a general purpose bucket name, or None."""
    if not _is_bucket_shaped(name):
        return "must be 3-63 lowercase letters, digits, '.', '-' (or '_'), starting and ending with a letter or digit"
    if ".." in name or ".-" in name or "-." in name:
        return "must not have '..', '.-' or '-.'"
    if _is_ip_address(name):
        return "must not be formatted as an IP address"
    for prefix in _RESERVED_PREFIXES:
        if name.startswith(prefix):
            return f"must not start with '{prefix}' (reserved by S3)"
    for suffix in _RESERVED_SUFFIXES:
        if name.endswith(suffix):
            return f"must not end with '{suffix}' (reserved by S3)"
    return None


def _is_bucket_shaped(name: object) -> bool:
    """[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]"""
    ends = patterns.LOWER_DIGITS
    return isinstance(name, str) and patterns.made_of(name, _BUCKET_CHARS, 3, 63, first=ends, last=ends)


def _is_ip_address(name: str) -> bool:
    r"""\d{1,3}(\.\d{1,3}){3}"""
    parts = name.split(".")
    return len(parts) == 4 and all(1 <= len(part) <= 3 and part.isdecimal() for part in parts)
