"""The Python entry point, shaped like the original runtool's ``Client``.

Signatures follow the original so its scripts run unchanged:
``Client(role, bucket, session)`` (``role_arn=`` is accepted too), and
``dry_run``/``run(experiment, experiment_name, runs, job_name_expression, tags)``
in that positional order.

``dry_run`` is pure planning. ``run`` and ``local_run`` are the effectful
edges; their machinery lives in ``runner`` and ``local`` and is imported only
when used, so planning stays fast and needs neither boto3 sessions nor CDK.
"""

from __future__ import annotations

import sys
from pathlib import Path
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
        role: str | None = None,
        bucket: str | None = None,
        session: Any = None,
        *,
        role_arn: str | None = None,
        tags: Mapping[str, Any] | None = None,
        stack_name: str | None = None,
    ) -> None:
        # The original's README says role=, its examples role_arn=; empty strings
        # (its local-mode examples) mean "none given".
        if role and role_arn and role != role_arn:
            raise TypeError(f"role={role!r} and role_arn={role_arn!r} differ; give one of them")
        self.role_arn = role or role_arn or PLACEHOLDER_ROLE_ARN
        self.bucket = bucket or PLACEHOLDER_BUCKET
        self.session = session
        self.tags = dict(tags or {})
        self.stack_name = stack_name

    @property
    def role(self) -> str:
        return self.role_arn

    def plan(
        self,
        experiment: Any,
        experiment_name: str = DEFAULT_EXPERIMENT_NAME,
        runs: int = 1,
        job_name_expression: str | None = None,
        tags: Mapping[str, Any] | None = None,
        *,
        target: str = "sagemaker",
    ) -> Plan:
        """The jobs ``dry_run`` shows, as a ``Plan`` (requests plus labels)."""
        return build_plan(
            experiment,
            runs=runs,
            experiment_name=experiment_name,
            bucket=self.bucket,
            role_arn=self.role_arn,
            tags={**self.tags, **(tags or {})},
            target=target,
            job_name_expression=job_name_expression,
        )

    def dry_run(
        self,
        experiment: Any,
        experiment_name: str = DEFAULT_EXPERIMENT_NAME,
        runs: int = 1,
        job_name_expression: str | None = None,
        tags: Mapping[str, Any] | None = None,
        *,
        file: TextIO | None = None,
    ) -> list[dict]:
        """Print the dry-run table and return the requests that ``run`` would start."""
        planned = self.plan(experiment, experiment_name, runs, job_name_expression, tags)
        (file or sys.stdout).write(render.table(planned))
        return planned.requests()

    def run(
        self,
        experiment: Any,
        experiment_name: str = DEFAULT_EXPERIMENT_NAME,
        runs: int = 1,
        job_name_expression: str | None = None,
        tags: Mapping[str, Any] | None = None,
        *,
        execution_name: str | None = None,
        skip_completed: bool = False,
    ) -> list[str]:
        """Start ``experiment`` on the deployed project's ad-hoc state machine; returns the job names.

        A constant number of AWS calls whatever the number of jobs: the
        manifest is uploaded and Step Functions fans the jobs out. With
        ``skip_completed``, only jobs whose job key has no completed result in
        an earlier ``run`` of ``experiment_name`` start (it prints "N to run, M
        already completed"; "nothing to run" returns ``[]``); the split is kept
        in ``self.last_selection``.
        """
        from runtool_iac.runner import Runner, RunnerError

        runner = Runner(self._stack_name(), session=self.session)
        deployment = runner.deployment()
        for given, deployed, what in ((self.bucket, deployment.bucket, "bucket"), (self.role_arn, deployment.role_arn, "role")):
            if given not in (PLACEHOLDER_BUCKET, PLACEHOLDER_ROLE_ARN, deployed):
                raise RunnerError(f"{what} {given!r} differs from the deployed stack's {deployed!r}; jobs use the deployed one")
        planned = build_plan(
            experiment,
            runs=runs,
            experiment_name=experiment_name,
            bucket=deployment.bucket,
            role_arn=deployment.role_arn,
            tags={**self.tags, **(tags or {})},
            name_prefix=deployment.job_prefix,
            job_name_expression=job_name_expression,
        )
        if skip_completed:
            from runtool_iac import history
            from runtool_iac.manifest import ADHOC

            self.last_selection = history.select(planned, runner.executions(ADHOC, experiment_name=experiment_name))
            print(self.last_selection.summary())
            if not self.last_selection.to_run:
                print("nothing to run")
                return []
            planned = self.last_selection.subset()
        self.last_started = runner.start_plan(planned, name=execution_name)
        return self.last_started.job_names

    def rerun(self, execution: str, wait: bool = False, poll_seconds: float = 10.0) -> list[str]:
        """Start a new execution over exactly the jobs ``execution`` (ARN or name) did not
        complete — failed, stopped, aborted, never started — with new job names; returns
        their names ([] when every job completed). ``wait``: block until it ends.

        Works whatever the execution's terminal state, SUCCEEDED with tolerated
        failures included (AWS redrives only FAILED, ABORTED and TIMED_OUT ones).
        An execution of a declared experiment is re-planned from runtool.yml.
        """
        from runtool_iac.runner import Runner, experiment_of

        runner = Runner(self._stack_name(), session=self.session)

        def declared(runs: int | None) -> Plan:
            from runtool_iac.project import load_project

            return load_project().plan(experiment_of(runner.deployment(), runner.resolve(execution)), runs=runs)

        started = runner.rerun(execution, plan_for_runs=declared)
        self.last_started = started
        if started is None:
            return []
        if wait:
            runner.wait(started.execution_arn, poll_seconds=poll_seconds)
        return started.job_names

    def local_run(
        self,
        experiment: Any,
        output_dir: str | Path | None = None,
        runs: int = 1,
        experiment_name: str = DEFAULT_EXPERIMENT_NAME,
        job_name_expression: str | None = None,
        **options: Any,
    ) -> list[Any]:
        """Run ``experiment``'s jobs on this machine (SageMaker's container contract);
        returns one ``results.JobResult`` per job. ``options`` go to
        ``runtool_iac.local.local_run`` (max_parallel, images, data, project_root, quiet)."""
        from runtool_iac.local.api import local_run

        planned = build_plan(
            experiment,
            runs=runs,
            experiment_name=experiment_name,
            tags=self.tags,
            target="local",
            job_name_expression=job_name_expression,
        )
        return local_run(planned, output_dir=output_dir, **options)

    def _stack_name(self) -> str:
        if self.stack_name:
            return self.stack_name
        from runtool_iac.project import load_project

        return load_project().stack_name()
