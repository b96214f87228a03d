"""runtool_iac: experiment configs → SageMaker training jobs, fanned out by Step Functions.

``import runtool_iac as runtool`` (or ``import runtool_iac.runtool as
runtool``) gives the original runtool's API: ``load_config``, ``loads``,
``transform_config``, the ``+``/``*`` algebra on its nodes, and ``Client``
with ``dry_run``, ``run`` and ``local_run``.
"""

from runtool_iac.client import Client
from runtool_iac.config import (
    Algorithm,
    Algorithms,
    Config,
    Dataset,
    Datasets,
    Experiment,
    Experiments,
    load_config,
    loads,
)
from runtool_iac.errors import ConfigError
from runtool_iac.plan import PLACEHOLDER_BUCKET, PLACEHOLDER_ROLE_ARN, build_plan, plan
from runtool_iac import runtool  # noqa: E402  (the original's `runtool.runtool` module)
from runtool_iac.runtool import transform_config

__version__ = "0.1.0"

__all__ = [
    "Algorithm",
    "Algorithms",
    "Client",
    "Config",
    "ConfigError",
    "Dataset",
    "Datasets",
    "Experiment",
    "Experiments",
    "PLACEHOLDER_BUCKET",
    "PLACEHOLDER_ROLE_ARN",
    "build_plan",
    "load_config",
    "loads",
    "plan",
    "runtool",
    "transform_config",
]
