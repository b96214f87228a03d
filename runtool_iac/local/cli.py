"""``runtool-iac local``: run an experiment's jobs on this machine.

Registered on the main group by ``runtool_iac/cli.py``. The main CLI module is
imported inside the command, not at the top, so importing this module first
cannot run into the main module's import of it.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, NoReturn

import click

if TYPE_CHECKING:
    from runtool_iac.plan import Plan

EXIT_FAILED_JOBS = 1
EXIT_INTERRUPTED = 130  # as a shell reports a Ctrl-C


@click.command("local")
@click.argument("targets", nargs=-1, required=True, metavar="EXPERIMENT | FILE...")
@click.option("-e", "--experiment", "expression", default=None, help='Experiment expression over FILEs, e.g. "algos * datasets".')
@click.option("--project", type=click.Path(), default=None, help="runtool.yml (default: found upward from the current folder).")
@click.option("--runs", type=click.IntRange(1, 1000), default=None, help="Repetitions of every trial (default: the experiment's).")
@click.option("--experiment-name", default=None, help="Name of an expression's experiment (default: experiment).")
@click.option("--output-dir", type=click.Path(file_okay=False), default=None, help="Where job folders and results go.")
@click.option("--max-parallel", type=click.IntRange(1, 64), default=None, help="Jobs at once (default: local.max_parallel, else 2).")
@click.option("--skip-completed", is_flag=True, help="Run only the jobs without a completed result in an earlier local run (matched by job key).")
@click.option("-q", "--quiet", is_flag=True, help="Do not stream job logs; print only the results table.")
def local_command(**options: object) -> None:
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
    from runtool_iac.cli import handle_errors

    sys.exit(handle_errors(_local)(**options))


def _local(
    targets: tuple[str, ...],
    expression: str | None,
    project: str | None,
    runs: int | None,
    experiment_name: str | None,
    output_dir: str | None,
    max_parallel: int | None,
    skip_completed: bool,
    quiet: bool,
) -> int:
    from runtool_iac import results
    from runtool_iac.local import LocalModeError, LocalOptions, LocalRunInterrupted, run_plan
    from runtool_iac.project import LocalSettings, Project, load_project

    proj: Project | None
    if expression is None:
        if len(targets) != 1:
            raise click.UsageError("give one EXPERIMENT declared in runtool.yml, or FILEs with --experiment")
        if experiment_name:
            raise click.UsageError("--experiment-name names an --experiment expression; a declared experiment has its name")
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
            stream=None if quiet else sys.stdout,
        ),
        adopt_orphans=True,
    )
    if skip_completed:
        from runtool_iac import history

        selection = history.select(plan, history.local_executions(options.output_dir, plan.experiment_name))
        click.echo(selection.summary())
        if not selection.to_run:
            click.echo("nothing to run")
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
        click.echo("interrupted: unfinished jobs are marked Stopped or Aborted", err=True)
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
        click.echo(f"error: {problem}", err=True)
    sys.exit(1)
