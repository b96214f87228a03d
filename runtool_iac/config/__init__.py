"""Loading, resolving and validating experiment configs."""

from runtool_iac.config.loader import Config, infer_kind, load_config, loads
from runtool_iac.config.nodes import (
    Algorithm,
    Algorithms,
    Dataset,
    Datasets,
    Experiment,
    Experiments,
    Member,
)

__all__ = [
    "Algorithm",
    "Algorithms",
    "Config",
    "Dataset",
    "Datasets",
    "Experiment",
    "Experiments",
    "Member",
    "infer_kind",
    "load_config",
    "loads",
]
