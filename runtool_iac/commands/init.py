"""``runtool-iac init`` (a new experiments repository) and the hidden ``cdk-app``.

``cdk-app`` is what a scaffolded ``cdk.json`` runs (``"app": "runtool-iac
cdk-app"``), so a new repository needs no Python file of its own to be a CDK
app. The file generation itself lives in ``runtool_iac.scaffold``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from runtool_iac.commands.command import Argument, Failure, Option, command
from runtool_iac.commands.output import detail, echo, info
from runtool_iac.commands.values import Checked, Path as PathValue


def _checked_name(value: str) -> str:
    from runtool_iac.scaffold import check_project_name

    return check_project_name(value)  # ValueError: the option's value is refused


@command(
    "init",
    Argument("directory", required=False, default=".", type=PathValue(file_okay=False)),
    Option("--force", flag=True, help="Overwrite files that exist already."),
    Option(
        "--project-name", type=Checked(_checked_name), metavar="NAME",
        help="Project name: names the stack and prefixes job names (default: from DIRECTORY's name).",
    ),
)
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


@command("cdk-app")
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
        echo(str(error), err=True)
        sys.exit(1)
