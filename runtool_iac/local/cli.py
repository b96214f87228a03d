"""``runtool-iac local``: run an experiment's jobs on this machine.

Registered in ``runtool_iac/cli.py``'s table of commands, and imported only when it runs.
"""

from __future__ import annotations

import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, NoReturn

from runtool_iac.commands.command import Option, UsageError, command
from runtool_iac.commands.options import EXPRESSION, TARGETS
from runtool_iac.commands.output import echo, quiet
from runtool_iac.commands.values import IntRange, Path as PathValue

if TYPE_CHECKING:
    from runtool_iac.plan import Plan

EXIT_FAILED_JOBS = 1
EXIT_INTERRUPTED = 130  # as a shell reports a Ctrl-C


@command(
    "local",
    TARGETS,
    EXPRESSION,
    Option("--project", type=PathValue(), help="runtool.yml (default: found upward from the current folder)."),
    Option("--runs", type=IntRange(1, 1000), help="Repetitions of every trial (default: the experiment's)."),
    Option("--experiment-name", help="Name of an expression's experiment (default: experiment)."),
    Option("--output-dir", type=PathValue(file_okay=False), help="Where job folders and results go."),
    Option("--max-parallel", type=IntRange(1, 64), help="Jobs at once (default: local.max_parallel, else 2)."),
    Option("--skip-completed", flag=True, help="Run only the jobs without a completed result in an earlier local run (matched by job key)."),
    quiet_help="Do not stream job logs; print only the results table.",
)
def local_command(**options: Any) -> None:
    """Run an experiment's training jobs here, with SageMaker's container contract.

    \b
    Two forms:
      runtool-iac local EXPERIMENT                      an experiment declared in runtool.yml
      runtool-iac local FILE... -e "algos * datasets"   an expression over config files
    Images map to local commands or Docker images, and s3:// data to local
    folders, through the `local:` section of runtool.yml (docs/local_mode.md).
    With --skip-completed, only jobs whose job key has no completed result in
    an earlier local run of the experiment run ("nothing to run": exit 0).
    Exits 1 if a job did not complete, 130 if interrupted.

    \b
    Example:
      runtool-iac local bench --max-parallel 4
    """
    sys.exit(_local(**options))


def _local(
    targets: tuple[str, ...],
    expression: str | None,
    project: str | None,
    runs: int | None,
    experiment_name: str | None,
    output_dir: str | None,
    max_parallel: int | None,
    skip_completed: bool,
) -> int:
    import dataclasses

    from runtool_iac import results
    from runtool_iac.local import LocalModeError, LocalOptions, LocalRunInterrupted, run_plan
    from runtool_iac.project import LocalSettings, Project, load_project

    proj: Project | None
    if expression is None:
        if len(targets) != 1:
            raise UsageError("give one EXPERIMENT declared in runtool.yml, or FILEs with --experiment")
        if experiment_name:
            raise UsageError("--experiment-name names an --experiment expression; a declared experiment has its name")
        proj = load_project(project)
        plan = proj.plan(targets[0], runs=runs, target="local")
    else:
        found = project or _nearby_project_file()
        proj = load_project(found) if found else None
        plan = _expression_plan(targets, expression, runs, experiment_name)

    settings = proj.local if proj else LocalSettings()
    options = dataclasses.replace(
        LocalOptions.create(
            project_root=proj.root if proj else Path.cwd(),
            output_dir=output_dir or settings.output_dir,
            images=settings.images,
            data=settings.data,
            max_parallel=max_parallel or settings.max_parallel,
            stream=None if quiet() else sys.stdout,
        ),
        adopt_orphans=True,
    )
    if skip_completed:
        from runtool_iac import history

        selection = history.select(plan, history.local_executions(options.output_dir, plan.experiment_name))
        echo(selection.summary())
        if not selection.to_run:
            echo("nothing to run")
            return 0
        plan = selection.subset()
    try:
        with _termination_interrupts():
            run = run_plan(plan, options)
        code = 0 if run.ok else EXIT_FAILED_JOBS
    except LocalRunInterrupted as interrupted:
        run, code = interrupted.run, EXIT_INTERRUPTED
    except LocalModeError as exc:
        _fail(exc.problems)
    _print("\n" + results.to_table(run.results) + f"job folders: {run.jobs_dir}\nresults: {run.results_dir}\n")
    if code == EXIT_INTERRUPTED:
        echo("interrupted: unfinished jobs are marked Stopped or Aborted", err=True)
    return code


def _print(text: str) -> None:
    """To stdout, which may be closed (`| head -1`): the exit code stays the run's."""
    from runtool_iac.local.executor import discard_stdout_if

    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except (OSError, ValueError):
        discard_stdout_if(sys.stdout)


def _nearby_project_file() -> Path | None:
    """The runtool.yml above the current folder, if any: its `local:` settings apply to FILE runs too."""
    from runtool_iac.errors import ConfigError
    from runtool_iac.project import find_project_file

    try:
        return find_project_file()
    except ConfigError:
        return None


def _expression_plan(files: tuple[str, ...], expression: str, runs: int | None, experiment_name: str | None) -> Plan:
    from runtool_iac.config import load_config
    from runtool_iac.experiment_expr import parse_experiment
    from runtool_iac.plan import DEFAULT_EXPERIMENT_NAME, build_plan

    config = load_config(*files)
    return build_plan(
        parse_experiment(expression, config),
        runs=runs or 1,
        experiment_name=experiment_name or DEFAULT_EXPERIMENT_NAME,
        target="local",
    )


@contextmanager
def _termination_interrupts() -> Iterator[None]:
    """SIGTERM (a CI cancel) and SIGHUP (a closed terminal) stop the jobs like Ctrl-C does.

    Jobs run in their own sessions, so neither signal reaches them directly;
    without this, runtool-iac would die and leave them running.
    """

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _fail(problems: list[str]) -> NoReturn:
    for problem in problems:
        echo(f"error: {problem}", err=True)
    sys.exit(1)
