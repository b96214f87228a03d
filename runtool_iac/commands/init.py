"""``runtool-iac init`` (a new experiments repository) and the hidden ``cdk-app``.

``cdk-app`` is what a scaffolded ``cdk.json`` runs (``"app": "runtool-iac
cdk-app"``), so a new repository needs no Python file of its own to be a CDK
app. The file generation itself lives in ``runtool_iac.scaffold``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from runtool_iac.cli import Failure, handle_errors
from runtool_iac.commands.output import detail, info, verbosity_options


@click.command("init")
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Overwrite files that exist already.")
@click.option(
    "--project-name", default=None, metavar="NAME", callback=lambda ctx, param, value: _checked_name(value),
    help="Project name: names the stack and prefixes job names (default: from DIRECTORY's name).",
)
@verbosity_options
@handle_errors
def init_command(directory: str, force: bool, project_name: str | None) -> None:
    """Create a new experiments repository in DIRECTORY (default: here).

    Writes runtool.yml, cdk.json, package.json (the pinned AWS CDK CLI),
    requirements.txt, configs/ with one algorithm and one dataset, schemas/
    for editors, a pull-request workflow, .gitignore and a README. The result
    validates, plans and synthesizes as written. Existing files are never
    overwritten without --force; then nothing is written.

    \b
    Example:
      runtool-iac init my-experiments --project-name forecasting
      cd my-experiments && runtool-iac synth
    """
    from runtool_iac import scaffold

    try:
        written = scaffold.write(directory, project_name, force=force)
    except scaffold.ScaffoldConflict as conflict:
        raise Failure(str(conflict)) from None
    info(f"created project '{written.project_name}' in {written.directory} ({len(written.files)} files)")
    for name in written.files:
        detail(f"  {name}")
    where = "" if Path(directory).resolve() == Path.cwd().resolve() else f"cd {directory} && "
    info(f"next: {where}runtool-iac validate configs/*.yml && runtool-iac synth")


def _checked_name(value: str | None) -> str | None:
    from runtool_iac.scaffold import check_project_name

    try:
        return None if value is None else check_project_name(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("cdk-app", hidden=True)
def cdk_app_command() -> None:
    """The CDK app of the project in the current folder (what cdk.json's "app" runs).

    The CDK CLI passes the output folder and cdk.json's context through the
    environment; config problems print as file:line:col lines and exit 1.

    \b
    Example:
      npx cdk synth        # runs `runtool-iac cdk-app`
    """
    from runtool_iac.errors import ConfigError
    from runtool_iac.synth import synth

    try:
        synth(app_from_cli=True)
    except ConfigError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
