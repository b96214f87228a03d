"""Issue 11: the command line starts fast because it imports little.

Checked in fresh interpreters (``-X importtime``, ``sys.modules``), as a user's
shell starts them: no click, no argcomplete unless completing, and only the
chosen command's module. Timings themselves are in benchmarks/cli_speed.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import EXAMPLE_CONFIGS, ROOT

FILES = [str(p) for p in EXAMPLE_CONFIGS]
NEVER_AT_START = ("click", "argcomplete", "uuid")


def imported(*args: str) -> list[str]:
    """Every module a `runtool-iac ARGS` process imports, in order (from ``-X importtime``)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "runtool_iac", *args], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return [line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:") and "|" in line]


def new_modules(code: str) -> list[str]:
    """The modules ``code`` imports in a fresh interpreter, beyond those of the interpreter's start."""
    script = f"import sys; before = set(sys.modules); {code}; new = sorted(set(sys.modules) - before); print(*new)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.parametrize(
    "args",
    [
        ["plan", *FILES, "-e", "algorithms * datasets", "--runs", "3", "--format", "json"],
        ["validate", *FILES],
    ],
    ids=["plan", "validate"],
)
def test_plan_and_validate_import_no_click(args):
    modules = imported(*args)
    assert "runtool_iac.cli" in modules and "runtool_iac.commands.command" in modules  # the listing is real
    assert not [m for m in modules if m.split(".")[0] in NEVER_AT_START]
    assert not [m for m in modules if m in ("argparse", "gettext", "locale")]  # the command line is split without them


def test_only_the_chosen_command_is_imported():
    modules = imported("validate", *FILES)
    assert "runtool_iac.commands.validate" in modules
    others = ["runtool_iac.commands.plan", "runtool_iac.commands.runner", "runtool_iac.commands.synth",
              "runtool_iac.commands.init", "runtool_iac.local.cli", "runtool_iac.commands.helptext"]
    assert not [m for m in others if m in modules]


def test_the_entry_point_module_imports_only_built_in_modules():
    assert [m for m in new_modules("import runtool_iac.cli") if not m.startswith("runtool_iac")] in ([], ["gc"])


def test_the_collector_is_paused_only_for_the_offline_commands_and_given_back():
    import gc

    from click.testing import CliRunner

    from runtool_iac import cli

    seen = {}

    def spy(name):
        def main(args, prog):
            seen[name] = gc.isenabled()
        return main

    for name in ("plan", "validate", "results"):
        command = cli.main.command(name)
        original, command.main = command.main, spy(name)
        try:
            CliRunner().invoke(cli.main, [name])
        finally:
            command.main = original
    assert seen == {"plan": False, "validate": False, "results": True}
    assert gc.isenabled()


def test_the_command_layer_imports_nothing_heavy():
    modules = new_modules("import runtool_iac.commands.command")
    assert "runtool_iac.commands.values" in modules and "argparse" not in modules
    assert not [m for m in modules if m in ("typing", "inspect", "dataclasses", "shutil", "textwrap", "difflib")]
    assert not [m for m in modules if m.startswith("runtool_iac.") and not m.startswith("runtool_iac.commands")]


def test_completion_is_imported_only_to_complete():
    modules = imported("--help")
    assert "runtool_iac.commands.completion" not in modules and "argcomplete" not in modules
