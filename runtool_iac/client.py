"""The Python entry point, shaped like the original runtool's ``Client``.

``dry_run`` is pure planning. ``run`` and ``local_run`` are the effectful
edges; their machinery lives in ``runner`` and ``local`` and is imported only
when used, so planning stays fast and needs neither boto3 sessions nor CDK.
"""

from __future__ import annotations

import sys
from typing import Any, Mapping, TextIO

from runtool_iac import render
from runtool_iac.plan import (
    DEFAULT_EXPERIMENT_NAME,
    PLACEHOLDER_BUCKET,
    PLACEHOLDER_ROLE_ARN,
    Plan,
    build_plan,
)


class Client:
    def __init__(
        self,
        role_arn: str = PLACEHOLDER_ROLE_ARN,
        bucket: str = PLACEHOLDER_BUCKET,
        session: Any = None,
        *,
        tags: Mapping[str, Any] | None = None,
        stack_name: str | None = None,
    ) -> None:
        self.role_arn = role_arn
        self.bucket = bucket
        self.session = session
        self.tags = dict(tags or {})
        self.stack_name = stack_name

    def plan(
        self,
        experiment: Any,
        runs: int = 1,
        experiment_name: str = DEFAULT_EXPERIMENT_NAME,
        tags: Mapping[str, Any] | None = None,
        target: str = "sagemaker",
    ) -> Plan:
        return build_plan(
            experiment,
            runs=runs,
            experiment_name=experiment_name,
            bucket=self.bucket,
            role_arn=self.role_arn,
            tags={**self.tags, **(tags or {})},
            target=target,
        )

    def dry_run(
        self,
        experiment: Any,
        runs: int = 1,
        experiment_name: str = DEFAULT_EXPERIMENT_NAME,
        tags: Mapping[str, Any] | None = None,
        file: TextIO | None = None,
    ) -> list[dict]:
        """Print the dry-run table and return the requests that ``run`` would start."""
        planned = self.plan(experiment, runs, experiment_name, tags)
        (file or sys.stdout).write(render.table(planned))
        return planned.requests()
