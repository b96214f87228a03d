"""Least privilege, read from the synthesized template: every action of every role, on exactly what.

Resources are compared in cdk-nag's flattened notation (``runtool_iac.constructs.nag.flatten``):
``arn:<AWS::Partition>:…``, ``<Logical.Arn>``. The exact wildcard findings of
every policy are pinned too, so a new wildcard cannot slip in unreviewed.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest_cdk import Synth

pytest_plugins = ["conftest_cdk"]  # the session-wide synth: fixture cdk_synth

ARN = "arn:<AWS::Partition>"
LOCAL = "<AWS::Region>:<AWS::AccountId>"
LOGS_AND_XRAY = {
    # aws-cdk-lib's policy for state machine logging (vended log delivery) and X-Ray tracing;
    # none of these actions supports resource-level permissions.
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
}
SYNC_RULE = f"{ARN}:events:{LOCAL}:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"
DATASETS = ("electricity", "retail", "traffic")


def _list(value):
    return value if isinstance(value, list) else [value]


def role_statements(cdk_synth: Synth, role: str) -> list[dict]:
    """Every statement of every policy attached to ``role`` (inline, AWS::IAM::Policy, managed)."""
    statements = []
    properties = cdk_synth.resources[role]["Properties"]
    assert not properties.get("ManagedPolicyArns"), "no AWS managed policies"
    for policy in properties.get("Policies", []):
        statements += _list(policy["PolicyDocument"]["Statement"])
    for resource in cdk_synth.of_type("AWS::IAM::Policy").values():
        if {"Ref": role} in resource["Properties"].get("Roles", []):
            statements += _list(resource["Properties"]["PolicyDocument"]["Statement"])
    assert not cdk_synth.of_type("AWS::IAM::ManagedPolicy")
    return statements


def grants(statements: list[dict]) -> dict[str, set[str]]:
    """action -> flattened resources it is allowed on."""
    from runtool_iac.constructs.nag import flatten

    out: dict[str, set[str]] = defaultdict(set)
    for statement in statements:
        assert statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement
        for action in _list(statement["Action"]):
            out[action] |= {flatten(r) for r in _list(statement["Resource"])}
    return dict(out)


def conditions(statements: list[dict], action: str) -> list:
    return [s.get("Condition") for s in statements if action in _list(s["Action"])]


def machine_role(cdk_synth: Synth, experiment: str) -> str:
    machine = cdk_synth.resources[cdk_synth.state_machines()[experiment]]
    return machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]


def own_executions(cdk_synth: Synth, experiment: str) -> str:
    name = f'{{"Fn::Select":[6,{{"Fn::Split":[":",{{"Ref":"{cdk_synth.state_machines()[experiment]}"}}]}}]}}'
    return f"{ARN}:states:{LOCAL}:execution:{name}"


def manifest_objects(cdk_synth: Synth, experiment: str) -> set[str]:
    """The asset objects (S3 keys) the experiment's definition reads its declared jobs from."""
    import json

    text = json.dumps(cdk_synth.definition(experiment))
    return {key for key in cdk_synth.asset_files() if key.endswith(".jsonl") and key in text}


# ---------------------------------------------------------- state machines


@pytest.mark.parametrize("experiment", ["bench", "smoke", "adhoc"])
def test_state_machine_role_is_least_privilege(cdk_synth: Synth, experiment: str):
    role = machine_role(cdk_synth, experiment)
    statements = role_statements(cdk_synth, role)
    sagemaker_role = f"<{cdk_synth.logical_id('AWS::IAM::Role', 'SageMakerExecutionRole')}.Arn>"
    bucket = f"<{cdk_synth.logical_id('AWS::S3::Bucket', 'OutputBucket')}.Arn>"
    prefix = cdk_synth.project.job_prefix
    assets = f"{ARN}:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>"
    manifests = {f"{assets}/{key}" for key in manifest_objects(cdk_synth, experiment)}
    assert len(manifests) == (0 if experiment == "adhoc" else 1)  # one group (ml.m5.large) per experiment
    results = f"{bucket}/{experiment}/_results/*"
    labels = {"adhoc": ["Default", "MlM5Large"]}.get(experiment, ["MlM5Large"])
    executions = own_executions(cdk_synth, experiment)

    expected = {action: {"*"} for action in LOGS_AND_XRAY}
    for action in ("CreateTrainingJob", "DescribeTrainingJob", "StopTrainingJob", "AddTags", "ListTags"):
        expected[f"sagemaker:{action}"] = {f"{ARN}:sagemaker:{LOCAL}:training-job/{prefix}-*"}
    expected["iam:PassRole"] = {sagemaker_role}
    for action in ("PutTargets", "PutRule", "DescribeRule"):
        expected[f"events:{action}"] = {SYNC_RULE}
    # Reads: the declared manifest (asset objects), uploaded manifests, and (ResultWriter,
    # as AWS documents its policy) its own results prefix. Writes: only the results prefix.
    expected["s3:GetObject"] = manifests | {f"{bucket}/{experiment}/_manifests/*", results}
    for action in ("PutObject", "ListMultipartUploadParts", "AbortMultipartUpload"):
        expected[f"s3:{action}"] = {results}
    # Distributed Map: start its own child executions, follow/stop/redrive them.
    expected["states:StartExecution"] = {f"<{cdk_synth.state_machines()[experiment]}>"}
    expected["states:DescribeExecution"] = expected["states:StopExecution"] = {f"{executions}:*"}
    expected["states:RedriveExecution"] = {f"{executions}/{label}:*" for label in labels}

    assert grants(statements) == expected
    assert conditions(statements, "iam:PassRole") == [{"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}]
    assert prefix == "forecast" and all(job.name.startswith("forecast-") for p in cdk_synth.result.plans.values() for job in p.jobs)


def test_state_machine_roles_trust_only_step_functions_of_this_account(cdk_synth: Synth):
    for experiment in cdk_synth.state_machines():
        (statement,) = cdk_synth.resources[machine_role(cdk_synth, experiment)]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": "states.amazonaws.com"}
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


# ------------------------------------------------------- SageMaker role


def test_sagemaker_role_reads_exactly_the_datasets_and_writes_exactly_the_outputs(cdk_synth: Synth):
    role = cdk_synth.logical_id("AWS::IAM::Role", "SageMakerExecutionRole")
    (trust,) = cdk_synth.resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    statements = role_statements(cdk_synth, role)
    bucket = f"<{cdk_synth.logical_id('AWS::S3::Bucket', 'OutputBucket')}.Arn>"

    prefixes = [f"forecasting/{ds}/{channel}/" for ds in DATASETS for channel in ("train", "test")]
    # The same prefixes, derived from the planned requests' channels.
    used = {
        c["DataSource"]["S3DataSource"]["S3Uri"]
        for plan in cdk_synth.result.plans.values()
        for r in plan.requests()
        for c in r["InputDataConfig"]
    }
    assert used == {f"s3://runtool-example-data/{p}" for p in prefixes}
    repository = f"{ARN}:ecr:eu-west-1:123456789012:repository/runtool-example-forecast"
    log_group = f"{ARN}:logs:{LOCAL}:log-group:/aws/sagemaker/TrainingJobs"
    outputs = sorted(cdk_synth.project.experiments) + ["adhoc"]

    expected = {
        "s3:GetObject": {f"{ARN}:s3:::runtool-example-data/{p}*" for p in prefixes},
        "s3:ListBucket": {f"{ARN}:s3:::runtool-example-data"},
        "s3:PutObject": {f"{bucket}/{e}/{e}_*" for e in outputs if e != "adhoc"} | {f"{bucket}/adhoc/runs/*"},
        "s3:AbortMultipartUpload": {f"{bucket}/{e}/{e}_*" for e in outputs if e != "adhoc"} | {f"{bucket}/adhoc/runs/*"},
        "ecr:BatchGetImage": {repository},
        "ecr:GetDownloadUrlForLayer": {repository},
        "ecr:BatchCheckLayerAvailability": {repository},
        "ecr:GetAuthorizationToken": {"*"},
        # The Logs IAM reference: log-group:NAME:* (which covers its streams), never the bare ARN.
        "logs:CreateLogGroup": {f"{log_group}:*"},
        "logs:CreateLogStream": {f"{log_group}:*"},
        "logs:PutLogEvents": {f"{log_group}:*"},
        "logs:DescribeLogStreams": {f"{log_group}:*"},
        "cloudwatch:PutMetricData": {"*"},
    }
    assert grants(statements) == expected
    assert conditions(statements, "s3:ListBucket") == [{"StringLike": {"s3:prefix": [f"{p}*" for p in sorted(prefixes)]}}]
    assert conditions(statements, "cloudwatch:PutMetricData") == [
        {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}}
    ]
    assert sorted(outputs) == ["adhoc", "bench", "smoke"]


# ------------------------------------------------------------- wildcards


def _documents(properties: dict):
    for key, value in properties.items():
        if key == "PolicyDocument" and isinstance(value, dict):
            yield value
        elif isinstance(value, dict):
            yield from _documents(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    yield from _documents(item)


def test_exact_wildcards_in_every_policy(cdk_synth: Synth):
    """Every wildcard action or resource left in any policy document of the template (cdk-nag IAM5's view).

    Adding one means adding it here, next to the reason it is needed.
    """
    from runtool_iac.constructs.nag import wildcard_findings

    found = {}
    for logical_id, resource in cdk_synth.resources.items():
        documents = list(_documents(resource.get("Properties", {})))
        findings = [f for d in documents for f in wildcard_findings(d)]
        if findings:
            found[logical_id] = sorted(findings)

    lid = cdk_synth.logical_id
    bucket = f"<{lid('AWS::S3::Bucket', 'OutputBucket')}.Arn>"
    access_logs = f"<{lid('AWS::S3::Bucket', 'AccessLogs')}.Arn>"
    expected = {
        # Bucket policies: deny non-TLS requests for anything (s3:*), and S3 server access logging's
        # writes under its prefix. Resource policies, not IAM5's concern, listed to keep them pinned.
        lid("AWS::S3::BucketPolicy", "OutputBucketPolicy"): ["Action::s3:*", f"Resource::{bucket}/*"],
        lid("AWS::S3::BucketPolicy", "AccessLogsPolicy"): [
            "Action::s3:*",
            f"Resource::{access_logs}/*",
            f"Resource::{access_logs}/output-bucket/*",
        ],
        # The SageMaker role: objects below each dataset prefix (SageMaker reads a whole S3Prefix),
        # model artifacts below each experiment's output prefix (names chosen at run time), one log
        # stream per job, and the two actions without resource-level permissions.
        lid("AWS::IAM::Policy", "SageMakerExecutionRolePolicy"): sorted(
            [f"Resource::{ARN}:s3:::runtool-example-data/forecasting/{ds}/{c}/*" for ds in DATASETS for c in ("train", "test")]
            + [f"Resource::{bucket}/{e}/{e}_*" for e in ("bench", "smoke")] + [f"Resource::{bucket}/adhoc/runs/*"]
            + ["Resource::*", f"Resource::{ARN}:logs:{LOCAL}:log-group:/aws/sagemaker/TrainingJobs:*"]
        ),
    }
    for experiment in cdk_synth.state_machines():
        construct = experiment.capitalize()
        executions = own_executions(cdk_synth, experiment)
        labels = ["Default", "MlM5Large"] if experiment == "adhoc" else ["MlM5Large"]
        # Logging/X-Ray ("*"), training jobs with the project's prefix (names made at run time),
        # the experiment's uploaded-manifest and results prefixes.
        expected[lid("AWS::IAM::Policy", f"{construct}StateMachineRoleDefaultPolicy")] = sorted(
            [
                "Resource::*",
                f"Resource::{ARN}:sagemaker:{LOCAL}:training-job/forecast-*",
                f"Resource::{bucket}/{experiment}/_manifests/*",
                f"Resource::{bucket}/{experiment}/_results/*",
            ]
        )
        # aws-cdk-lib's Distributed Map policy: this state machine's own child executions.
        expected[lid("AWS::IAM::Policy", f"{construct}StateMachineDistributedMapPolicy")] = sorted(
            [f"Resource::{executions}:*"] + [f"Resource::{executions}/{label}:*" for label in labels]
        )
    assert found == expected
    iam = [k for k in found if cdk_synth.resources[k]["Type"].startswith("AWS::IAM::")]
    assert not [f for k in iam for f in found[k] if f.startswith("Action::")], "no wildcard actions in IAM policies"
