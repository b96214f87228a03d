"""The synthesized stack, checked with aws_cdk.assertions and by reading the state machine definitions.

What DESIGN.md §4 requires of the Step Functions shape: one Distributed Map
per job group inside a Parallel, jobs read from S3 (JSON lines), concurrency
and failure tolerance from runtool.yml, results exported with ResultWriter,
quota and throttling retried with jitter, failures failing their item, and job
names new per execution and per redrive.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest

from conftest import ROOT

if TYPE_CHECKING:
    from conftest_cdk import Synth

pytest_plugins = ["conftest_cdk"]  # the session-wide synth: fixture cdk_synth (a conftest_cdk.Synth)

ADHOC = "adhoc"


@pytest.fixture(scope="module")
def template(cdk_synth: Synth):
    from aws_cdk.assertions import Template

    return Template.from_json(cdk_synth.template)


def declared(cdk_synth: Synth) -> list[str]:
    return sorted(cdk_synth.project.experiments)


def map_states(definition: dict) -> dict[str, dict]:
    """Distributed Map states by name: each must be the only state of one branch of the 'Jobs' Parallel."""
    jobs = definition["States"]["Jobs"]
    assert jobs["Type"] == "Parallel"
    maps = {}
    for branch in jobs["Branches"]:
        assert len(branch["States"]) == 1, "one Distributed Map per branch"
        (name, state), = branch["States"].items()
        assert branch["StartAt"] == name and state["Type"] == "Map" and state.get("End") is True
        assert state["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
        maps[name] = state
    return maps


def expected_groups(cdk_synth: Synth, experiment: str) -> dict[str, int]:
    """Group id -> MaxConcurrency, from runtool.yml (and the plan's job groups)."""
    from runtool_iac import manifest

    project = cdk_synth.project
    if experiment == ADHOC:
        groups = {i.replace(".", "-"): n for i, n in project.settings.instance_limits.items()}
        return {**groups, "default": project.settings.max_concurrency}
    spec = project.experiments[experiment]
    return {g.id: spec.concurrency_for(g.instance_type) for g in manifest.groups(cdk_synth.result.plans[experiment])}


# ------------------------------------------------------------- resources


def test_one_state_machine_per_experiment_plus_adhoc(cdk_synth: Synth, template):
    template.resource_count_is("AWS::StepFunctions::StateMachine", len(declared(cdk_synth)) + 1)
    assert sorted(cdk_synth.state_machines()) == sorted(declared(cdk_synth) + [ADHOC])


def test_state_machines_log_everything_and_trace(cdk_synth: Synth, template):
    from aws_cdk.assertions import Match

    log_group = cdk_synth.logical_id("AWS::Logs::LogGroup", "ExecutionLogs")
    template.all_resources_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "LoggingConfiguration": {
                "Level": "ALL",
                "IncludeExecutionData": True,
                "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_group, "Arn"]}}}],
            },
            "TracingConfiguration": {"Enabled": True},
        },
    )
    (group,) = cdk_synth.of_type("AWS::Logs::LogGroup").values()
    assert group["Properties"]["RetentionInDays"] == cdk_synth.project.settings.log_retention_days == 30  # runtool.yml
    # Retained when the stack is deleted, so never a fixed name: the stack id's UUID makes it new
    # per stack (a redeploy after `cdk destroy` or a rolled-back create does not hit AlreadyExists).
    assert group["DeletionPolicy"] == group["UpdateReplacePolicy"] == "Retain"
    assert group["Properties"]["LogGroupName"] == {
        "Fn::Join": ["", [
            f"/aws/vendedlogs/states/{cdk_synth.result.stack_name}-",
            {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]},
        ]]
    }


def test_buckets_encrypted_private_tls_only_and_logged(cdk_synth: Synth, template):
    from aws_cdk.assertions import Match

    buckets = cdk_synth.of_type("AWS::S3::Bucket")
    assert len(buckets) == 2  # output bucket + its access-log bucket
    template.all_resources_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        },
    )
    output = cdk_synth.logical_id("AWS::S3::Bucket", "OutputBucket")
    access_logs = cdk_synth.logical_id("AWS::S3::Bucket", "AccessLogs")
    assert buckets[output]["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": access_logs},
        "LogFilePrefix": "output-bucket/",
    }
    assert "LoggingConfiguration" not in buckets[access_logs]["Properties"]  # the log bucket does not log itself
    for bucket in buckets:
        template.has_resource_properties(
            "AWS::S3::BucketPolicy",
            {
                "Bucket": {"Ref": bucket},
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            {
                                "Action": "s3:*",
                                "Effect": "Deny",
                                "Principal": {"AWS": "*"},
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                "Resource": [
                                    {"Fn::GetAtt": [bucket, "Arn"]},
                                    {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/*"]]},
                                ],
                            }
                        ]
                    )
                },
            },
        )


def test_outputs_name_every_state_machine_results_location_and_groups(cdk_synth: Synth, template):
    from runtool_iac.manifest import output_id

    bucket = cdk_synth.logical_id("AWS::S3::Bucket", "OutputBucket")
    for experiment, logical_id in cdk_synth.state_machines().items():
        prefix = output_id(experiment)
        template.has_output(f"{prefix}StateMachineArn", {"Value": {"Ref": logical_id}})
        template.has_output(
            f"{prefix}ResultsLocation",
            {"Value": {"Fn::Join": ["", ["s3://", {"Ref": bucket}, f"/{experiment}/_results/"]]}},
        )
        groups = cdk_synth.template["Outputs"][f"{prefix}Groups"]["Value"]
        assert json.loads(groups) == expected_groups(cdk_synth, experiment)
    for name in ("OutputBucketName", "SageMakerRoleArn", "JobPrefix"):
        assert name in cdk_synth.template["Outputs"]


# ------------------------------------------------------------ definition


def test_result_writer_flag_is_set_in_cdk_json():
    """Without it aws-cdk-lib silently drops the Distributed Map's ResultWriter (DESIGN.md §4);
    the definitions' ResultWriter is checked in test_one_distributed_map_per_group."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    assert context["@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2"] is True


def test_cdk_json_configures_every_feature_flag_and_the_ones_relied_on():
    """All flags set (no "N feature flags are not configured" at synth: tests/test_cdk_cli.py),
    the same in this repository's cdk.json as in the scaffold's and in-process synths."""
    from runtool_iac.synth import CDK_CONTEXT, RELIED_ON_FLAGS

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    assert context == CDK_CONTEXT
    assert all(context[flag] is True for flag in RELIED_ON_FLAGS)
    assert context["@aws-cdk/core:enableAdditionalMetadataCollection"] is False


@pytest.mark.parametrize("experiment", ["bench", "smoke", ADHOC])
def test_one_distributed_map_per_group(cdk_synth: Synth, experiment: str):
    definition = cdk_synth.definition(experiment)
    bucket = cdk_synth.placeholder(cdk_synth.logical_id("AWS::S3::Bucket", "OutputBucket"))
    maps = map_states(definition)
    groups = expected_groups(cdk_synth, experiment)
    assert sorted(maps) == sorted(f"Jobs {g}" for g in groups)
    spec = cdk_synth.project.experiments.get(experiment)
    tolerated = (spec or cdk_synth.project.settings).tolerated_failure_percentage
    for group, concurrency in groups.items():
        state = maps[f"Jobs {group}"]
        assert state["MaxConcurrency"] == concurrency
        assert state["ToleratedFailurePercentage"] == tolerated == 10
        reader = state["ItemReader"]
        assert reader["Resource"] == "arn:aws:states:::s3:getObject"
        assert reader["ReaderConfig"]["InputType"] == "JSONL"
        assert reader["ReaderConfig"] == {"InputType": "JSONL"}
        assert set(reader["Parameters"]) == {"Bucket.$", "Key.$"}
        writer = state["ResultWriter"]
        assert writer["Resource"] == "arn:aws:states:::s3:putObject"
        assert writer["Parameters"]["Bucket"] == bucket
        assert "Prefix.$" in writer["Parameters"]
    assert groups.get("ml-m5-large") == 4  # runtool.yml: instance_limits


def processors(definition: dict) -> list[dict]:
    return [m["ItemProcessor"] for m in map_states(definition).values()]


@pytest.mark.parametrize("experiment", ["bench", ADHOC])
def test_training_task_retries_quota_and_throttling_and_fails_its_item(cdk_synth: Synth, experiment: str):
    role = cdk_synth.placeholder(cdk_synth.logical_id("AWS::IAM::Role", "SageMakerExecutionRole"), "Arn")
    for processor in processors(cdk_synth.definition(experiment)):
        states = processor["States"]
        start = states[processor["StartAt"]]  # items beyond the requested runs are skipped first
        assert start["Type"] == "Choice" and start["Choices"][0]["Variable"] == "$.job.run"
        train = states[start["Default"]]
        assert train["Type"] == "Task"
        assert train["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
        retries = {tuple(r["ErrorEquals"]): r for r in train["Retry"]}
        assert set(retries) == {("SageMaker.ResourceLimitExceededException",), ("SageMaker.AmazonSageMakerException",)}
        for retry in retries.values():
            assert retry["JitterStrategy"] == "FULL"
            assert retry["BackoffRate"] > 1 and retry["IntervalSeconds"] > 0 and retry["MaxDelaySeconds"] > 0
        # A quota hit waits (AWS's own example retries it every 60 s, thousands of times).
        assert retries[("SageMaker.ResourceLimitExceededException",)]["MaxAttempts"] >= 100
        # Every other error is caught, described, and fails the item (so the map counts it).
        (catch,) = train["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"]
        state, seen = states[catch["Next"]], []
        while state["Type"] != "Fail":
            assert state["Type"] == "Pass" and len(seen) < 5
            seen.append(state)
            state = states[state["Next"]]
        assert state["Error"] == "TrainingJobFailed"
        # The job: the request from the manifest item, the role, a name new per execution and redrive.
        parameters = train["Parameters"]
        assert parameters["RoleArn"] == role
        assert parameters["TrainingJobName.$"] == (
            "States.Format('{}-{}-{}', $.job.name, $.token, $$.Execution.RedriveCount)"
        )


@pytest.mark.parametrize("experiment", ["bench", "smoke", ADHOC])
def test_items_carry_the_job_the_request_and_the_execution_token(cdk_synth: Synth, experiment: str):
    definition = cdk_synth.definition(experiment)
    defaults = definition["States"][definition["StartAt"]]
    # Console start with {}: runs as declared, with a fresh 8-character token per execution.
    assert defaults["Parameters"]["defaults"]["token.$"] == "States.ArrayGetItem(States.StringSplit(States.UUID(), '-'), 0)"
    runs = cdk_synth.project.experiments[experiment].runs if experiment != ADHOC else 1
    assert defaults["Parameters"]["defaults"]["runs"] == runs
    for state in map_states(definition).values():
        selector = state["ItemSelector"]
        assert selector["job.$"] == "$$.Map.Item.Value.job"
        assert selector["request.$"] == "$$.Map.Item.Value.request"
        assert "token.$" in selector


_VARIABLE = re.compile(r"(?<![\w$.])\$([A-Za-z_][A-Za-z0-9_]*)")


def _assigned_and_read(node, assigned: set, read: set) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Assign" and isinstance(value, dict):
                assigned.update(k.removesuffix(".$") for k in value)
            if isinstance(value, str) and (key.endswith(".$") or key.endswith("Path") or key == "Variable"):
                read.update(_VARIABLE.findall(value))
            _assigned_and_read(value, assigned, read)
    elif isinstance(node, list):
        for value in node:
            _assigned_and_read(value, assigned, read)


@pytest.mark.parametrize("experiment", ["bench", ADHOC])
def test_every_workflow_variable_read_is_assigned(cdk_synth: Synth, experiment: str):
    """JSONPath ``$name`` reads a workflow variable; one never assigned fails the execution at run time
    (nothing before deployment reports it: not CDK, not cfn-lint)."""
    assigned, read = set(), set()
    _assigned_and_read(cdk_synth.definition(experiment), assigned, read)
    assert read <= assigned, f"read but never assigned: {sorted(read - assigned)}"


def test_definition_size_does_not_inline_jobs(cdk_synth: Synth):
    for experiment in cdk_synth.state_machines():
        text = json.dumps(cdk_synth.definition(experiment))
        assert len(text.encode()) < 20_000  # limit: 1 MB; jobs live in S3
        for plan in cdk_synth.result.plans.values():
            assert not any(job.name in text for job in plan.jobs)
