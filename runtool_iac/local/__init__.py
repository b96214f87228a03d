"""Local mode: run an experiment's training jobs on this machine.

The same CreateTrainingJob requests the cloud gets are run here following
SageMaker's training container contract (``contract``): as processes for
``local:`` commands and mapped images, or with Docker/Podman (``runtimes``),
a few at a time (``executor``), with results written in the Step Functions
ResultWriter format the cloud uses (``report``), so one results reader serves
both. Entry points: ``local_run`` (Python) and ``runtool-iac local`` (``cli``).
"""

from runtool_iac.local.api import LocalOptions, LocalRun, LocalRunInterrupted, local_run, run_plan
from runtool_iac.local.errors import LocalModeError

__all__ = ["LocalModeError", "LocalOptions", "LocalRun", "LocalRunInterrupted", "local_run", "run_plan"]
