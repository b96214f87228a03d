"""``runtool-iac synth`` and ``runtool-iac diff``: what a pull request would deploy.

``synth`` is the CDK app run in-process (the same result as ``npx cdk synth``,
without the CDK CLI): CloudFormation template, manifest assets, and the
``<experiment>.plan.md``/``.plan.json`` review files. ``diff`` compares the
jobs planned at a git ref with the working tree; it needs neither the CDK nor
AWS. Only ``synth`` imports aws_cdk, and only when it runs.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from runtool_iac.commands.command import Argument, Failure, Option, UsageError, command
from runtool_iac.commands.options import format_option
from runtool_iac.commands.output import echo, quiet
from runtool_iac.commands.values import Path as PathValue

PROJECT = Option(
    "--project", dest="project_file", type=PathValue(exists=True),
    help="runtool.yml or its folder (default: found from the current folder upwards).",
)


@command(
    "synth",
    PROJECT,
    Option("--outdir", type=PathValue(file_okay=False), help="Cloud assembly folder (default: cdk.out next to runtool.yml)."),
    quiet_help="Print nothing when the synth succeeds.",
)
def synth_command(project_file: str | None, outdir: str | None) -> None:
    """Synthesize the project's stack in-process: template, manifests, plan files.

    Writes the CloudFormation template and the job manifests (what `npx cdk
    deploy` would upload) and, for review, <experiment>.plan.md and
    <experiment>.plan.json. Needs no AWS credentials. cdk-nag runs during the
    synth: an unacknowledged finding fails it.

    \b
    Example:
      runtool-iac synth
      runtool-iac synth --project examples/my-project --outdir /tmp/cdk.out -q
    """
    from runtool_iac.synth import synth

    summary = io.StringIO()
    try:
        result = synth(project_file, outdir, out=summary)
    except RuntimeError as error:  # raised through jsii: cdk-nag findings, CDK validation errors
        raise Failure(f"synth failed: {error}") from None
    if quiet():
        return
    echo(summary.getvalue(), nl=False)
    names = ",".join(result.plans)
    braces = f"{{{names}}}" if len(result.plans) > 1 else names
    echo(f"plan files: {_shown(result.outdir)}/{braces}.plan.{{md,json}}")


def _shown(path: Path) -> str:
    """A path relative to the current folder when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@command(
    "diff",
    Argument("base_ref"),
    PROJECT,
    Option("-e", "--experiment", help="Compare only this declared experiment."),
    format_option(),
    Option("--against-results", dest="against", flag=True, help="Also say which working-tree jobs are new: no completed result in the experiment's executions."),
    Option("--local", flag=True, help="With --against-results: local runs' results instead of the deployed stack's."),
)
def diff_command(base_ref: str, project_file: str | None, experiment: str | None, fmt: str, against: bool, local: bool) -> None:
    """Compare the jobs of every declared experiment at git ref BASE_REF with the working tree.

    Prints the jobs added, removed and changed (with the request fields that
    changed) and per-experiment counts. Jobs are matched by experiment,
    algorithm, dataset and run: job names embed a hash of the trial, so an
    edited hyperparameter shows as a changed job whose name changed too, not
    as one job removed and another added. Reads BASE_REF with git only; the
    working tree is not touched. Exit code 0 whether or not jobs differ.

    \b
    With --against-results, each experiment's working-tree jobs are also
    matched by job key with the results of its executions (the deployed
    stack's; AWS credentials, region and AWS_ENDPOINT_URL from the
    environment; or with --local the local runs'): what merging and then
    `run --skip-completed` would actually run.

    \b
    Example:
      runtool-iac diff origin/main
      runtool-iac diff HEAD~1 --experiment bench --format markdown >> "$GITHUB_STEP_SUMMARY"
      runtool-iac diff origin/main --against-results
    """
    from runtool_iac import plan_diff

    if local and not against:
        raise UsageError("--local goes with --against-results")
    diff = plan_diff.diff_with_ref(base_ref, project_file, experiment)
    selections = _against_results(diff, project_file, "local" if local else "aws") if against else []
    if fmt == "json":
        found = diff.to_json()
        if against:
            found["against_results"] = {s.plan.experiment_name: s.to_json() for s in selections}
        echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    render = {"markdown": plan_diff.markdown, "table": plan_diff.table}[fmt]
    echo(render(diff), nl=False)
    source = "local" if local else "aws"
    if selections and fmt == "markdown":
        echo(f"#### Against the results ({source})\n\n" + "\n".join(s.markdown() for s in selections), nl=False)
    elif selections:
        echo("\n".join(["", f"against the results ({source}):", *(line for s in selections for line in s.lines())]))


def _against_results(diff: object, project_file: str | None, source: str) -> list:
    """Each working-tree experiment of the diff split into new and already completed jobs."""
    from runtool_iac import history
    from runtool_iac.commands.runner import earlier_executions
    from runtool_iac.project import load_project

    project = load_project(project_file)
    names = [e.name for e in diff.experiments if e.head_jobs is not None]
    target = "local" if source == "local" else "sagemaker"
    return [
        history.select(project.plan(name, target=target), earlier_executions(name, source, str(project.file)))
        for name in names
    ]
