"""``-q/--quiet`` and ``-v/--verbose``: one meaning for every command, and where output goes.

Quiet suppresses informational output (confirmations, summaries, progress)
but never errors and never the data a command was asked for (tables, JSON,
job names). Verbose adds detail. Commands print informational lines through
``info`` and details through ``detail``, so the rule lives here only.

The level is set for the duration of one command (``verbosity``), so helpers
need no extra parameters. Output goes through the ``sys.stdout``/``sys.stderr``
of the moment, so callers (tests, click's ``CliRunner``) can capture it.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

TYPE_CHECKING = False  # `typing` is not imported at run time: it costs every command ~3 ms
if TYPE_CHECKING:
    from typing import Any, Iterator

QUIET, NORMAL, VERBOSE = -1, 0, 1
QUIET_HELP = "Print only errors and the data asked for."
VERBOSE_HELP = "Print more detail."

_level = NORMAL


@contextmanager
def verbosity(level: int) -> Iterator[None]:
    """Run a command at ``level``; the level before comes back afterwards."""
    global _level
    before, _level = _level, level
    try:
        yield
    finally:
        _level = before


def quiet() -> bool:
    return _level == QUIET


def verbose() -> bool:
    return _level == VERBOSE


def echo(message: Any = "", *, err: bool = False, nl: bool = True) -> None:
    """Write a line to stdout (or stderr), flushed so the two streams stay in order."""
    stream = sys.stderr if err else sys.stdout
    stream.write(f"{message}\n" if nl else str(message))
    stream.flush()


def info(message: Any = "", *, err: bool = False, nl: bool = True) -> None:
    """An informational line: shown unless ``--quiet``."""
    if not quiet():
        echo(message, err=err, nl=nl)


def detail(message: Any = "", *, err: bool = False, nl: bool = True) -> None:
    """A detail: shown only with ``--verbose``."""
    if verbose():
        echo(message, err=err, nl=nl)
