"""cdk-nag (AwsSolutions rules, run by synth() as a CDK policy-validation plugin).

The session synth succeeding already means no unacknowledged finding. Here:
the report is clean, every acknowledgement is listed with its reason and
matches a real finding, and, with the acknowledgements switched off, the
same synth fails (so the plugin really runs inside ``synth()``).
"""

from __future__ import annotations

import ast
import io
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import ROOT

if TYPE_CHECKING:
    from conftest_cdk import Synth

pytest_plugins = ["conftest_cdk"]  # the session-wide synth: fixture cdk_synth

ACK_TYPE = "aws:cdk:acknowledged-rules"
# construct path (below the stack) -> rule: findings accepted for a whole construct.
# (Only the SNS topic's SNS2, which the example project does not create.)
WHOLE_RULE_ACKNOWLEDGEMENTS: set[tuple[str, str]] = set()


def metadata(cdk_synth: Synth) -> dict[str, list[dict]]:
    return json.loads((cdk_synth.outdir / f"{cdk_synth.result.stack_name}.metadata.json").read_text())


def acknowledgements(cdk_synth: Synth) -> list[tuple[str, str, str]]:
    """(construct path below the stack, rule or finding id, reason) of every acknowledgement."""
    out = []
    prefix = f"/{cdk_synth.result.stack_name}/"
    for path, entries in metadata(cdk_synth).items():
        for entry in entries:
            if entry["type"] == ACK_TYPE:
                for key, reason in entry["data"].items():
                    out.append((path.removeprefix(prefix), key.removeprefix("Annotation::"), reason))
    return out


def test_validation_report_has_no_violations(cdk_synth: Synth):
    report = json.loads((cdk_synth.outdir / "validation-report.json").read_text())
    violations = [v for plugin in report["pluginReports"] for v in plugin.get("violations", [])]
    assert violations == []
    assert all(plugin["conclusion"] == "success" for plugin in report["pluginReports"])


def test_every_acknowledgement_has_a_reason_and_a_finding(cdk_synth: Synth):
    from runtool_iac.constructs.nag import WILDCARD_RULE, wildcard_findings

    acks = acknowledgements(cdk_synth)
    assert len(acks) >= 20
    for path, rule, reason in acks:
        assert reason.strip() and len(reason) >= 20, (path, rule)
        assert not reason.startswith("TODO"), (path, rule)

    whole = {(path, rule) for path, rule, _ in acks if not rule.startswith(f"{WILDCARD_RULE}[")}
    assert whole == WHOLE_RULE_ACKNOWLEDGEMENTS

    # Each IAM5 acknowledgement names one wildcard finding of the policy it sits on, and every
    # wildcard finding of every IAM policy is acknowledged (exactly: no stale or blanket ones).
    logical_ids = {
        path.removeprefix(f"/{cdk_synth.result.stack_name}/"): entry["data"]
        for path, entries in metadata(cdk_synth).items()
        for entry in entries
        if entry["type"] == "aws:cdk:logicalId"
    }
    acknowledged = {
        (logical_ids[path], rule[len(WILDCARD_RULE) + 1 : -1]) for path, rule, _ in acks if rule.startswith(f"{WILDCARD_RULE}[")
    }
    findings = {
        (logical_id, finding)
        for logical_id, resource in cdk_synth.of_type("AWS::IAM::Policy").items()
        for finding in wildcard_findings(resource["Properties"]["PolicyDocument"])
    }
    assert acknowledged == findings


def _literal_text(node: ast.AST) -> str | None:
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def test_acknowledgements_in_the_constructs_source_all_give_reasons():
    """Also the ones this project does not trigger (e.g. SNS2 with notifications on):
    ``acknowledge(construct, rule, reason)`` calls and ``wildcards()`` (pattern, reason) pairs."""
    calls, pairs = [], []
    for file in sorted((ROOT / "runtool_iac" / "constructs").glob("*.py")):
        if file.name == "nag.py":
            continue  # the helpers themselves: they forward the reasons declared by wildcards()
        tree = ast.parse(file.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "acknowledge" and len(node.args) == 3:
                rule, reason = _literal_text(node.args[1]), _literal_text(node.args[2])
                calls.append((file.name, rule, reason))
            if isinstance(node, ast.FunctionDef) and node.name == "wildcards":
                for ret in (n for n in ast.walk(node) if isinstance(n, ast.Return) and isinstance(n.value, ast.List)):
                    for item in ret.value.elts:
                        assert isinstance(item, ast.Tuple) and len(item.elts) == 2, (file.name, ast.dump(item))
                        pairs.append((file.name, _literal_text(item.elts[1])))
    assert {(f, r) for f, r, _ in calls} == {("stack.py", "AwsSolutions-SNS2")}
    assert all(reason and len(reason) >= 20 for _, _, reason in calls), calls
    assert {f for f, _ in pairs} == {"experiment.py", "roles.py"}
    assert all(reason and len(reason) >= 20 for _, reason in pairs), pairs


def test_cdk_nag_runs_inside_synth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cdk_synth: Synth):
    """Without the acknowledgements the very same synth fails, listing exactly the acknowledged findings.

    (cdk-nag 3.0.2 does not report S1 for the bucket that receives the output bucket's access
    logs, so it needs no acknowledgement.)
    """
    from runtool_iac.constructs import nag, stack
    from runtool_iac.synth import synth

    monkeypatch.setattr(nag, "acknowledge", lambda *args: None)
    monkeypatch.setattr(stack, "acknowledge", lambda *args: None)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        synth(ROOT / "runtool.yml", tmp_path / "cdk.out", out=io.StringIO())
    report = json.loads((tmp_path / "cdk.out" / "validation-report.json").read_text())
    violations = {
        (c["constructPath"].removeprefix(f"{cdk_synth.result.stack_name}/"), v["ruleName"])
        for p in report["pluginReports"]
        for v in p["violations"]
        for c in v["violatingConstructs"]
    }
    acknowledged = {(path, rule) for path, rule, _ in acknowledgements(cdk_synth)}
    assert violations == acknowledged - WHOLE_RULE_ACKNOWLEDGEMENTS
    assert {re.sub(r"\[.*", "", rule) for _, rule in violations} == {"AwsSolutions-IAM5"}
