"""Acknowledging cdk-nag findings (v3: CDK's policy validation), each with its reason.

cdk-nag's IAM5 rule reports one finding per wildcard action or resource and
accepts only acknowledgements of that exact finding. Rather than copying
finding strings (which embed logical IDs), constructs declare *patterns* of
the wildcards they intend, each with a reason; ``acknowledge_wildcards``
computes the findings the same way cdk-nag does and acknowledges the ones a
pattern explains. Any other wildcard stays a violation and fails the synth.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Sequence

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct

WILDCARD_RULE = "AwsSolutions-IAM5"


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Accept a whole cdk-nag rule for ``construct`` and its children."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def flatten(value: Any) -> str:
    """A resolved CloudFormation value as cdk-nag prints it (``<Logical.Attr>``, ``<AWS::Region>``)."""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict):
        if "Fn::Join" in value:
            delimiter, items = value["Fn::Join"]
            return delimiter.join(flatten(i) for i in items)
        if "Fn::Sub" in value:
            return flatten(value["Fn::Sub"])
        if "Fn::GetAtt" in value:
            resource, attribute = value["Fn::GetAtt"]
            return f"<{flatten(resource)}.{flatten(attribute)}>"
        if "Fn::ImportValue" in value:
            return flatten(value["Fn::ImportValue"])
        if "Ref" in value:
            return f"<{flatten(value['Ref'])}>"
    return json.dumps(value, separators=(",", ":"))


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def wildcard_findings(document: dict) -> list[str]:
    """IAM5 findings of a resolved policy document (``Action::…`` / ``Resource::…``)."""
    found: list[str] = []
    for statement in _as_list(document.get("Statement", [])):
        for action in _as_list(statement.get("Action", [])):
            text = flatten(action)
            if "*" in text and f"Action::{text}" not in found:
                found.append(f"Action::{text}")
        for resource in _as_list(statement.get("Resource", [])):
            text = flatten(resource)
            if "*" in text and f"Resource::{text}" not in found:
                found.append(f"Resource::{text}")
    return found


def _policies(scope: Construct) -> Iterable[tuple[IConstruct, dict]]:
    stack = Stack.of(scope)
    for node in scope.node.find_all():
        if isinstance(node, (iam.CfnPolicy, iam.CfnManagedPolicy)):
            yield node, stack.resolve(node.policy_document)
        elif isinstance(node, iam.CfnRole):
            for policy in stack.resolve(node.policies) or []:
                yield node, stack.resolve(policy["PolicyDocument"] if "PolicyDocument" in policy else policy)


def acknowledge_wildcards(scope: Construct, allowed: Sequence[tuple[str, str]]) -> list[str]:
    """Acknowledge each wildcard finding under ``scope`` that one of ``allowed`` explains.

    ``allowed`` holds (regular expression over the finding, reason). Returns
    the findings left unexplained (they remain cdk-nag violations).
    """
    patterns = [(re.compile(p), reason) for p, reason in allowed]
    unexplained = []
    for node, document in _policies(scope):
        for finding in wildcard_findings(document):
            reason = next((r for p, r in patterns if p.fullmatch(finding)), None)
            if reason is None:
                unexplained.append(finding)
                continue
            acknowledge(node, f"{WILDCARD_RULE}[{finding}]", reason)
    return unexplained


def skip_checkov(construct: IConstruct, check: str, reason: str) -> None:
    """Record an accepted checkov finding in the resource's template metadata, as checkov
    reads it (``Metadata.checkov.skip: [{id, comment}]``), next to the construct."""
    resource = construct.node.default_child if isinstance(construct.node.default_child, CfnResource) else construct
    metadata = resource.get_metadata("checkov") or {"skip": []}
    metadata["skip"] = [*metadata["skip"], {"id": check, "comment": reason}]
    resource.add_metadata("checkov", metadata)
