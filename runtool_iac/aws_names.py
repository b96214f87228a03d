"""AWS naming rules that are not in botocore's model.

S3 bucket names are checked by S3 itself, not by the SageMaker request
model (whose S3OutputPath only says ``s3://...``): a name that passes a
character-class regex can still be refused, e.g. ``192.168.1.1``. Rules from
the S3 user guide, "General purpose bucket naming rules"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
"""

from __future__ import annotations

import re

# '_' only for existing buckets from before March 2018 (us-east-1 allowed it then):
# the original runtool's examples use such names, and S3 still serves them.
_BUCKET_CHARS = re.compile(r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]")
_IP_ADDRESS = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_problem(name: object) -> str | None:
    """Why S3 would refuse ``name`` as a general purpose bucket name, or None."""
    if not isinstance(name, str) or not _BUCKET_CHARS.fullmatch(name):
        return "must be 3-63 lowercase letters, digits, '.', '-' (or '_'), starting and ending with a letter or digit"
    if ".." in name or ".-" in name or "-." in name:
        return "must not have '..', '.-' or '-.'"
    if _IP_ADDRESS.fullmatch(name):
        return "must not be formatted as an IP address"
    for prefix in _RESERVED_PREFIXES:
        if name.startswith(prefix):
            return f"must not start with '{prefix}' (reserved by S3)"
    for suffix in _RESERVED_SUFFIXES:
        if name.endswith(suffix):
            return f"must not end with '{suffix}' (reserved by S3)"
    return None
