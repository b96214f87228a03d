"""The command line as users type it: every command's options in its help, usage errors (exit 2,
naming the option and what it accepts), the ways of writing options, and driving ``main`` from
click's ``CliRunner`` and as the console script (the CLI is argparse; scripts written against the
click version keep working)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from click.testing import CliRunner

from runtool_iac.cli import main
from runtool_iac.commands.command import Option

from conftest import EXAMPLE_CONFIGS, ROOT

FILES = [str(p) for p in EXAMPLE_CONFIGS]
PLAN = ["plan", *FILES, "-e", "algorithms * datasets"]


def cli(*args: str):
    return CliRunner().invoke(main, list(args), prog_name="runtool-iac")


@pytest.mark.parametrize("name", main.command_names(hidden=True))
def test_the_help_of_every_command_lists_all_its_options(name):
    result = cli(name, "--help")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.startswith(f"Usage: runtool-iac {name} [OPTIONS]")
    options = [p for p in main.command(name).params if isinstance(p, Option)]
    assert len(options) >= 2  # -q and -v at least: the listing is real
    for option in options:
        listed = ", ".join(sorted(option.flags, key=len))
        assert listed in result.stdout, f"`{name} --help` does not list {listed}"
    assert "-h, --help" in result.stdout


def test_help_wins_over_missing_arguments_and_bad_values():
    assert cli("run", "--help").exit_code == 0  # EXPERIMENT missing
    assert cli("plan", "--runs", "0", "-h").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([*PLAN, "--runs", "0"], "Invalid value for '--runs': 0 is not in the range 1<=x<=1000."),
        ([*PLAN, "--runs", "many"], "Invalid value for '--runs': 'many' is not a valid integer range."),
        ([*PLAN, "--format", "xml"], "Invalid value for '--format': 'xml' is not one of 'table', 'json', 'markdown'."),
        ([*PLAN, "--tag", "foo"], "Invalid value for '--tag': expected KEY=VALUE, got 'foo'"),
        ([*PLAN, "--runs"], "Option '--runs' requires an argument."),
        ([*PLAN, "--local=yes"], "Option '--local' does not take a value."),
        ([*PLAN, "--formt", "json"], "No such option '--formt'. Did you mean '--format'?"),
        ([*PLAN, "--form", "json"], "No such option '--form'. Did you mean '--format'?"),  # no abbreviations
        (["plan"], "Missing argument 'EXPERIMENT | FILE...'."),
        (["run", "a", "b"], "Got unexpected extra argument (b)"),
        (["run", "x", "--poll-seconds", "0"], "Invalid value for '--poll-seconds': 0.0 is not in the range 0.01<=x<=3600."),
        (["list", "--limit", "1001"], "Invalid value for '--limit': 1001 is not in the range 1<=x<=1000."),
        (["results", "x", "--format", "yaml"], "Invalid value for '--format': 'yaml' is not one of 'table', 'csv', 'json'."),
        (["results", "x", "--plot", "docs"], "Invalid value for '--plot': File 'docs' is a directory."),
        (["validate", "examples"], "Invalid value for '[FILES]...': File 'examples' is a directory."),
        (["synth", "--project", "no-such-dir"], "Invalid value for '--project': Path 'no-such-dir' does not exist."),
        (["init", "README.md"], "Invalid value for '[DIRECTORY]': Directory 'README.md' is a file."),
        (["local", "x", "--max-parallel", "65"], "Invalid value for '--max-parallel': 65 is not in the range 1<=x<=64."),
        (["local", "x", "--output-dir", "README.md"], "Invalid value for '--output-dir': Directory 'README.md' is a file."),
        (["validate", "-q", "-v", *FILES], "--quiet and --verbose exclude each other"),
        (["synth", "-qv"], "--quiet and --verbose exclude each other"),
        (["pln"], "No such command 'pln'. Did you mean 'plan'?"),
        (["--bogus"], "No such option '--bogus'."),
    ],
)
def test_usage_errors_exit_2_with_the_usage_and_a_message_naming_the_option(args, message, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = cli(*args)
    assert result.exit_code == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Usage: runtool-iac") and lines[1].startswith("Try 'runtool-iac")
    assert lines[-1] == f"Error: {message}"


def test_no_command_shows_the_help_as_a_usage_error():
    result = cli()
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("Usage: runtool-iac [OPTIONS] COMMAND [ARGS]...") and "Commands:" in result.stderr


def test_version():
    result = cli("--version")
    assert result.exit_code == 0 and result.stdout == "runtool-iac, version 0.1.0\n"


def test_options_anywhere_with_equals_repeated_and_clustered():
    """Options between arguments, `--opt=value`, repeated `--tag`s, `-qv` style clusters, `--`."""
    result = cli("plan", FILES[0], "--runs=2", "-e", "algorithms * datasets", FILES[1], "--tag", "a=1", "--tag=b=2",
                 "--format", "json", "-q")
    assert result.exit_code == 0, result.output
    requests = json.loads(result.stdout)
    assert len(requests) == 18
    assert all({"Key": "a", "Value": "1"} in r["Tags"] and {"Key": "b", "Value": "2"} in r["Tags"] for r in requests)
    after_dashes = cli("plan", "-e", "algorithms * datasets", "--format", "json", "--", *FILES)
    assert after_dashes.exit_code == 0 and len(json.loads(after_dashes.stdout)) == 9


def test_the_last_of_a_repeated_option_wins():
    result = cli(*PLAN, "--format", "table", "--format", "json")
    assert result.exit_code == 0 and isinstance(json.loads(result.stdout), list)


def test_config_errors_stay_on_stdout_with_exit_1_and_failures_on_stderr(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("algo: {image: img, instance: 42}\n")
    located = cli("validate", str(bad))
    assert located.exit_code == 1 and located.stdout.startswith(f"{bad}:1:") and located.stderr == ""
    failure = cli("init", str(tmp_path / "new"))
    assert failure.exit_code == 0
    again = cli("init", str(tmp_path / "new"))
    assert again.exit_code == 1 and again.stdout == "" and again.stderr.startswith("error: ")


def test_cli_runner_compatibility():
    """What CliRunner relies on: ``main.name`` (the default prog name), ``main.main(args=, prog_name=, ...)``
    with its extra keywords, output through the sys.stdout/sys.stderr of the moment, and SystemExit codes."""
    assert main.name == "runtool-iac"
    default_prog = CliRunner().invoke(main, ["plan"])
    assert default_prog.exit_code == 2 and "Usage: runtool-iac plan" in default_prog.stderr
    named = CliRunner().invoke(main, ["plan"], prog_name="rt")
    assert "Usage: rt plan [OPTIONS]" in named.stderr and "Try 'rt plan --help' for help." in named.stderr
    ok = CliRunner().invoke(main, ["validate", *FILES], color=False, terminal_width=80)
    assert (ok.exit_code, ok.stdout, ok.stderr) == (0, "ok: 2 file(s), 8 top-level nodes\n", "")
    assert ok.output == ok.stdout and ok.exception is None


def test_not_standalone_returns_and_raises_instead_of_exiting():
    from runtool_iac.commands.command import UsageError

    assert main.main(["validate", "-q", *FILES], standalone_mode=False) is None
    with pytest.raises(UsageError, match="Missing argument 'EXECUTION'"):
        main.main(["stop"], standalone_mode=False)


def test_the_console_script_exit_codes(tmp_path):
    script = Path(sys.executable).with_name("runtool-iac")
    bad = tmp_path / "bad.yml"
    bad.write_text("algo: {image: img, instance: 42}\n")
    for args, code in ((["validate", *FILES], 0), (["validate", str(bad)], 1), (["plan", "--runs", "0"], 2), ([], 2)):
        done = subprocess.run([str(script), *args], capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert done.returncode == code, (args, done.stderr)
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args",
    [["plan", *FILES, "-e", "algorithms * datasets", "--format", "json"], ["validate", *FILES], ["--help"], ["plan", "--help"]],
    ids=["plan", "validate", "help", "plan-help"],
)
def test_a_closed_stdout_is_exit_1_without_a_traceback(args):
    """`runtool-iac ... | head`: the reader left before the output was written (`| true` leaves at once)."""
    command = f"set -o pipefail; {sys.executable} -m runtool_iac {' '.join(map(repr, args))} | true"
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 1 and done.stderr == "", done.stderr


# ------------------------------------------------------------------ the splitter against argparse
# ("--" is left out: Python 3.11's intermixed parsing still reads options after it; "--" ends them here,
# as it did with click: test_double_dash_ends_the_options.)

TOKENS = ["--runs", "3", "-1", "-.5", "--format", "json", "-e", "a*b", "-ea*b", "--local", "--local=1", "-q", "-v",
          "-qv", "-qx", "-qe", "-e=x", "--format=", "-h", "--tag", "k=v", "--tag=k=v", "-", "f.yml", "--nope", "--runs=5", "-x", "--experiment=e"]


def _argparse_reference(command, args):
    """What `Command.parse` did with argparse (before the splitter), as the reference."""
    import argparse

    from runtool_iac.commands.command import ShowHelp, UsageError
    from runtool_iac.commands.completion import PARSER_SETTINGS, Parser

    parser = command.add_arguments(Parser(**PARSER_SETTINGS, prog="p"))
    try:
        namespace, extras = parser.parse_known_intermixed_args(args)
    except argparse.ArgumentError as exc:
        if exc.message == "expected one argument":
            return ("error", f"Option '{exc.argument_name}' requires an argument.")
        if exc.message.startswith("ignored explicit argument"):
            return ("error", f"Option '{exc.argument_name}' does not take a value.")
        return ("error", str(exc))
    except ShowHelp:
        return ("help",)
    except UsageError as exc:
        return ("error", exc.message)
    from runtool_iac.commands.command import _looks_like_option

    unknown = [a for a in extras if _looks_like_option(a)]  # a left-over "-1" is an extra argument, not an option
    if unknown:
        return ("unknown", unknown[0])
    values = {k: v for k, v in vars(namespace).items() if v not in (None, [])}  # Argument.value: the same
    return ("ok", values, [a for a in extras])


def _splitter(command, args):
    from runtool_iac.commands.command import ShowHelp, UsageError

    try:
        given, positionals, unknown = command.split(args)
    except ShowHelp:
        return ("help",)
    except UsageError as exc:
        return ("error", exc.message)
    if unknown:
        return ("unknown", unknown[0])
    arguments = [p for p in command.params if type(p).__name__ == "Argument"]
    for argument in arguments:  # as argparse fills the one positional
        if argument.many:
            if positionals:
                given[argument.dest], positionals = positionals, []
        elif positionals:
            given[argument.dest], positionals = positionals[0], positionals[1:]
    return ("ok", given, positionals)


@given(st.lists(st.sampled_from(TOKENS), max_size=7))
@settings(max_examples=600, deadline=None)
def test_the_command_line_splits_as_argparse_split_it(args):
    from runtool_iac.cli import main

    for name in ("plan", "status"):  # many positionals / one optional positional
        command = main.command(name)
        assert _splitter(command, list(args)) == _argparse_reference(command, list(args)), (name, args)


def test_double_dash_ends_the_options():
    given, positionals, unknown = main.command("plan").split(["--runs", "2", "--", "--runs", "-x.yml"])
    assert (given, positionals, unknown) == ({"runs": "2"}, ["--runs", "-x.yml"], [])
