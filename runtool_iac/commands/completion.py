"""Shell completion (bash, zsh, fish, tcsh, PowerShell) by argcomplete, imported only when a shell asks.

``_RUNTOOL_IAC_COMPLETE=bash_source runtool-iac`` prints the script a shell
sources (as documented since the click version); the script then runs
``runtool-iac`` with argcomplete's ``_ARGCOMPLETE`` protocol for every
completion, answered here from a parser of every visible command.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from runtool_iac.commands.command import ShowHelp, UsageError

# No argparse help (ours is click's layout), no abbreviated options, errors raised, not printed. argparse
# checks every argument with a help formatter, which by default imports shutil: a fixed width spares that.
PARSER_SETTINGS = {
    "add_help": False, "allow_abbrev": False, "exit_on_error": False,
    "formatter_class": lambda prog: argparse.HelpFormatter(prog, width=80),
}


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing and exiting."""

    def error(self, message: str) -> None:
        raise UsageError(message)


class HelpAction(argparse.Action):
    """``-h/--help``: stops there and shows the help."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest=argparse.SUPPRESS, nargs=0)

    def __call__(self, *args: Any) -> None:
        raise ShowHelp()

SHELLS = ("bash", "zsh", "fish", "tcsh", "powershell")


def run(cli: Any, prog: str, request: str | None) -> int:
    """Print the completion script asked for by ``request`` (``SHELL_source``), or answer one completion."""
    import argcomplete

    if request is None:  # the script asks: complete COMP_LINE at COMP_POINT
        argcomplete.autocomplete(parser(cli, prog), exit_method=sys.exit)
        return 1  # autocomplete exits itself once it has answered
    shell, _, what = request.partition("_")
    if what == "source" and shell in SHELLS:
        sys.stdout.write(argcomplete.shellcode([prog], shell=shell))
        return 0
    sys.stderr.write(
        f"error: unknown completion request {request!r} (a script from an older version of {prog}?); "
        f"print the script anew with one of: {', '.join(f'{s}_source' for s in SHELLS)}\n"
    )
    return 1


def parser(cli: Any, prog: str) -> argparse.ArgumentParser:
    """One parser with a sub-parser per visible command: what argcomplete completes from."""
    root = Parser(**PARSER_SETTINGS, prog=prog)
    root.add_argument("--version", action="store_true")
    root.add_argument("-h", "--help", action="store_true")
    commands = root.add_subparsers(dest="command", parser_class=Parser)
    for name in cli.command_names():
        command = cli.command(name)
        command.add_arguments(commands.add_parser(name, help=command.summary(), **PARSER_SETTINGS))
    return root
