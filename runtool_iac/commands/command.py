"""What a command takes (options and arguments as data), and turning its command line into a call.

``split`` reads the command line as argparse would (``--opt=value``,
``--opt value``, ``-eVALUE``, ``-qv``, options between arguments, ``--``,
negative numbers as values) without importing it: argparse and the gettext
and locale modules it brings cost a small ``plan`` ~4 ms, a twelfth of its run
(issue 11); shell completion still builds argparse parsers (``completion``).
Values are checked here by ``values`` so errors keep the wording of before.
Every command takes ``-q/--quiet``, ``-v/--verbose`` and ``-h/--help``; the
verbosity is set for the call (``output``) and not passed on.

Errors: ``UsageError`` (exit 2, with the usage line), ``Failure`` (``error: …``
on stderr, exit 1); a ``ConfigError`` prints its ``file:line:col`` lines on
stdout and exits 1.
"""

from __future__ import annotations

import sys

from runtool_iac.commands import output
from runtool_iac.commands.values import TEXT, Text

TYPE_CHECKING = False  # `typing` is not imported at run time: it costs every command ~3 ms
if TYPE_CHECKING:
    import argparse
    from typing import Any, Callable

# The option behind each plan argument (plan.PlanArgumentError.argument).
ARGUMENT_OPTIONS = {"tags": "--tag", "name_prefix": "job_prefix (runtool.yml)"}


class UsageError(Exception):
    """A wrong command line: shown with the command's usage line; exit 2."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.usage: str | None = None  # filled in by the command it passed through
        self.prog: str | None = None


class BadParameter(UsageError):
    """A refused value, naming the option: ``Invalid value for '--runs': …``."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(f"Invalid value for {hint}: {message}")


class Failure(Exception):
    """A one-line error for the user (``error: …`` on stderr, exit 1; no traceback)."""

    exit_code = 1


def did_you_mean(name: str, candidates: list[str]) -> str:
    """`` Did you mean 'plan'?`` for the closest candidates, or ``""``."""
    import difflib

    close = sorted(difflib.get_close_matches(name, candidates))
    if not close:
        return ""
    listed = ", ".join(repr(c) for c in close)
    return f" Did you mean {listed}?" if len(close) == 1 else f" (Did you mean one of: {listed}?)"


class Option:
    """``--name VALUE`` (or a ``flag``; ``multiple`` collects every use into a tuple)."""

    def __init__(
        self, *flags: str, dest: str | None = None, type: Text = TEXT, default: Any = None, help: str = "",
        metavar: str | None = None, flag: bool = False, multiple: bool = False, show_default: bool = False,
    ) -> None:
        self.flags, self.type, self.help, self.flag, self.multiple = flags, type, help, flag, multiple
        self.dest = dest or flags[-1].lstrip("-").replace("-", "_")
        self.default = False if flag and default is None else (() if multiple and default is None else default)
        self.metavar = metavar or type.metavar
        self.show_default = show_default

    @property
    def hint(self) -> str:
        return " / ".join(f"'{flag}'" for flag in self.flags)

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        if self.flag:
            action = parser.add_argument(*self.flags, dest=self.dest, action="store_true", default=None)
        else:
            action = parser.add_argument(
                *self.flags, dest=self.dest, action="append" if self.multiple else "store", metavar=self.metavar
            )
        if self.type.choices:  # read by argcomplete when completing the value
            action.completer = lambda **_: self.type.choices

    def value(self, given: Any) -> Any:
        if given is None:
            return self.default
        try:
            if self.multiple:
                return tuple(self.type.convert(v) for v in given)
            return given if self.flag else self.type.convert(given)
        except ValueError as exc:
            raise BadParameter(str(exc), self.hint) from None

    def help_row(self) -> tuple[str, str]:
        term = ", ".join(sorted(self.flags, key=lambda f: len(f) - len(f.lstrip("-"))))
        if not self.flag:
            term += f" {self.metavar}"
        extra = [f"default: {self.default}"] if self.show_default and self.default not in (None, False, ()) else []
        extra += [self.type.describe()] if self.type.describe() else []
        text = self.help
        if extra:
            text = f"{text}  [{'; '.join(extra)}]" if text else f"[{'; '.join(extra)}]"
        return term, text


class Argument:
    """A positional argument; ``many`` takes any number of them (a tuple)."""

    flags = ()

    def __init__(self, name: str, *, many: bool = False, required: bool = True, default: Any = None,
                 type: Text = TEXT, metavar: str | None = None) -> None:
        self.dest, self.many, self.required, self.type = name, many, required, type
        self.default = () if many and default is None else default
        if metavar is None:
            metavar = name.upper() if required else f"[{name.upper()}]"
            metavar += "..." if many else ""
        self.metavar = metavar

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(self.dest, nargs="*" if self.many else "?", default=None, metavar=self.metavar)

    def value(self, given: Any) -> Any:
        if given in (None, []):
            if self.required:
                raise UsageError(f"Missing argument '{self.metavar}'.")
            return self.default
        try:
            return tuple(self.type.convert(v) for v in given) if self.many else self.type.convert(given)
        except ValueError as exc:
            raise BadParameter(str(exc), f"'{self.metavar}'") from None


# What argparse takes for a negative number, which is a value, not an option (no option here looks like one).
def _is_negative_number(arg: str) -> bool:
    """^-\\d+$|^-\\d*\\.\\d+$ (with re's `$`: a final newline may follow)."""
    number = arg[1:-1] if arg.endswith("\n") else arg[1:]
    whole, dot, fraction = number.partition(".")
    return arg[:1] == "-" and (whole.isdecimal() if not dot else (not whole or whole.isdecimal()) and fraction.isdecimal())


def _looks_like_option(arg: str) -> bool:
    return arg.startswith("-") and arg != "-" and not _is_negative_number(arg)


class ShowHelp(Exception):
    """Raised by ``-h/--help``: the entry point prints ``page`` and exits with ``exit_code``
    (0 on stdout; 2 on stderr, when the help stands for a usage error: no command given)."""

    def __init__(self, page: str = "", exit_code: int = 0) -> None:
        super().__init__(page)
        self.page, self.exit_code = page, exit_code


class Command:
    """A command: its function, what it takes (``params``, in help order) and its help (the function's docstring)."""

    def __init__(self, name: str, function: Callable[..., Any], params: list[Option | Argument],
                 quiet_help: str = output.QUIET_HELP) -> None:
        self.name, self.function, self.doc = name, function, function.__doc__
        self.params = [
            *params,
            Option("-q", "--quiet", flag=True, help=quiet_help),
            Option("-v", "--verbose", flag=True, help=output.VERBOSE_HELP),
        ]

    def add_arguments(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        """Teach an argparse ``parser`` this command's options and arguments (for shell completion)."""
        from runtool_iac.commands.completion import HelpAction

        for param in self.params:
            param.add_to(parser)
        parser.add_argument("-h", "--help", action=HelpAction)
        return parser

    def parse(self, args: list[str], prog: str | None = None) -> dict[str, Any]:
        """The keyword arguments of the call (with ``quiet`` and ``verbose``); ``UsageError`` if the line is wrong."""
        given, positionals, unknown = self.split(args)
        if unknown:
            longs = [f for p in self.params for f in p.flags if f.startswith("--")] + ["--help"]
            raise UsageError(f"No such option {unknown[0]!r}." + did_you_mean(unknown[0], longs))
        arguments = [p for p in self.params if isinstance(p, Argument)]  # at most one per command
        for argument in arguments:
            if argument.many:
                given[argument.dest], positionals = positionals, []
            elif positionals:
                given[argument.dest], positionals = positionals[0], positionals[1:]
        if positionals:
            plural = "s" if len(positionals) > 1 else ""
            raise UsageError(f"Got unexpected extra argument{plural} ({' '.join(positionals)})")
        return {param.dest: param.value(given.get(param.dest)) for param in self.params}

    def split(self, args: list[str]) -> tuple[dict[str, Any], list[str], list[str]]:
        """(option values by dest, positional arguments, unknown options), as argparse's
        ``parse_known_intermixed_args`` splits them (no abbreviated options)."""
        options = {flag: param for param in self.params if isinstance(param, Option) for flag in param.flags}
        given: dict[str, Any] = {}
        positionals: list[str] = []
        unknown: list[str] = []

        def take(param: Option, value: str) -> None:
            if param.multiple:
                given.setdefault(param.dest, []).append(value)
            else:
                given[param.dest] = value

        rest = list(args)
        while rest:
            arg = rest.pop(0)
            if arg == "--":
                positionals += rest
                break
            if arg in ("-h", "--help"):
                raise ShowHelp()
            if not _looks_like_option(arg):
                positionals.append(arg)
                continue
            name, equals, attached = arg.partition("=")
            if name not in options and not arg.startswith("--") and arg[:2] in options:
                name, equals, attached = arg[:2], "", arg[2:]  # -eVALUE, or -qv: flags run together
            param = options.get(name)
            if param is None:
                unknown.append(arg)
                continue
            if param.flag:
                if equals or (attached and "-" + attached[0] not in options):
                    raise UsageError(f"Option '{'/'.join(param.flags)}' does not take a value.")
                given[param.dest] = True
                if attached:  # -qv: the next letters are flags (or an option taking the rest)
                    rest.insert(0, "-" + attached)
                continue
            if equals or attached:
                take(param, attached)
            elif rest and not _looks_like_option(rest[0]):
                take(param, rest.pop(0))
            else:
                raise UsageError(f"Option '{'/'.join(param.flags)}' requires an argument.")
        return given, positionals, unknown

    def main(self, args: list[str], prog: str) -> Any:
        """Parse ``args``, then call the function at the verbosity asked for."""
        try:
            kwargs = self.parse(args, prog)
            quiet, verbose = kwargs.pop("quiet"), kwargs.pop("verbose")
            if quiet and verbose:
                raise UsageError("--quiet and --verbose exclude each other")
            with output.verbosity(output.QUIET if quiet else output.VERBOSE if verbose else output.NORMAL):
                return call(self.function, kwargs)
        except ShowHelp:
            raise ShowHelp(self.help(prog)) from None
        except UsageError as exc:
            exc.usage = exc.usage or self.usage(prog)
            exc.prog = exc.prog or prog
            raise

    def usage(self, prog: str, width: int | None = None) -> str:
        from runtool_iac.commands import helptext

        pieces = " ".join(["[OPTIONS]", *(p.metavar for p in self.params if isinstance(p, Argument))])
        return helptext.usage(prog, pieces, width or helptext.terminal_width())

    def help(self, prog: str, width: int | None = None) -> str:
        """The ``--help`` page."""
        from runtool_iac.commands import helptext

        width = width or helptext.terminal_width()
        rows = [p.help_row() for p in self.params if isinstance(p, Option)]
        rows.append(helptext.HELP_ROW)
        return helptext.page(self.usage(prog, width), self.doc, [("Options", rows)], width)

    def summary(self, limit: int = 45) -> str:
        """The first sentence of the help, for the list of commands."""
        from runtool_iac.commands import helptext

        return helptext.short_help(self.doc, limit)


def command(name: str, *params: Option | Argument, quiet_help: str = output.QUIET_HELP) -> Callable[[Callable[..., Any]], Command]:
    """Decorator: make a function a ``Command`` taking ``params`` (as keyword arguments named by their ``dest``)."""

    def make(function: Callable[..., Any]) -> Command:
        return Command(name, function, list(params), quiet_help=quiet_help)

    return make


def call(function: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """Call a command's function; the errors users cause become one-line messages with their exit codes."""
    try:
        return function(**kwargs)
    except (UsageError, Failure):
        raise
    except Exception as exc:
        from runtool_iac.errors import ActionError, ConfigError
        from runtool_iac.plan import PlanArgumentError

        if isinstance(exc, ConfigError):
            output.echo(str(exc))
            sys.exit(1)
        if isinstance(exc, PlanArgumentError):
            # A wrong option is a usage error naming the option, not a problem at a config line.
            option = ARGUMENT_OPTIONS.get(exc.argument, "--" + exc.argument.replace("_", "-"))
            raise BadParameter(str(exc), f"'{option}'") from None
        if isinstance(exc, (ValueError, TypeError, ActionError)):
            raise Failure(str(exc)) from None
        raise
