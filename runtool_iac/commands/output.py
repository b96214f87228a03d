"""``-q/--quiet`` and ``-v/--verbose``: one meaning for every command.

Quiet suppresses informational output (confirmations, summaries, progress)
but never errors and never the data a command was asked for (tables, JSON,
job names). Verbose adds detail. Commands print informational lines through
``info`` and details through ``detail``, so the rule lives here only.

The level is kept in ``click.Context.meta``, which all nested contexts of one
invocation share, so helpers need no extra parameters.
"""

from __future__ import annotations

from typing import Any, Callable

import click

QUIET, NORMAL, VERBOSE = -1, 0, 1
_KEY = "runtool_iac.verbosity"
QUIET_HELP = "Print only errors and the data asked for."
VERBOSE_HELP = "Print more detail."


def _remember(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        level = QUIET if param.name == "quiet" else VERBOSE
        if ctx.meta.get(_KEY, level) != level:
            raise click.UsageError("--quiet and --verbose exclude each other", ctx)
        ctx.meta[_KEY] = level
    return value


def _options() -> list[click.Option]:
    return [
        click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, callback=_remember, help=QUIET_HELP),
        click.Option(["-v", "--verbose"], is_flag=True, expose_value=False, callback=_remember, help=VERBOSE_HELP),
    ]


def verbosity_options(func: Callable) -> Callable:
    """Decorator: add ``-q/--quiet`` and ``-v/--verbose`` to a command (read them with ``quiet()``/``verbose()``)."""
    func = click.option("-v", "--verbose", is_flag=True, expose_value=False, callback=_remember, help=VERBOSE_HELP)(func)
    return click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_remember, help=QUIET_HELP)(func)


def ensure_verbosity_options(command: click.Command) -> click.Command:
    """Add whichever of ``-q``/``-v`` a command lacks (for commands defined elsewhere with their own ``--quiet``)."""
    taken = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for option in _options():
        if not taken & {*option.opts, *option.secondary_opts}:
            command.params.append(option)
    return command


def level() -> int:
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(_KEY, NORMAL) if ctx is not None else NORMAL


def quiet() -> bool:
    return level() == QUIET


def verbose() -> bool:
    return level() == VERBOSE


def info(message: Any = "", *, err: bool = False, nl: bool = True) -> None:
    """An informational line: shown unless ``--quiet``."""
    if not quiet():
        click.echo(message, err=err, nl=nl)


def detail(message: Any = "", *, err: bool = False, nl: bool = True) -> None:
    """A detail: shown only with ``--verbose``."""
    if verbose():
        click.echo(message, err=err, nl=nl)
