"""The ``runtool-iac`` command line: finds the command named on it, runs it, turns errors into exit codes.

Config problems print as ``file:line:col: path: message`` lines on stdout and
exit 1; other failures print ``error: …`` on stderr and exit 1; usage errors
exit 2. Start-up is part of every command's time (``plan`` should take little
more than Python loading YAML), so this module imports only ``sys``, ``os`` and ``gc``
and each command's module, with its parser, only when that command runs (the
parsers of all 14 commands take ~5 ms to build, one ~0.3 ms; only completion
builds them all).

``main`` can also be driven by click's ``CliRunner`` (``invoke(main, args)``),
as the tests and scripts written against the click version of this CLI do.
"""

from __future__ import annotations

import gc
import os
import sys

TYPE_CHECKING = False  # `typing` is not imported at run time: it costs every command ~3 ms
if TYPE_CHECKING:
    from typing import Any

    from runtool_iac.commands.command import Command, UsageError

PROG = "runtool-iac"
COMPLETE_VAR = "_RUNTOOL_IAC_COMPLETE"  # `_RUNTOOL_IAC_COMPLETE=bash_source runtool-iac`: the completion script

# name -> "module:attribute" of its Command, imported only when used.
COMMANDS = {
    "cdk-app": "runtool_iac.commands.init:cdk_app_command",
    "diff": "runtool_iac.commands.synth:diff_command",
    "init": "runtool_iac.commands.init:init_command",
    "list": "runtool_iac.commands.runner:list_command",
    "local": "runtool_iac.local.cli:local_command",
    "plan": "runtool_iac.commands.plan:plan_command",
    "redrive": "runtool_iac.commands.runner:redrive_command",
    "rerun": "runtool_iac.commands.runner:rerun_command",
    "results": "runtool_iac.commands.runner:results_command",
    "run": "runtool_iac.commands.runner:run_command",
    "status": "runtool_iac.commands.runner:status_command",
    "stop": "runtool_iac.commands.runner:stop_command",
    "synth": "runtool_iac.commands.synth:synth_command",
    "validate": "runtool_iac.commands.validate:validate_command",
}
HIDDEN = frozenset({"cdk-app"})  # what a project's cdk.json runs; not for people, so not listed or suggested
# Commands that read configs, print and end (in well under a minute, offline but for
# `plan --against-results`): they run with Python's cyclic garbage collector paused, as
# every command starts. Start-up and planning make hundreds of thousands of objects and
# no reference cycles, and the collector's passes over them cost a small `plan` ~7 ms,
# a tenth of its run. The others (AWS clients, CDK, jobs that run for hours) get it back
# before they run.
PAUSE_COLLECTOR = frozenset({"plan", "validate"})

DOC = """Describe algorithms and datasets in YAML, combine them into experiments,
    and run every (algorithm, dataset, run) as a SageMaker training job.

    \b
    Example:
      runtool-iac validate examples/forecasting/configs/*.yml
      runtool-iac plan examples/forecasting/configs/*.yml -e "algorithms * datasets" --runs 2
    """


class Cli:
    """The entry point: ``main()`` (the console script) or ``main.main(args, prog_name)``."""

    name = PROG  # click's CliRunner takes the default program name from here

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.main(*args, **kwargs)

    def command_names(self, hidden: bool = False) -> list[str]:
        return [n for n in COMMANDS if hidden or n not in HIDDEN]

    def command(self, name: str) -> Command | None:
        """The ``Command`` called ``name`` (its module imported now), or None."""
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        __import__(module)  # not importlib.import_module: `python -X importtime` does not see its imports
        return getattr(sys.modules[module], attribute)

    def main(self, args: list[str] | None = None, prog_name: str | None = None, standalone_mode: bool = True, **_: Any) -> Any:
        """Run the command line ``args`` (default: ``sys.argv[1:]``); exits with its code unless ``standalone_mode`` is off.

        Other keyword arguments click's ``CliRunner`` passes are accepted and ignored.
        """
        args = list(sys.argv[1:] if args is None else args)
        prog = prog_name or _program_name()
        if "_ARGCOMPLETE" in os.environ or COMPLETE_VAR in os.environ:
            from runtool_iac.commands import completion

            sys.exit(completion.run(self, prog, os.environ.get(COMPLETE_VAR)))
        collecting = gc.isenabled()
        gc.disable()
        try:
            if not standalone_mode:
                return self._dispatch(args, prog)
            try:
                code = self._run(args, prog)
            except BrokenPipeError:  # `runtool-iac plan ... | head`: the reader left; no traceback
                from runtool_iac.local.executor import discard_stdout_if

                discard_stdout_if(sys.stdout)  # what is still buffered, and the flush at exit, go nowhere
                code = 1
        finally:
            if collecting:
                gc.enable()
        sys.exit(code)

    def _run(self, args: list[str], prog: str) -> int:
        """Run the command line; print what ends it (help, a usage error, a failure) and return the exit code."""
        from runtool_iac.commands.command import Failure, ShowHelp, UsageError

        try:
            self._dispatch(args, prog)
        except ShowHelp as shown:
            _write(sys.stderr if shown.exit_code else sys.stdout, shown.page)
            return shown.exit_code
        except UsageError as exc:
            _write(sys.stderr, _usage_error(exc))
            return exc.exit_code
        except Failure as exc:
            _write(sys.stderr, f"error: {exc}\n")
            return exc.exit_code
        except KeyboardInterrupt:
            _write(sys.stderr, "\nAborted!\n")
            return 1
        return 0

    def _dispatch(self, args: list[str], prog: str) -> Any:
        from runtool_iac.commands.command import ShowHelp, UsageError, did_you_mean

        while args and args[0].startswith("-"):
            option = args.pop(0)
            if option in ("-h", "--help"):
                raise ShowHelp(self.help(prog))
            if option == "--version":
                from importlib import metadata

                _write(sys.stdout, f"{PROG}, version {metadata.version('runtool_iac')}\n")
                return None
            error = UsageError(f"No such option {option!r}." + did_you_mean(option, ["--help", "--version"]))
            raise _with_usage(error, self, prog)
        if not args:
            raise ShowHelp(self.help(prog), exit_code=2)
        name, rest = args[0], args[1:]
        command = self.command(name)
        if command is None:
            hint = did_you_mean(name, self.command_names())
            raise _with_usage(UsageError(f"No such command {name!r}.{hint}"), self, prog)
        if name not in PAUSE_COLLECTOR:
            gc.enable()
        return command.main(rest, f"{prog} {name}")

    def usage(self, prog: str, width: int | None = None) -> str:
        from runtool_iac.commands import helptext

        return helptext.usage(prog, "[OPTIONS] COMMAND [ARGS]...", width or helptext.terminal_width())

    def help(self, prog: str, width: int | None = None) -> str:
        """The top-level ``--help``: every command with the first sentence of its help."""
        from runtool_iac.commands import helptext

        width = width or helptext.terminal_width()
        names = self.command_names()
        limit = width - 6 - max(len(n) for n in names)
        options = [("--version", "Show the version and exit."), helptext.HELP_ROW]
        commands = [(n, self.command(n).summary(limit)) for n in names]
        return helptext.page(self.usage(prog, width), DOC, [("Options", options), ("Commands", commands)], width)


def _with_usage(error: UsageError, root: Cli, prog: str) -> UsageError:
    error.usage, error.prog = root.usage(prog), prog
    return error


def _usage_error(exc: UsageError) -> str:
    """As click showed usage errors: the usage, how to get help, the message."""
    head = f"{exc.usage}Try '{exc.prog} --help' for help.\n\n" if exc.usage else ""
    return f"{head}Error: {exc.message}\n"


def _write(stream: Any, text: str) -> None:
    stream.write(text)
    stream.flush()


def _program_name() -> str:
    """``runtool-iac`` as a console script; ``python -m runtool_iac`` when run so."""
    base = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else PROG
    if base == "__main__.py":
        return "python -m runtool_iac"
    if base == "cli.py":
        return "python -m runtool_iac.cli"
    return base if base and not base.endswith(".py") and base != "-c" else PROG


main = Cli()

if __name__ == "__main__":  # pragma: no cover
    main()
