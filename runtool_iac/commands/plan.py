"""``runtool-iac plan``: the training jobs an experiment would start (the dry run), and how to print a plan."""

from __future__ import annotations

from runtool_iac.commands.command import BadParameter, Option, UsageError, command
from runtool_iac.commands.options import EXPRESSION, TARGETS, format_option
from runtool_iac.commands.output import detail, echo, info
from runtool_iac.commands.values import IntRange, Path
from runtool_iac.plan import PLACEHOLDER_BUCKET, PLACEHOLDER_ROLE_ARN

TYPE_CHECKING = False  # `typing` is not imported at run time: it costs every command ~3 ms
if TYPE_CHECKING:
    from typing import Any


@command(
    "plan",
    TARGETS,
    EXPRESSION,
    Option("--project", dest="project_file", type=Path(), help="runtool.yml for EXPERIMENT (default: found upward from here)."),
    Option("--runs", type=IntRange(1, 1000), help="Repetitions of every trial (default: EXPERIMENT's, else 1)."),
    Option("--experiment-name", help="Used in S3 output paths and tags (FILEs; default: experiment)."),
    Option("--bucket", help=f"Output bucket (FILEs; default: the placeholder {PLACEHOLDER_BUCKET})."),
    Option("--role-arn", help=f"SageMaker execution role (FILEs; default: the placeholder {PLACEHOLDER_ROLE_ARN})."),
    Option("--tag", dest="tags", multiple=True, metavar="KEY=VALUE", help="Tag every job (FILEs; repeatable)."),
    format_option(),
    Option("--local", flag=True, help="Plan for local mode (local paths, 'local:' images and instance: local allowed)."),
    Option("--against-results", dest="against", flag=True, help="Say which jobs are new: no completed result in the experiment's earlier executions (with --local: local runs)."),
)
def plan_command(
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


def parse_tags(values: tuple[str, ...]) -> dict[str, str]:
    tags = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key:
            raise BadParameter(f"expected KEY=VALUE, got {value!r}", "'--tag'")
        tags[key] = text
    return tags


def _refuse_file_options(targets: tuple[str, ...], *file_options: Any) -> None:
    from pathlib import Path

    if len(targets) != 1 or Path(targets[0]).is_file():
        raise UsageError('give one EXPERIMENT declared in runtool.yml, or config FILEs with -e "EXPRESSION"')
    if any(file_options):
        raise UsageError(
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
    from runtool_iac.plan import DEFAULT_EXPERIMENT_NAME, build_plan, check_arguments

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
    if fmt == "json":
        echo(planned.to_json(), nl=False)
        if planned.duplicates_note():  # stdout stays pure JSON; the note is for the person reading
            echo(f"note: {planned.duplicates_note()}", err=True)
        return
    from runtool_iac import render

    echo(render.markdown(planned) if fmt == "markdown" else render.table(planned), nl=False)
