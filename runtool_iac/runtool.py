"""The original runtool's module layout: ``import runtool_iac.runtool as runtool``.

Scripts written for the original import ``runtool.runtool`` (``import
runtool.runtool as runtool``, ``from runtool.runtool import Client,
load_config``); changing the first word of that import is all they need.
``import runtool_iac as runtool`` gives the same names.
"""

from __future__ import annotations

from typing import Any, Mapping

import yaml

from runtool_iac.client import Client
from runtool_iac.config import (
    Algorithm,
    Algorithms,
    Config,
    Dataset,
    Datasets,
    Experiment,
    Experiments,
    infer_kind,
    load_config,
    loads,
)

__all__ = [
    "Algorithm",
    "Algorithms",
    "Client",
    "Config",
    "Dataset",
    "Datasets",
    "Experiment",
    "Experiments",
    "infer_kind",
    "load_config",
    "loads",
    "transform_config",
]


def transform_config(config: Mapping[str, Any], name: str = "<dict>") -> Config:
    """A config from an already parsed mapping (the original's ``transform_config``).

    The mapping goes through the same pipeline as a file (written out as YAML,
    so errors point at a line of that text, named ``name``).
    """
    if not isinstance(config, Mapping):
        raise TypeError(f"transform_config takes a mapping of top-level names, not a {type(config).__name__}")
    return loads(yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True), name=name)
