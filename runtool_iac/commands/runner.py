"""CLI commands that talk to a deployed project: run, status, stop, redrive, rerun, results, list."""

from __future__ import annotations

import json
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from runtool_iac.commands.command import Argument, Failure, Option, UsageError, command
from runtool_iac.commands.options import format_option
from runtool_iac.commands.output import detail, echo, info, quiet
from runtool_iac.commands.values import FloatRange, IntRange, Path as PathValue

EXIT_SKIPPED = 3  # `results`: some result files or entries could not be read and were left out

# Where the deployed project is: every command that talks to AWS takes these.
STACK_OPTIONS = (
    Option("--project", dest="project_file", type=PathValue(), help="runtool.yml (default: found upward from here)."),
    Option("--stack", dest="stack_name", help="Stack name (default: from runtool.yml)."),
    Option("--profile", help="AWS profile."),
    Option("--region", help="AWS region."),
    Option("--endpoint-url", help="AWS endpoint (e.g. a local moto server)."),
)
AWS_OPTIONS = (*STACK_OPTIONS, format_option(("table", "json")))
EXECUTION = Argument("execution")
POLL_SECONDS = Option("--poll-seconds", type=FloatRange(0.01, 3600), default=10.0, show_default=True, help="With --wait: how often to poll.")


def _project(project_file: str | None):
    from runtool_iac.project import load_project

    return load_project(project_file)


def _runner(project_file: str | None, stack_name: str | None, profile: str | None, region: str | None, endpoint_url: str | None):
    from runtool_iac.runner import Runner

    if stack_name is None:
        stack_name = _project(project_file).stack_name()
    return Runner(stack_name, region=region, endpoint_url=endpoint_url, profile=profile)


def _echo_json(value: Any) -> None:
    echo(json.dumps(value, indent=2, default=str))


@command(
    "run",
    Argument("experiment"),
    Option("--runs", type=IntRange(1, 1000), help="Repetitions (default: as declared)."),
    Option("--name", help="Execution name (default: EXPERIMENT-<UTC time>). Reusing a name never starts jobs twice."),
    Option("--wait", flag=True, help="Follow the execution with a progress bar; exit 1 unless it succeeds."),
    POLL_SECONDS,
    Option("--skip-completed", flag=True, help="Start only the jobs without a completed result in an earlier execution (matched by job key)."),
    *AWS_OPTIONS,
)
def run_command(experiment: str, runs: int | None, name: str | None, wait: bool, poll_seconds: float, skip_completed: bool, project_file, stack_name, profile, region, endpoint_url, fmt) -> None:
    """Start a deployed EXPERIMENT (declared in runtool.yml) and print its job names.

    With --skip-completed, only the jobs whose job key has no completed result
    in an earlier execution of EXPERIMENT start (a new algorithm, dataset or
    hyperparameter value, more runs); "nothing to run" (exit 0) when none.

    \b
    Examples:
      runtool-iac run bench --runs 5 --wait
      runtool-iac run bench --skip-completed
    """
    project = _project(project_file)
    runner = _runner(project_file, stack_name or project.stack_name(), profile, region, endpoint_url)
    declared = project.plan(experiment)
    skipped: dict[str, int] = {}
    if skip_completed:
        from runtool_iac import history

        selection = history.select(project.plan(experiment, runs=runs), runner.executions(experiment))
        skipped = {"to_run": len(selection.to_run), "completed": len(selection.completed)}
        for line in [selection.summary(), *selection.notes()]:
            info(line, err=fmt == "json")
        if not selection.to_run:
            if fmt == "json":
                _echo_json({"job_names": [], **skipped})
            info("nothing to run", err=fmt == "json")
            return
        started = runner.start_jobs(experiment, selection.subset(), name=name)
    else:
        started = runner.start(experiment, declared, runs=runs, name=name, plan_for_runs=lambda n: project.plan(experiment, runs=n))
    _print_started(started, fmt, runner.deployment().machine_arn(experiment), skipped)
    if wait:
        final = _follow(runner, started.execution_arn, total=len(started.job_names), poll_seconds=poll_seconds)
        sys.exit(0 if final.status == "SUCCEEDED" else 1)


def _print_started(started: Any, fmt: str, machine_arn: str, counts: dict[str, int] | None = None) -> None:
    """The started execution and its job names; JSON also carries ``counts`` (the --skip-completed split)."""
    if fmt == "json":
        _echo_json({**started.__dict__, **(counts or {})})
    elif quiet():  # only the data asked for: one job name per line
        for job_name in started.job_names:
            echo(job_name)
    else:
        if started.already_existed:
            echo(f"execution {started.execution_name} already exists ({started.status}); not started again")
        echo(f"execution: {started.execution_arn}")
        echo(f"console:   {started.console_url}")
        detail(f"state machine: {machine_arn}")
        echo(f"{len(started.job_names)} training jobs:")
        for job_name in started.job_names:
            echo(f"  {job_name}")


def _follow(runner: Any, execution_arn: str, total: int, poll_seconds: float) -> Any:
    """A live progress bar of succeeded/failed/running jobs (rich; plain lines when not a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    if quiet():
        final = runner.wait(execution_arn, poll_seconds=poll_seconds)
        if final.status != "SUCCEEDED":  # an error: shown even when quiet
            echo(f"{final.status}: {final.execution_arn}" + (f" ({final.error}: {final.cause})" if final.error else ""), err=True)
        return final
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=console, transient=False,
    ) as progress:
        task = progress.add_task("jobs", total=total, detail="")

        def update(status: Any) -> None:
            counts = status.totals()
            done = counts.get("succeeded", 0) + counts.get("failed", 0) + counts.get("aborted", 0) + counts.get("timedOut", 0)
            progress.update(
                task,
                completed=done,
                detail=f"✓ {counts.get('succeeded', 0)}  ✗ {counts.get('failed', 0)}  ▶ {counts.get('running', 0)}  [{status.status}]",
            )

        final = runner.wait(execution_arn, on_status=update, poll_seconds=poll_seconds)
    echo(f"{final.status}: {final.execution_arn}" + (f" ({final.error}: {final.cause})" if final.error else ""))
    return final


@command("status", Argument("execution", required=False), *AWS_OPTIONS)
def status_command(execution: str | None, project_file, stack_name, profile, region, endpoint_url, fmt) -> None:
    """Show an EXECUTION (ARN or name; default: the most recent one): state,
    and job counts per instance-type group.

    \b
    Example:
      runtool-iac status bench-20261126-101500
    """
    from runtool_iac.render import text_table
    from runtool_iac.runner import RunnerError

    runner = _runner(project_file, stack_name, profile, region, endpoint_url)
    if execution is None:
        recent = runner.list(1)
        if not recent:
            raise RunnerError("no executions yet; start one with `runtool-iac run EXPERIMENT`")
        execution = recent[0]["executionArn"]
    status = runner.status(execution)
    totals = status.totals()
    # The failure records (job, FailureReason) the failed items carry, once their results are written.
    unsuccessful = totals.get("failed", 0) + totals.get("aborted", 0) + totals.get("timedOut", 0)
    failures = [r for r in runner.results(status.execution_arn, []) if r.status != "Completed"] if unsuccessful else []
    if fmt == "json":
        _echo_json(
            {
                **status.__dict__,
                "groups": [g.__dict__ for g in status.groups],
                "totals": totals,
                "failures": [{"job_name": r.job_name, "status": r.status, "failure_reason": r.failure_reason} for r in failures],
            }
        )
        return
    echo(f"{status.name}: {status.status}" + (f" ({status.error}: {status.cause})" if status.error else ""))
    columns = ["pending", "running", "succeeded", "failed", "aborted", "timedOut", "total"]
    rows = [[g.label] + [str(g.counts.get(c, 0)) for c in columns] for g in status.groups]
    rows.append(["all"] + [str(totals.get(c, 0)) for c in columns])
    echo(text_table(["group"] + columns, rows), nl=False)
    for row in failures:
        echo(f"{row.status}: {row.job_name}: {row.failure_reason}")


@command("stop", EXECUTION, *AWS_OPTIONS)
def stop_command(execution: str, project_file, stack_name, profile, region, endpoint_url, fmt) -> None:
    """Stop an EXECUTION; Step Functions stops its running training jobs.

    \b
    Example:
      runtool-iac stop bench-20261126-101500
    """
    arn = _runner(project_file, stack_name, profile, region, endpoint_url).stop(execution)
    info(f"stopped: {arn}")


@command("redrive", EXECUTION, *AWS_OPTIONS)
def redrive_command(execution: str, project_file, stack_name, profile, region, endpoint_url, fmt) -> None:
    """Redrive a FAILED, ABORTED or TIMED_OUT EXECUTION (AWS RedriveExecution, within
    its 14-day redrive window): only its failed, aborted and never-finished jobs run
    again, each as one new training job with a new name, in the same execution;
    completed jobs keep their results. A SUCCEEDED execution (failures within
    tolerated_failure_percentage) cannot be redriven: use `rerun`.

    \b
    Example:
      runtool-iac redrive bench-20261126-101500
    """
    arn = _runner(project_file, stack_name, profile, region, endpoint_url).redrive(execution)
    info(f"redriving: {arn}")


@command(
    "rerun",
    EXECUTION,
    Option("--name", help="Name of the new execution (default: EXPERIMENT-<UTC time>)."),
    Option("--wait", flag=True, help="Follow the new execution; exit 1 unless it succeeds."),
    POLL_SECONDS,
    *AWS_OPTIONS,
)
def rerun_command(execution: str, name: str | None, wait: bool, poll_seconds: float, project_file, stack_name, profile, region, endpoint_url, fmt) -> None:
    """Start a new execution of EXECUTION's experiment that runs exactly the jobs
    EXECUTION did not complete (failed, stopped, aborted, never started), with new
    job names. Works for an execution in any terminal state, including one that
    SUCCEEDED with tolerated failures. Says "nothing to rerun" when every job completed.

    \b
    Example:
      runtool-iac rerun bench-20261126-101500 --wait
    """
    runner = _runner(project_file, stack_name, profile, region, endpoint_url)
    started = runner.rerun(execution, plan_for_runs=_declared_plans(project_file, runner, execution), name=name)
    if started is None:
        if fmt == "json":
            _echo_json({"execution_arn": None, "job_names": []})
        else:
            info(f"nothing to rerun: every job of {execution} completed")
        return
    _print_started(started, fmt, started.execution_arn.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0])
    if wait:
        final = _follow(runner, started.execution_arn, total=len(started.job_names), poll_seconds=poll_seconds)
        sys.exit(0 if final.status == "SUCCEEDED" else 1)


def _declared_plans(project_file: str | None, runner: Any, execution: str) -> Callable[[int | None], Any]:
    """Plans of EXECUTION's declared experiment for a number of runs (from runtool.yml),
    read only if the execution ran the declared manifest."""

    def plan(runs: int | None) -> Any:
        from runtool_iac.runner import experiment_of

        experiment = experiment_of(runner.deployment(), runner.resolve(execution))
        return _project(project_file).plan(experiment, runs=runs)

    return plan


@command(
    "results",
    Argument("execution", required=False),
    Option("--experiment", metavar="NAME", help="Every execution of experiment NAME: the latest completed result per job key."),
    Option("--local", flag=True, help="With --experiment: local runs (runtool-iac local) instead of the cloud."),
    Option("--output-dir", type=PathValue(file_okay=False), help="With --local: the local output folder (default: runtool.yml's local.output_dir)."),
    format_option(("table", "csv", "json")),
    Option("--pivot", dest="metric", help="Algorithm × dataset matrix of METRIC (mean ± std over runs)."),
    Option("--leaderboard", dest="board_metric", metavar="METRIC", help="Rank algorithms across datasets on METRIC."),
    Option("--baseline", metavar="ALGORITHM", help="With --leaderboard: relative scores and win rates against ALGORITHM."),
    Option("--higher-is-better", flag=True, help="With --leaderboard: larger METRIC values are better (default: smaller)."),
    Option("--plot", dest="plot_file", type=PathValue(dir_okay=False), help="Draw the pivot (heatmap) or the leaderboard (bars) as a PNG."),
    *STACK_OPTIONS,
)
def results_command(
    execution: str | None, experiment: str | None, local: bool, output_dir: str | None, fmt: str, metric: str | None,
    board_metric: str | None, baseline: str | None, higher_is_better: bool, plot_file: str | None,
    project_file, stack_name, profile, region, endpoint_url,
) -> None:
    """One row per job of an EXECUTION (or of a local-mode output folder), or,
    with --experiment, of every execution of an experiment: the latest
    completed result per job key, with the execution it came from.

    A results file that is damaged, missing or not a regular file is named on
    stderr ("warning: skipped PATH: why") and left out; the rest is shown.
    Exit codes: 0 all results read; 1 no results (or another error);
    3 some files or entries were skipped (each named on stderr).

    \b
    Examples:
      runtool-iac results bench-20261126-101500 --pivot MASE
      runtool-iac results runtool-output/bench --pivot MASE --plot mase.png
      runtool-iac results --experiment bench --leaderboard MASE --baseline seasonal_naive
      runtool-iac results --experiment bench --local --format csv
    """
    from runtool_iac import results as res

    if (execution is None) == (experiment is None):
        raise UsageError("give an EXECUTION (or a local output folder), or --experiment NAME")
    if (local or output_dir) and experiment is None:
        raise UsageError("--local and --output-dir go with --experiment NAME")
    if metric and board_metric:
        raise UsageError("--pivot and --leaderboard exclude each other")
    if (baseline or higher_is_better) and not board_metric:
        raise UsageError("--baseline and --higher-is-better go with --leaderboard METRIC")
    if plot_file and not (metric or board_metric):
        raise UsageError("--plot needs --pivot METRIC or --leaderboard METRIC")
    skipped: list[str] = []
    with _skips_noted(skipped):
        if experiment is not None:
            rows = _experiment_results(experiment, local, output_dir, project_file, stack_name, profile, region, endpoint_url)
        elif Path(execution).is_dir():
            rows = res.read_local(execution, skipped)
        elif Path(execution).exists():
            raise UsageError(f"{execution} is not a folder: give a local-mode output folder or an execution")
        else:
            runner = _runner(project_file, stack_name, profile, region, endpoint_url)
            rows = runner.results(execution, skipped, planned=_planned_or_none(runner, execution, project_file))
    for note in skipped:
        echo(f"warning: skipped {note}", err=True)
    if not rows:
        if skipped:
            echo(f"error: no readable results for {execution or experiment} ({len(skipped)} skipped)", err=True)
            sys.exit(EXIT_SKIPPED)
        if experiment is not None:
            where = "locally" if local else "in the cloud"
            raise Failure(f"no completed results of experiment {experiment} {where} yet")
        raise Failure(f"no results for {execution} yet (results are written when each job group finishes)")
    _show_results(rows, fmt, metric, board_metric, baseline, higher_is_better, plot_file)
    if skipped:
        sys.exit(EXIT_SKIPPED)


@contextmanager
def _skips_noted(skipped: list[str]) -> Iterator[None]:
    """Readers called without a ``skipped`` list warn (``ResultsSkipped``); collect those warnings as notes."""
    from runtool_iac.results import ResultsSkipped

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResultsSkipped)
        yield
    for warning in caught:
        if issubclass(warning.category, ResultsSkipped):
            skipped.append(str(warning.message).removeprefix("skipped "))
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


def _show_results(
    rows: list, fmt: str, metric: str | None, board_metric: str | None, baseline: str | None, higher_is_better: bool,
    plot_file: str | None,
) -> None:
    from runtool_iac import results as res

    try:
        if board_metric:
            from runtool_iac import leaderboard

            board = leaderboard.leaderboard(rows, board_metric, baseline=baseline, higher_is_better=higher_is_better)
            echo({"table": board.to_table, "csv": board.to_csv, "json": board.to_json}[fmt](), nl=False)
            if plot_file:
                info(f"plot: {leaderboard.plot(board, plot_file)}", err=True)
            return
        if metric:
            table = res.pivot(rows, metric)
            echo({"table": table.to_table, "csv": table.to_csv, "json": table.to_json}[fmt](), nl=False)
            if plot_file:
                info(f"plot: {res.plot(table, plot_file)}", err=True)
            return
    except ValueError as exc:
        raise Failure(str(exc)) from None
    echo({"table": res.to_table, "csv": res.to_csv, "json": res.to_json}[fmt](rows), nl=False)


def _experiment_results(experiment: str, local: bool, output_dir: str | None, project_file, stack_name, profile, region, endpoint_url) -> list:
    from runtool_iac import history

    source = "local" if local else "aws"
    found = earlier_executions(experiment, source, project_file, stack_name, profile, region, endpoint_url, output_dir)
    return history.experiment_results(found)


def earlier_executions(
    experiment: str, source: str, project_file: str | None = None, stack_name: str | None = None,
    profile: str | None = None, region: str | None = None, endpoint_url: str | None = None, output_dir: str | None = None,
) -> list:
    """Every execution of ``experiment`` with its results: the deployed stack's ("aws") or local runs' ("local")."""
    from runtool_iac import history

    if source == "local":
        return history.local_executions(_local_output_dir(output_dir, project_file), experiment)
    return _cloud_executions(_runner(project_file, stack_name, profile, region, endpoint_url), experiment)


def emit_against_results(planned: Any, source: str, fmt: str, project_file: str | None = None) -> None:
    """`plan --against-results`: the plan and which of its jobs are new; JSON: just that split."""
    from runtool_iac import history
    from runtool_iac.commands.plan import emit_plan

    selection = history.select(planned, earlier_executions(planned.experiment_name, source, project_file))
    if fmt == "json":
        _echo_json(selection.to_json())
        return
    emit_plan(planned, fmt)
    if fmt == "markdown":
        echo(f"\n#### Against the results ({source})\n\n" + selection.markdown(), nl=False)
    else:
        echo("\n".join(["", f"against the results ({source}):", *selection.lines()]))


def _cloud_executions(runner: Any, experiment: str) -> list:
    """Executions of a declared experiment; else of Client.run's ad-hoc machine under that experiment name."""
    from runtool_iac.manifest import ADHOC, output_id

    deployment = runner.deployment()
    if output_id(experiment) in deployment.experiments() or output_id(ADHOC) not in deployment.experiments():
        return runner.executions(experiment)
    return runner.executions(ADHOC, experiment_name=experiment)


def _local_output_dir(output_dir: str | None, project_file: str | None) -> Path:
    """The local output folder: as given, else runtool.yml's local.output_dir (default runtool-output)."""
    from runtool_iac.errors import ConfigError
    from runtool_iac.local.api import DEFAULT_OUTPUT_DIR

    try:
        project = _project(project_file)
    except ConfigError:
        if project_file:
            raise
        return Path(output_dir or DEFAULT_OUTPUT_DIR)
    # Relative to the project's folder, as `runtool-iac local --output-dir` is.
    return project.root / (output_dir or project.local.output_dir or DEFAULT_OUTPUT_DIR)


def _planned_or_none(runner: Any, execution: str, project_file: str | None) -> list[dict] | None:
    """The jobs EXECUTION was started with, so that jobs never started get a row too;
    None when they cannot be known (a declared run without its runtool.yml)."""
    from runtool_iac.errors import ConfigError
    from runtool_iac.runner import RunnerError

    try:
        return runner.planned_items(execution, _declared_plans(project_file, runner, execution))
    except (RunnerError, ConfigError):
        return None


@command("list", Option("--limit", type=IntRange(1, 1000), default=20, show_default=True), *AWS_OPTIONS)
def list_command(limit: int, project_file, stack_name, profile, region, endpoint_url, fmt) -> None:
    """Recent executions of the project's experiments.

    \b
    Example:
      runtool-iac list --limit 5
    """
    from runtool_iac.render import text_table

    rows = _runner(project_file, stack_name, profile, region, endpoint_url).list(limit)
    if fmt == "json":
        _echo_json(rows)
        return
    table = [[r["experiment"], r["name"], r["status"], str(r.get("startDate", "")), str(r.get("stopDate", "") or "")] for r in rows]
    echo(text_table(["experiment", "execution", "status", "started", "stopped"], table), nl=False)
