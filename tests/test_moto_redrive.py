"""The redrive emulator itself (tests/support/moto_redrive.py), on small definitions whose
documented redrive behaviour differs by the state an item failed in (Step Functions guide,
"Redriving executions": a Task is run again, a Choice is re-evaluated, a Fail state fails
again; "Redriving Map Runs": only unsuccessful child workflows are redriven)."""

import json
import sys
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).parent / "support"))

import moto_redrive  # noqa: E402
from moto_stepfunctions import moto_definition, patched_moto  # noqa: E402

REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/sfn"
REQUEST = {
    "AlgorithmSpecification": {"TrainingImage": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/a:1", "TrainingInputMode": "File"},
    "RoleArn": "arn:aws:iam::123456789012:role/sagemaker",
    "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
    "StoppingCondition": {"MaxRuntimeInSeconds": 60},
}
TRAIN = {
    "Type": "Task",
    "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
    "Parameters": {"TrainingJobName.$": "States.Format('job-{}-{}', $.name, $$.Execution.RedriveCount)", **REQUEST},
    "ResultPath": None,
    "End": True,
}


def machine(processor: dict, tolerated: float = 0.0) -> str:
    return json.dumps(
        {
            "StartAt": "Items",
            "States": {
                "Items": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    "ItemSelector": {"name.$": "$$.Map.Item.Value"},
                    "ToleratedFailurePercentage": float(tolerated),
                    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, **processor},
                    "End": True,
                }
            },
        }
    )


UNCAUGHT = {"StartAt": "Train", "States": {"Train": TRAIN}}
CATCH_THEN_FAIL = {
    "StartAt": "Train",
    "States": {
        "Train": {**TRAIN, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "JobFailed"}]},
        "JobFailed": {"Type": "Fail", "Error": "TrainingJobFailed"},
    },
}
CATCH_THEN_CHOICE = {
    "StartAt": "Train",
    "States": {
        "Train": {**TRAIN, "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Note"}]},
        "Note": {"Type": "Pass", "Parameters": {"redrive.$": "$$.Execution.RedriveCount"}, "ResultPath": "$.failed", "Next": "JobFailed"},
        "JobFailed": {
            "Type": "Choice",
            "Choices": [{"Variable": "$$.Execution.RedriveCount", "NumericGreaterThanPath": "$.failed.redrive", "Next": "Train"}],
        },
    },
}


@pytest.fixture
def sfn():
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), patched_moto() as behaviour:
        client = boto3.client("stepfunctions", region_name=REGION)
        client.behaviour = behaviour
        yield client


def run(sfn, processor: dict, items=("a", "b"), tolerated: float = 0.0) -> str:
    arn = sfn.create_state_machine(name="m", definition=moto_definition(machine(processor, tolerated)), roleArn=ROLE)["stateMachineArn"]
    return sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": list(items)}))["executionArn"]


def finish(sfn, execution_arn: str) -> str:
    import time

    for _ in range(400):
        status = sfn.describe_execution(executionArn=execution_arn)["status"]
        if status != "RUNNING":
            return status
        time.sleep(0.05)
    raise AssertionError("still running")


def names(sfn) -> list[str]:
    """Jobs created: the first attempt's (items run concurrently: sorted), then the redrive's."""
    created = [r["TrainingJobName"] for r in sfn.behaviour.created]
    first = sorted(n for n in created if n.endswith("-0"))
    return first + [n for n in created if not n.endswith("-0")]


def test_only_failed_aborted_or_timed_out_executions_can_be_redriven(sfn):
    execution = run(sfn, UNCAUGHT)
    assert finish(sfn, execution) == "SUCCEEDED"
    with pytest.raises(ClientError) as error:
        sfn.redrive_execution(executionArn=execution)
    assert error.value.response["Error"]["Code"] == "ExecutionNotRedrivable"
    assert names(sfn) == ["job-a-0", "job-b-0"]


def test_a_failed_item_fails_the_map_run_and_redrive_runs_only_it_again_from_its_task(sfn):
    sfn.behaviour.failures["job-a-"] = "ClientError: bad data"
    execution = run(sfn, UNCAUGHT)
    assert finish(sfn, execution) == "FAILED"  # ToleratedFailurePercentage 0
    assert sfn.describe_execution(executionArn=execution)["error"] == "States.ExceedToleratedFailureThreshold"
    sfn.behaviour.failures.clear()
    sfn.redrive_execution(executionArn=execution)
    assert finish(sfn, execution) == "SUCCEEDED"
    assert names(sfn) == ["job-a-0", "job-b-0", "job-a-1"]  # b kept its result; a: RedriveCount 1


def test_failures_within_the_tolerated_percentage_let_the_execution_succeed(sfn):
    sfn.behaviour.failures["job-a-"] = "ClientError: bad data"
    execution = run(sfn, UNCAUGHT, items=("a", "b", "c"), tolerated=50)
    assert finish(sfn, execution) == "SUCCEEDED"  # 1 of 3 ≤ 50 %


def test_a_redriven_fail_state_fails_again_and_creates_no_job(sfn):
    sfn.behaviour.failures["job-a-"] = "ClientError: bad data"
    execution = run(sfn, CATCH_THEN_FAIL)
    assert finish(sfn, execution) == "FAILED"
    sfn.behaviour.failures.clear()  # fixed, but the item re-enters its Fail state
    sfn.redrive_execution(executionArn=execution)
    assert finish(sfn, execution) == "FAILED"
    assert names(sfn) == ["job-a-0", "job-b-0"]


def test_a_redriven_choice_is_reevaluated_with_the_new_redrive_count(sfn):
    sfn.behaviour.failures["job-a-"] = "ClientError: bad data"
    execution = run(sfn, CATCH_THEN_CHOICE)
    assert finish(sfn, execution) == "FAILED"  # JobFailed matched no rule: States.NoChoiceMatched
    sfn.behaviour.failures.clear()
    sfn.redrive_execution(executionArn=execution)
    assert finish(sfn, execution) == "SUCCEEDED"
    assert names(sfn) == ["job-a-0", "job-b-0", "job-a-1"]


def test_the_threshold_and_the_result_files_after_redrives():
    run_ = moto_redrive.MapRun(arn="arn:aws:states:eu-west-1:1:mapRun:m/l:id", tolerated_percentage=10)
    run_.children = [moto_redrive.Child(index=i, value=i, name=f"c{i}", status="SUCCEEDED", output={"i": i}) for i in range(10)]
    assert not moto_redrive.threshold_exceeded(run_)
    run_.children[0].status = "FAILED"
    assert not moto_redrive.threshold_exceeded(run_)  # 10 % is tolerated, not exceeded
    run_.children[1].status = "FAILED"
    assert moto_redrive.threshold_exceeded(run_)
    files = moto_redrive.result_files(run_, attempt=0)
    assert sorted(files) == ["FAILED_0.json", "SUCCEEDED_0.json"] and len(files["FAILED_0.json"]) == 2
    # A redrive fixes child 0; child 1 fails again: successes of every attempt, failures of the latest.
    run_.children[0].status, run_.children[0].attempt = "SUCCEEDED", 1
    run_.children[1].attempt = 1
    files = moto_redrive.result_files(run_, attempt=1)
    assert sorted(files) == ["FAILED_1.json", "SUCCEEDED_0.json", "SUCCEEDED_1.json"]
    assert [e["Name"] for e in files["SUCCEEDED_1.json"]] == ["c0"] and [e["Name"] for e in files["FAILED_1.json"]] == ["c1"]
