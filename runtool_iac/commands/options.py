"""Options several commands share, so that they are spelled and explained the same everywhere."""

from __future__ import annotations

from runtool_iac.commands.command import Argument, Option
from runtool_iac.commands.values import Choice

FORMATS = ("table", "json", "markdown")


def format_option(formats: tuple[str, ...] = FORMATS) -> Option:
    """``--format``, default ``table``."""
    return Option("--format", dest="fmt", type=Choice(formats), default="table", show_default=True)


TARGETS = Argument("targets", many=True, metavar="EXPERIMENT | FILE...")
EXPRESSION = Option("-e", "--experiment", dest="expression", help='Experiment expression over FILEs, e.g. "algos * datasets".')
