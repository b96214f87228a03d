"""IAM's size quotas, measured on a CloudFormation template before anything is deployed.

IAM rejects (and CloudFormation rolls back) a role whose inline policies together
exceed 10,240 characters, a managed policy over 6,144, or more than 10 managed
policies attached to one role (IAM User Guide, "IAM and AWS STS quotas"; white
space is not counted). A template holds intrinsics (``Ref``, ``Fn::GetAtt``,
``Fn::Join`` …) whose values are only known at deploy time, so each is measured
at the longest value it can take (the ``aws-us-gov`` partition, the longest
region name, a 63-character bucket name, …): a policy that passes here passes
in every account and region.

Pure: works on the template's JSON, so it checks the synthesized template and,
through ``runtool_iac.synth``, the stack before it is written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from runtool_iac.errors import ActionError

INLINE_AGGREGATE_MAX = 10_240
MANAGED_POLICY_MAX = 6_144
MANAGED_POLICIES_PER_ROLE_MAX = 10

# Longest values of the pseudo parameters and of generated physical names.
WORST_CASE = {
    "AWS::Partition": "aws-us-gov",
    "AWS::Region": "ap-southeast-2" + "x" * 6,  # 20 characters: longer than any region name so far
    "AWS::AccountId": "0" * 12,
    "AWS::URLSuffix": "amazonaws.com.cn",
    "AWS::StackName": "s" * 128,
    "AWS::StackId": "arn:aws-us-gov:cloudformation:" + "r" * 20 + ":" + "0" * 12 + ":stack/" + "s" * 128 + "/" + "u" * 36,
}
# Ref / Fn::GetAtt of a resource, by type: (Ref value, {attribute: value}).
_ARN = "arn:aws-us-gov:{service}:" + "r" * 20 + ":" + "0" * 12 + ":"
_NAMES = {
    "AWS::S3::Bucket": ("b" * 63, {"Arn": "arn:aws-us-gov:s3:::" + "b" * 63}),
    "AWS::IAM::Role": ("r" * 64, {"Arn": "arn:aws-us-gov:iam::" + "0" * 12 + ":role/" + "r" * 64}),
    "AWS::IAM::ManagedPolicy": ("arn:aws-us-gov:iam::" + "0" * 12 + ":policy/" + "p" * 128, {}),
    "AWS::Logs::LogGroup": ("l" * 512, {"Arn": _ARN.format(service="logs") + "log-group:" + "l" * 512 + ":*"}),
    "AWS::StepFunctions::StateMachine": (_ARN.format(service="states") + "stateMachine:" + "m" * 80, {"Name": "m" * 80}),
    "AWS::SNS::Topic": (_ARN.format(service="sns") + "t" * 256, {"TopicName": "t" * 256}),
    "AWS::KMS::Key": ("k" * 36, {"Arn": _ARN.format(service="kms") + "key/" + "k" * 36}),
}
_UNKNOWN = "x" * 2048  # anything else: as long as an ARN may be


@dataclass
class RoleSizes:
    """One role's policies as IAM counts them."""

    role: str  # logical ID
    path: str  # construct path (or logical ID) for messages
    inline: dict[str, int] = field(default_factory=dict)  # policy -> characters
    managed: dict[str, int] = field(default_factory=dict)  # managed policy of the template -> characters
    managed_arns: int = 0  # managed policies attached by ARN (AWS managed or existing)

    @property
    def inline_total(self) -> int:
        return sum(self.inline.values())

    @property
    def managed_count(self) -> int:
        return len(self.managed) + self.managed_arns

    def problems(self) -> list[str]:
        found = []
        if self.inline_total > INLINE_AGGREGATE_MAX:
            parts = ", ".join(f"{name} {size:,}" for name, size in sorted(self.inline.items()))
            found.append(
                f"role {self.path}: inline policies total {self.inline_total:,} characters "
                f"(IAM allows {INLINE_AGGREGATE_MAX:,} per role): {parts}"
            )
        for name, size in sorted(self.managed.items()):
            if size > MANAGED_POLICY_MAX:
                found.append(f"role {self.path}: managed policy {name} has {size:,} characters (IAM allows {MANAGED_POLICY_MAX:,})")
        if self.managed_count > MANAGED_POLICIES_PER_ROLE_MAX:
            found.append(
                f"role {self.path}: {self.managed_count} managed policies attached "
                f"(IAM allows {MANAGED_POLICIES_PER_ROLE_MAX} per role by default)"
            )
        return found

    def summary(self) -> str:
        managed = f", {len(self.managed)} managed ({', '.join(f'{s:,}' for _, s in sorted(self.managed.items()))})" if self.managed else ""
        return f"{self.path}: inline {self.inline_total:,}/{INLINE_AGGREGATE_MAX:,}{managed}"


def _placeholder(value: Any, resources: dict) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)) or value is None:
        return json.dumps(value)
    if isinstance(value, list):
        return json.dumps([_resolve(v, resources) for v in value], separators=(",", ":"))
    if not isinstance(value, dict) or len(value) != 1:
        return json.dumps(_resolve(value, resources), separators=(",", ":"))
    (function, argument), = value.items()
    if function == "Ref":
        if argument in WORST_CASE:
            return WORST_CASE[argument]
        kind = resources.get(argument, {}).get("Type")
        return _NAMES.get(kind, (_UNKNOWN, {}))[0]
    if function == "Fn::GetAtt":
        logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
        kind = resources.get(logical_id, {}).get("Type")
        return _NAMES.get(kind, (_UNKNOWN, {}))[1].get(attribute, _UNKNOWN)
    if function == "Fn::Join":
        delimiter, items = argument
        return delimiter.join(_placeholder(i, resources) for i in items)
    if function == "Fn::Sub":
        text = argument if isinstance(argument, str) else argument[0]
        return re.sub(r"\$\{([^}!]+)\}", lambda m: _placeholder({"Ref": m.group(1)} if "." not in m.group(1) else {"Fn::GetAtt": m.group(1)}, resources), text)
    if function == "Fn::Split":
        raise ValueError("Fn::Split outside Fn::Select")
    if function == "Fn::Select":
        index, items = argument
        if isinstance(items, dict) and "Fn::Split" in items:
            delimiter, source = items["Fn::Split"]
            parts = _placeholder(source, resources).split(delimiter)
        else:
            parts = [_placeholder(i, resources) for i in items]
        return parts[int(index)] if int(index) < len(parts) else _UNKNOWN
    if function.startswith("Fn::") or function == "Condition":
        return _UNKNOWN
    return json.dumps(_resolve(value, resources), separators=(",", ":"))


def _resolve(value: Any, resources: dict) -> Any:
    """A policy document with every intrinsic replaced by its longest possible value."""
    if isinstance(value, list):
        return [_resolve(v, resources) for v in value]
    if isinstance(value, dict):
        if len(value) == 1 and (next(iter(value)) == "Ref" or next(iter(value)).startswith("Fn::")):
            return _placeholder(value, resources)
        return {k: _resolve(v, resources) for k, v in value.items()}
    return value


def policy_size(document: Any, resources: dict | None = None) -> int:
    """Characters IAM counts for ``document`` (compact JSON, white space not counted)."""
    text = json.dumps(_resolve(document, resources or {}), separators=(",", ":"), ensure_ascii=False)
    return len(re.sub(r"\s", "", text))


def role_sizes(template: dict, paths: dict[str, str] | None = None) -> list[RoleSizes]:
    """Every role of ``template`` with the sizes of the policies attached to it."""
    resources = template.get("Resources", {})
    paths = paths or {}
    roles = {
        logical_id: RoleSizes(logical_id, paths.get(logical_id, logical_id))
        for logical_id, resource in resources.items()
        if resource.get("Type") == "AWS::IAM::Role"
    }

    def attached(properties: dict) -> list[str]:
        return [r["Ref"] for r in properties.get("Roles", []) if isinstance(r, dict) and r.get("Ref") in roles]

    for logical_id, sizes in roles.items():
        properties = resources[logical_id].get("Properties", {})
        for policy in properties.get("Policies", []):
            sizes.inline[str(policy.get("PolicyName", "inline"))] = policy_size(policy.get("PolicyDocument"), resources)
        for arn in properties.get("ManagedPolicyArns", []):
            if isinstance(arn, dict) and arn.get("Ref") in resources:
                continue  # a managed policy of this template: counted below, with its size
            sizes.managed_arns += 1
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::IAM::Policy":
            for role in attached(properties):
                roles[role].inline[paths.get(logical_id, logical_id)] = policy_size(properties.get("PolicyDocument"), resources)
        elif resource.get("Type") == "AWS::IAM::ManagedPolicy":
            size = policy_size(properties.get("PolicyDocument"), resources)
            referencing = [
                role for role, sizes in roles.items()
                if {"Ref": logical_id} in resources[role].get("Properties", {}).get("ManagedPolicyArns", [])
            ]
            for role in sorted(set(attached(properties)) | set(referencing)):
                roles[role].managed[paths.get(logical_id, logical_id)] = size
    return [roles[k] for k in sorted(roles)]


class PolicyLimitError(ActionError):
    """A role's policies exceed IAM's quotas: the deploy would roll back."""


def check(template: dict, paths: dict[str, str] | None = None) -> list[RoleSizes]:
    """The roles' sizes; raises ``PolicyLimitError`` naming each role over a quota."""
    sizes = role_sizes(template, paths)
    problems = [p for s in sizes for p in s.problems()]
    if problems:
        raise PolicyLimitError(
            "IAM policy quotas exceeded (the deploy would fail):\n  " + "\n  ".join(problems)
            + "\nGrant fewer distinct resources (e.g. keep datasets below shared S3 prefixes), "
            "or set defaults.role_arn to a role you manage."
        )
    return sizes
