"""The ``runtool-iac`` command line.

Config problems print as ``file:line:col: path: message`` lines on stdout and
exit 1; usage errors exit 2. Commands import their heavy machinery (CDK,
boto3) only when they run, so ``validate`` and ``plan`` start fast.
"""

from __future__ import annotations

import functools
import importlib
import sys
from typing import Any, Callable

import click

from runtool_iac.commands.output import detail, ensure_verbosity_options, info, verbosity_options
from runtool_iac.errors import ActionError, ConfigError
from runtool_iac.plan import PLACEHOLDER_BUCKET, PLACEHOLDER_ROLE_ARN

FORMATS = ("table", "json", "markdown")


class Failure(click.ClickException):
    """A one-line error for the user (no traceback)."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


# The option behind each plan argument (plan.PlanArgumentError.argument).
ARGUMENT_OPTIONS = {"tags": "--tag", "name_prefix": "job_prefix (runtool.yml)"}


def handle_errors(func: Callable) -> Callable:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from runtool_iac.plan import PlanArgumentError

        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            click.echo(str(exc))
            sys.exit(1)
        except PlanArgumentError as exc:
            # A wrong option is a usage error naming the option, not a problem at a config line.
            option = ARGUMENT_OPTIONS.get(exc.argument, "--" + exc.argument.replace("_", "-"))
            raise click.BadParameter(str(exc), param_hint=f"'{option}'") from None
        except (ValueError, TypeError, ActionError) as exc:
            raise Failure(str(exc)) from None

    return wrapper


def parse_tags(values: tuple[str, ...]) -> dict[str, str]:
    tags = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {value!r}", param_hint="--tag")
        tags[key] = text
    return tags


# Commands defined in other modules, imported only when used (keeps `validate`/`plan` fast).
LAZY_COMMANDS = {
    "local": "runtool_iac.local.cli:local_command",
    "run": "runtool_iac.commands.runner:run_command",
    "status": "runtool_iac.commands.runner:status_command",
    "stop": "runtool_iac.commands.runner:stop_command",
    "redrive": "runtool_iac.commands.runner:redrive_command",
    "rerun": "runtool_iac.commands.runner:rerun_command",
    "results": "runtool_iac.commands.runner:results_command",
    "list": "runtool_iac.commands.runner:list_command",
    "synth": "runtool_iac.commands.synth:synth_command",
    "diff": "runtool_iac.commands.synth:diff_command",
    "init": "runtool_iac.commands.init:init_command",
    "cdk-app": "runtool_iac.commands.init:cdk_app_command",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            module, _, attribute = LAZY_COMMANDS[name].partition(":")
            # Every command takes -q/-v, also those defined with only their own --quiet.
            return ensure_verbosity_options(getattr(importlib.import_module(module), attribute))
        return super().get_command(ctx, name)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        """As click's, but "did you mean" also considers the lazily imported commands."""
        name = click.utils.make_str(args[0])
        if ctx.resilient_parsing or name.startswith("-") or self.get_command(ctx, name) is not None:
            return super().resolve_command(ctx, args)
        import difflib

        visible = [n for n in self.list_commands(ctx) if not getattr(self.get_command(ctx, n), "hidden", False)]
        close = difflib.get_close_matches(name, visible, n=3)
        hint = f" Did you mean {close[0]!r}?" if len(close) == 1 else (f" (Did you mean one of: {', '.join(close)}?)" if close else "")
        raise click.UsageError(f"No such command {name!r}.{hint}", ctx)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="runtool_iac", prog_name="runtool-iac")
def main() -> None:
    """Describe algorithms and datasets in YAML, combine them into experiments,
    and run every (algorithm, dataset, run) as a SageMaker training job.

    \b
    Example:
      runtool-iac validate examples/forecasting/configs/*.yml
      runtool-iac plan examples/forecasting/configs/*.yml -e "algorithms * datasets" --runs 2
    """


@main.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--project", "project_file", type=click.Path(), default=None, help="runtool.yml to check (the default without FILES).")
@verbosity_options
@handle_errors
def validate(files: tuple[str, ...], project_file: str | None) -> None:
    """Check config FILES: YAML, directives, schemas; report every problem.

    Without FILES, checks the project: runtool.yml, its configs, and every
    declared experiment planned as it would be deployed (experiments of
    `instance: local` algorithms as `runtool-iac local` runs them).
    Prints "ok: ..." when they are valid (nothing with --quiet; every
    top-level node with its kind and variant count with --verbose).

    \b
    Examples:
      runtool-iac validate configs/algorithms.yml configs/datasets.yml
      runtool-iac validate            # runtool.yml, found upward from here
    """
    from runtool_iac.config import load_config
    from runtool_iac.errors import ConfigError

    if files and project_file:
        raise click.UsageError("give config FILES or --project, not both")
    if files:
        config = load_config(*files)
        info(f"ok: {len(files)} file(s), {len(config.keys())} top-level nodes")
    else:
        from runtool_iac.project import load_project

        project = load_project(project_file)
        config = project.config
        errors, jobs = [], 0
        for name in project.experiments:
            try:
                # An experiment of `instance: local` algorithms is checked as `local` runs it.
                jobs += len(project.plan(name, target="local" if project.local_only(name) else "sagemaker"))
            except ConfigError as exc:
                errors.append(exc)
        if errors:
            raise ConfigError.collect(errors)
        info(
            f"ok: {project.file.name}, {len(project.config_files)} config file(s), "
            f"{len(project.experiments)} experiment(s), {jobs} jobs"
        )
    for name in config:
        detail(f"  {name}: {_describe(config[name])}")


def _describe(node: Any) -> str:
    """"algorithm, 3 variants" / "datasets, 2 variants" / "experiment, 6 trials" / "value"."""
    kind = type(node).__name__
    if kind in ("Experiment", "Experiments"):
        return f"{kind.lower()}, {len(node)} trials"
    if kind in ("Algorithm", "Algorithms", "Dataset", "Datasets"):
        return f"{kind.lower()}, {len(node)} variant{'s' if len(node) != 1 else ''}"
    return "value"


@main.command()
@click.argument("targets", nargs=-1, required=True, metavar="EXPERIMENT | FILE...")
@click.option("-e", "--experiment", "expression", default=None, help='Experiment expression over FILEs, e.g. "algos * datasets".')
@click.option("--project", "project_file", type=click.Path(), default=None, help="runtool.yml for EXPERIMENT (default: found upward from here).")
@click.option("--runs", type=click.IntRange(1, 1000), default=None, help="Repetitions of every trial (default: EXPERIMENT's, else 1).")
@click.option("--experiment-name", default=None, help="Used in S3 output paths and tags (FILEs; default: experiment).")
@click.option("--bucket", default=None, help=f"Output bucket (FILEs; default: the placeholder {PLACEHOLDER_BUCKET}).")
@click.option("--role-arn", default=None, help=f"SageMaker execution role (FILEs; default: the placeholder {PLACEHOLDER_ROLE_ARN}).")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Tag every job (FILEs; repeatable).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--local", is_flag=True, help="Plan for local mode (local paths, 'local:' images and instance: local allowed).")
@click.option("--against-results", "against", is_flag=True, help="Say which jobs are new: no completed result in the experiment's earlier executions (with --local: local runs).")
@verbosity_options
@handle_errors
def plan(
    targets: tuple[str, ...],
    expression: str | None,
    project_file: str | None,
    runs: int | None,
    experiment_name: str | None,
    bucket: str | None,
    role_arn: str | None,
    tags: tuple[str, ...],
    fmt: str,
    local: bool,
    against: bool,
) -> None:
    """Print the training jobs an experiment would start (the dry run).

    With --against-results, also which of them are new (would run with
    `run --skip-completed`): results of the experiment's executions (of
    EXPERIMENT, or of --experiment-name for FILEs) in the stack of the
    project (--project, else the runtool.yml found upward; AWS credentials,
    region and AWS_ENDPOINT_URL from the environment), or with --local in its
    local output folder.
    --format json then prints that split.

    \b
    Two forms:
      runtool-iac plan EXPERIMENT                       an experiment declared in runtool.yml: exactly
                                                        the jobs `runtool-iac run EXPERIMENT` starts
                                                        (`local EXPERIMENT` with --local)
      runtool-iac plan FILE... -e "algos * datasets"    an expression over config files

    \b
    Examples:
      runtool-iac plan bench --format markdown
      runtool-iac plan configs/*.yml -e "(deepar + prophet) * datasets" --runs 3 --format json
      runtool-iac plan configs/*.yml -e "algos * datasets" --experiment-name bench --against-results
    """
    if expression is None:
        _refuse_file_options(targets, experiment_name, bucket, role_arn, tags)
        planned = _declared_plan(targets[0], project_file, runs, local)
    else:
        planned = _expression_plan(targets, expression, runs, experiment_name, bucket, role_arn, tags, local)
    if against:
        from runtool_iac.commands.runner import emit_against_results

        emit_against_results(planned, "local" if local else "aws", fmt, project_file)
        return
    emit_plan(planned, fmt)
    if fmt == "table" and expression is None:
        info(_declared_note(planned), err=True)


def _refuse_file_options(targets: tuple[str, ...], *file_options: Any) -> None:
    from pathlib import Path

    if len(targets) != 1 or Path(targets[0]).is_file():
        raise click.UsageError('give one EXPERIMENT declared in runtool.yml, or config FILEs with -e "EXPRESSION"')
    if any(file_options):
        raise click.UsageError(
            "--experiment-name, --bucket, --role-arn and --tag apply to FILEs with -e; "
            "a declared experiment takes its name, tags, bucket and role from runtool.yml"
        )


def _declared_plan(name: str, project_file: str | None, runs: int | None, local: bool) -> Any:
    """What `run NAME` (or `local NAME`) would start: the project's job prefix, runs,
    tags, bucket and role (placeholders where the stack creates them)."""
    from runtool_iac.project import load_project

    return load_project(project_file).plan(name, runs=runs, target="local" if local else "sagemaker")


def _declared_note(planned: Any) -> str:
    from runtool_iac.naming import CLOUD_SUFFIX_CHARS
    from runtool_iac.plan import PLACEHOLDER_BUCKET, PLACEHOLDER_ROLE_ARN

    request = planned.jobs[0].request if planned.jobs else {}
    placeholders = [
        what for what, value, placeholder in (
            ("bucket", request.get("OutputDataConfig", {}).get("S3OutputPath", ""), PLACEHOLDER_BUCKET),
            ("role", request.get("RoleArn", ""), PLACEHOLDER_ROLE_ARN),
        ) if placeholder in value
    ]
    note = (
        f"note: in the cloud every job name gets -<execution token>-<redrive count> ({CLOUD_SUFFIX_CHARS} characters) "
        "appended, new for every execution"
    )
    if placeholders:
        note += f"; the {' and '.join(placeholders)} shown are placeholders for the ones the deployed stack creates"
    return note


def _expression_plan(
    files: tuple[str, ...],
    expression: str,
    runs: int | None,
    experiment_name: str | None,
    bucket: str | None,
    role_arn: str | None,
    tags: tuple[str, ...],
    local: bool,
) -> Any:
    from runtool_iac.config import load_config
    from runtool_iac.experiment_expr import parse_experiment
    from runtool_iac.plan import DEFAULT_EXPERIMENT_NAME, PLACEHOLDER_BUCKET, PLACEHOLDER_ROLE_ARN, build_plan, check_arguments

    runs, experiment_name = runs or 1, experiment_name or DEFAULT_EXPERIMENT_NAME
    bucket, role_arn = bucket or PLACEHOLDER_BUCKET, role_arn or PLACEHOLDER_ROLE_ARN
    check_arguments(runs, experiment_name, bucket, role_arn, parse_tags(tags))  # usage errors before config errors
    config = load_config(*files)
    experiment = parse_experiment(expression, config)
    for side in ("algorithms", "datasets"):
        members = getattr(experiment, side, ())
        detail(f"{side} ({len(members)}): {', '.join(m.label for m in members)}", err=True)
    return build_plan(
        experiment,
        runs=runs,
        experiment_name=experiment_name,
        bucket=bucket,
        role_arn=role_arn,
        tags=parse_tags(tags),
        target="local" if local else "sagemaker",
    )


def emit_plan(planned: Any, fmt: str) -> None:
    from runtool_iac import render

    if fmt == "json":
        click.echo(planned.to_json(), nl=False)
        if render.duplicates_line(planned):  # stdout stays pure JSON; the note is for the person reading
            click.echo(f"note: {render.duplicates_line(planned)}", err=True)
    elif fmt == "markdown":
        click.echo(render.markdown(planned), nl=False)
    else:
        click.echo(render.table(planned), nl=False)


if __name__ == "__main__":  # pragma: no cover
    main()
