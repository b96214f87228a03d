"""examples/pr-review.yml: a GitHub Actions workflow that reviews a pull request's experiments.

It cannot run here; what can be checked is that it is valid YAML with the
expected triggers and steps, and that every ``runtool-iac`` command line in it
parses with the real CLI (no misspelt command or option).
"""

from __future__ import annotations

import shlex

import pytest
import yaml

from conftest import ROOT
from runtool_iac.cli import main

WORKFLOW = ROOT / "examples" / "pr-review.yml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def steps(workflow: dict) -> list[dict]:
    (job,) = workflow["jobs"].values()
    return job["steps"]


def scripts(workflow: dict) -> str:
    return "\n".join(step.get("run", "") for step in steps(workflow))


def uses(workflow: dict, action: str) -> dict:
    (step,) = [s for s in steps(workflow) if s.get("uses", "").startswith(action + "@")]
    return step


def test_documented_at_the_top():
    head = WORKFLOW.read_text().splitlines()[:20]
    assert all(line.startswith("#") for line in head[:15])
    assert any("runtool-iac diff" in line for line in head)


def test_runs_on_pull_requests_touching_the_configs(workflow: dict):
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    paths = triggers["pull_request"]["paths"]
    assert "runtool.yml" in paths and "configs/**" in paths
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}


def test_setup_steps(workflow: dict):
    assert uses(workflow, "actions/checkout")["with"]["fetch-depth"] == 0
    assert uses(workflow, "actions/setup-python")["with"]["python-version"] == "3.11"
    assert uses(workflow, "actions/setup-node")["with"]["node-version"] == "22"
    assert "bash .ci/setup" in scripts(workflow)


def test_validates_synthesizes_comments_and_diffs_in_order(workflow: dict):
    text = scripts(workflow)
    order = ["bash .ci/setup", "runtool-iac validate", "runtool-iac synth", "cdk.out/*.plan.md", "runtool-iac diff"]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert 'runtool-iac diff "origin/${{ github.base_ref }}" --format markdown >> "$GITHUB_STEP_SUMMARY"' in text
    comment = uses(workflow, "marocchino/sticky-pull-request-comment")
    assert comment["with"]["path"] == "plan-comment.md" and "> plan-comment.md" in text
    names = [s.get("name", s.get("uses")) for s in steps(workflow)]
    assert names.index("Comment the plans on the pull request") < names.index("Plan diff against the base branch (job summary)")


def test_every_runtool_iac_command_line_parses(workflow: dict):
    lines = [line.strip() for line in scripts(workflow).splitlines() if line.strip().startswith("runtool-iac ")]
    assert len(lines) == 3
    for line in lines:
        words = shlex.split(line)
        words = words[: next((i for i, w in enumerate(words) if w in (">", ">>", "|")), len(words))]
        name, args = words[1], words[2:]
        command = main.command(name)
        assert command is not None, name
        command.parse(list(args))  # raises UsageError on an unknown option, a bad value or a missing argument
