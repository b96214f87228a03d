"""``runtool-iac synth`` (in-process), and determinism: a second synth gives the same bytes.

The second synth is the CLI command's, into another folder; it is compared
file by file with the session's synth.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from conftest import ROOT
from runtool_iac.cli import main

if TYPE_CHECKING:
    from conftest_cdk import Synth

pytest_plugins = ["conftest_cdk"]  # the session-wide synth: fixture cdk_synth

# Files of a cloud assembly that may differ between two synths of the same project, with why.
# None do today: no timestamps, absolute paths or random ids end up in cdk.out.
LEGITIMATELY_DIFFERENT: dict[str, str] = {}


@pytest.fixture(scope="module")
def cli_synth(tmp_path_factory: pytest.TempPathFactory):
    outdir = tmp_path_factory.mktemp("cli-synth") / "out"
    result = CliRunner().invoke(main, ["synth", "--project", str(ROOT / "runtool.yml"), "--outdir", str(outdir)])
    return result, outdir


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_synth_command_prints_the_summary_and_where_the_plans_are(cli_synth):
    result, outdir = cli_synth
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("bench: 27 jobs (9 trials × 3 runs; ml.m5.large: 27); ≤ 648.0 instance-hours; plan: ")
    assert lines[0].endswith(str(outdir / "bench.plan.md"))
    assert lines[1].startswith("smoke: 1 jobs (1 trials × 1 runs; ml.m5.large: 1); ≤ 24.0 instance-hours; plan: ")
    assert lines[2].startswith("stack RuntoolExampleRuntool: ") and lines[2].endswith("RuntoolExampleRuntool.template.json")
    assert lines[3] == f"plan files: {outdir}/{{bench,smoke}}.plan.{{md,json}}"
    for name in ("bench", "smoke"):
        assert (outdir / f"{name}.plan.md").read_text().startswith(f"### runtool-example / {name}: ")
        assert (outdir / f"{name}.plan.json").is_file()


def test_second_synth_is_byte_identical(cdk_synth: Synth, cli_synth):
    result, outdir = cli_synth
    assert result.exit_code == 0, result.output
    first, second = files(cdk_synth.outdir), files(outdir)
    assert sorted(first) == sorted(second)
    # The template, the manifest assets and the plans among them.
    assert {f"{cdk_synth.result.stack_name}.template.json", "bench.plan.json", "smoke.plan.md"} <= set(first)
    assert sum(name.startswith("asset.") and name.endswith(".jsonl") for name in first) == 2
    differing = sorted(name for name in first if first[name] != second[name])
    assert differing == sorted(LEGITIMATELY_DIFFERENT)


def test_synth_command_quiet_and_errors(tmp_path: Path):
    result = CliRunner().invoke(main, ["synth", "--project", str(tmp_path)])
    assert result.exit_code == 1 and "runtool.yml" in result.output
    bad = tmp_path / "runtool.yml"
    bad.write_text("project: x\nconfigs: [missing.yml]\nexperiments: {e: {experiment: a * b}}\n")
    result = CliRunner().invoke(main, ["synth", "--project", str(bad), "-q"])
    assert result.exit_code == 1
    assert result.stdout == f"{tmp_path / 'missing.yml'}:1:1: file not found\n"  # a located error, no traceback


def test_synth_command_help_has_an_example():
    for command in ("synth", "diff"):
        result = CliRunner().invoke(main, [command, "--help"])
        assert result.exit_code == 0
        assert "Example:" in result.output and f"runtool-iac {command}" in result.output.split("Example:")[1]
