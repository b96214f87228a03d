from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from runtool_iac.config import loads
from runtool_iac.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIGS = sorted((ROOT / "examples" / "forecasting" / "configs").glob("*.yml"))

# Tests must never reach AWS: fake credentials and a region for boto3/moto.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def load(text: str, name: str = "test.yml"):
    return loads(textwrap.dedent(text), name)


def problems(text: str, name: str = "test.yml") -> list[str]:
    """The error lines loading ``text`` produces (fails if it loads)."""
    with pytest.raises(ConfigError) as info:
        load(text, name)
    return str(info.value).splitlines()


ALGO = """
algo:
  image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/algo:1
  instance: ml.m5.xlarge
"""
DS = """
ds:
  path: {train: s3://bucket/train/, test: s3://bucket/test/}
  meta: {freq: D, prediction_length: 7}
"""
