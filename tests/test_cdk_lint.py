"""cfn-lint on the synthesized template, including its state machine definitions.

cfn-lint's E3601 validates a state machine definition against its Amazon
States Language schema, but skips a ``DefinitionString`` that is an intrinsic
function, which is what CDK writes (an ``Fn::Join`` around the bucket, role
and partition tokens). So the template is linted twice: as synthesized, and
as a copy whose definitions are resolved (tokens replaced by realistic
placeholder names) and given as ``Definition`` objects, which CloudFormation
accepts equally. (Not as resolved ``DefinitionString`` text: cfn-lint 1.58.0
then crashes while formatting an error at a list index, ``E1101 sequence item
3: expected str instance, int found``, instead of reporting it.) A
deliberately broken copy shows the definition rules really run.

What E3601 checks is structural: state types, Next/End, unknown fields,
StartAt targets, Retry/Catch shapes, numeric minimums. It does not look
inside ItemReader/ResultWriter, at JitterStrategy or at variable references;
test_cdk_template.py covers those.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest_cdk import Synth

pytest_plugins = ["conftest_cdk"]  # the session-wide synth: fixture cdk_synth

REGIONS = ["eu-west-1", "us-east-1"]


def lint(template: dict) -> list[tuple[str, tuple, str]]:
    from cfnlint.api import ManualArgs
    from cfnlint.api import lint as cfn_lint

    matches = cfn_lint(json.dumps(template), config=ManualArgs(regions=REGIONS))
    return [(m.rule.id, tuple(m.path), m.message) for m in matches]


def with_resolved_definitions(cdk_synth: Synth) -> dict:
    template = copy.deepcopy(cdk_synth.template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            properties = resource["Properties"]
            properties["Definition"] = json.loads(cdk_synth.resolve(properties.pop("DefinitionString")))
    return template


@pytest.fixture(scope="module")
def resolved(cdk_synth: Synth) -> dict:
    return with_resolved_definitions(cdk_synth)


def test_synthesized_template_is_clean(cdk_synth: Synth):
    """No exceptions: every rule, errors, warnings and informational ones."""
    assert lint(cdk_synth.template) == []


def test_template_with_resolved_definitions_is_clean(resolved: dict):
    assert lint(resolved) == []


def test_state_machines_depend_on_their_policy_not_redundantly_on_their_role(cdk_synth: Synth):
    """W3005 (redundant DependsOn) is fixed at the source: RoleArn's Fn::GetAtt implies the role,
    the explicit dependency on the role's policy stays (it must exist before the machine)."""
    for logical_id in cdk_synth.state_machines().values():
        resource = cdk_synth.resources[logical_id]
        role = resource["Properties"]["RoleArn"]["Fn::GetAtt"][0]
        (policy,) = resource["DependsOn"]
        assert cdk_synth.resources[policy]["Type"] == "AWS::IAM::Policy"
        assert {"Ref": role} in cdk_synth.resources[policy]["Properties"]["Roles"]
    broken = copy.deepcopy(cdk_synth.template)
    resource = broken["Resources"][logical_id]
    resource["DependsOn"].append(resource["Properties"]["RoleArn"]["Fn::GetAtt"][0])
    assert [f[0] for f in lint(broken)] == ["W3005"]  # the rule runs and would see the old form


def test_cfn_lint_reports_a_broken_definition(cdk_synth: Synth, resolved: dict):
    broken = copy.deepcopy(resolved)
    machine = cdk_synth.state_machines()["bench"]
    definition = broken["Resources"][machine]["Properties"]["Definition"]
    jobs = definition["States"]["Jobs"]["Branches"][0]["States"]
    (map_name,) = jobs
    processor = jobs[map_name]["ItemProcessor"]
    train = processor["States"]["Train"]

    definition["States"][definition["StartAt"]]["Type"] = "Pas"
    jobs[map_name]["MaxConcurrency"] = -1
    train["Retry"][0]["MaxAttempts"] = -1
    del train["Catch"][0]["Next"]
    definition["States"]["Done"]["Next"] = "Jobs"
    processor["StartAt"] = "NoSuchState"

    base = ("Resources", machine, "Properties", "Definition", "States")
    inner = (*base, "Jobs", "Branches", 0, "States", map_name)
    expected = {
        (*base, definition["StartAt"], "Type"),
        (*inner, "MaxConcurrency"),
        (*inner, "ItemProcessor", "States", "Train", "Retry", 0, "MaxAttempts"),
        (*inner, "ItemProcessor", "States", "Train", "Catch", 0),
        (*base, "Done", "Next"),
        (*inner, "ItemProcessor", "StartAt"),
    }
    reported = {path for rule, path, _ in lint(broken) if rule == "E3601"}
    assert reported == expected


def test_broken_definition_string_goes_unnoticed_without_resolving(cdk_synth: Synth):
    """Why the resolved copy is needed: the same kind of break inside the Fn::Join is not reported."""
    broken = copy.deepcopy(cdk_synth.template)
    machine = cdk_synth.state_machines()["bench"]
    parts = broken["Resources"][machine]["Properties"]["DefinitionString"]["Fn::Join"][1]
    assert '"Type":"Pass"' in parts[0]
    parts[0] = parts[0].replace('"Type":"Pass"', '"Type":"Pas"', 1)
    assert not [f for f in lint(broken) if f[0] == "E3601"]
