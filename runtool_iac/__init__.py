"""runtool_iac: experiment configs → SageMaker training jobs, fanned out by Step Functions.

``import runtool_iac as runtool`` (or ``import runtool_iac.runtool as
runtool``) gives the original runtool's API: ``load_config``, ``loads``,
``transform_config``, the ``+``/``*`` algebra on its nodes, and ``Client``
with ``dry_run``, ``run`` and ``local_run``.
"""

from runtool_iac import runtool  # the original's `runtool.runtool` module
from runtool_iac.errors import ConfigError
from runtool_iac.plan import PLACEHOLDER_BUCKET, PLACEHOLDER_ROLE_ARN, build_plan, plan
from runtool_iac.runtool import *  # noqa: F403  (the original's API: runtool.__all__)

__version__ = "0.1.0"

__all__ = [
    *runtool.__all__,
    "ConfigError",
    "PLACEHOLDER_BUCKET",
    "PLACEHOLDER_ROLE_ARN",
    "build_plan",
    "plan",
    "runtool",
]
