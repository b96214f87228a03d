"""Failure recovery in-process: the synthesized definitions in moto's interpreter with the
redrive emulator (tests/support/moto_redrive.py). The main recovery paths (redrive, rerun,
a capacity retry, a job without metrics) run through the CLI against a moto server in
test_recovery_cli.py; these are the rest. Every test asserts the training jobs created
(their names) and the rows of ``results``, never an execution's status alone."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "support"))

from moto_deploy import REGION  # noqa: E402

from test_runner_e2e import aws, synthesized, wait  # noqa: E402,F401  (fixtures)

pytest_plugins = ["conftest_cdk"]


def created_names(aws) -> list[str]:
    return [r["TrainingJobName"] for r in aws.behaviour.created]


def test_rerun_of_a_completed_execution_has_nothing_to_do(aws):
    declared = aws.project.plan("smoke")
    started = aws.runner.start("smoke", declared, name="smoke-done")
    wait(aws.runner, started)
    assert aws.runner.rerun("smoke-done", plan_for_runs=lambda n: aws.project.plan("smoke", runs=n)) is None
    assert len(aws.behaviour.created) == 1


def test_capacity_retries_are_bounded_and_then_the_job_fails_with_its_reason(aws):
    declared = aws.project.plan("smoke")
    job = declared.jobs[0]
    aws.behaviour.capacity_failures[job.name] = 100
    started = aws.runner.start("smoke", declared, name="smoke-no-capacity")
    assert wait(aws.runner, started).status == "FAILED"
    token = started.job_names[0].split("-")[-2]
    assert created_names(aws) == [f"{job.name}-{token}-{n}" for n in range(5)]  # 1 + 4 retries
    assert aws.behaviour.waits == [300, 600, 1200, 2400]  # exponential backoff
    (row,) = aws.runner.results("smoke-no-capacity")
    assert row.status == "Failed" and row.failure_reason.startswith("CapacityError: Unable to provision")
    assert row.job_name == f"{job.name}-{token}-4"


def test_fewer_runs_from_the_console_count_failures_over_the_jobs_that_ran(aws):
    declared = aws.project.plan("bench")
    failing = next(j for j in declared.jobs if j.run == 0)
    aws.behaviour.failures[failing.name] = "AlgorithmError: boom"
    client = aws.session.client("stepfunctions", region_name=REGION)
    execution = client.start_execution(stateMachineArn=aws.outputs["BenchStateMachineArn"], name="console-runs", input='{"runs": 1}')
    # 1 failure of the 9 jobs that run is 11 % > 10 %: the execution fails (of 27 items it would not).
    assert aws.runner.wait(execution["executionArn"], poll_seconds=0.05).status == "FAILED"
    assert len(aws.behaviour.created) == 9
    rows = aws.runner.results("console-runs")
    assert len(rows) == 9 and {r.run for r in rows} == {0}


def test_an_empty_group_reads_no_manifest(aws):
    import runtool_iac as runtool

    config = runtool.load_config(*aws.project.config_files)
    client = runtool.Client(session=aws.session, stack_name="RuntoolExampleRuntool")
    names = client.run(config.seasonal_naive * config.retail, runs=1, experiment_name="one-group", execution_name="one-group")
    started = client.last_started
    assert aws.runner.wait(started.execution_arn, poll_seconds=0.05).status == "SUCCEEDED"
    s3 = aws.session.client("s3", region_name=REGION)
    listed = s3.list_objects_v2(Bucket=aws.outputs["OutputBucketName"], Prefix="adhoc/_manifests/one-group/")
    assert [o["Key"].rsplit("/", 1)[-1] for o in listed["Contents"]] == ["ml-m5-large.jsonl"]  # no empty "default" file
    execution_input = json.loads(aws.runner.sfn.describe_execution(executionArn=started.execution_arn)["input"])
    assert execution_input["manifest"]["items"] == {"ml_m5_large": 1, "default": 0}
    assert created_names(aws) == names


def test_results_after_a_redrive_read_only_the_listed_files(aws):
    """After a redrive the old FAILED file stays in the bucket; reading it would show a fixed failure."""
    declared = aws.project.plan("smoke")
    aws.behaviour.failures[declared.jobs[0].name] = "ClientError: no data"
    started = aws.runner.start("smoke", declared, name="smoke-files")
    wait(aws.runner, started)
    aws.behaviour.failures.clear()
    aws.runner.redrive("smoke-files")
    wait(aws.runner, started)
    s3 = aws.session.client("s3", region_name=REGION)
    bucket = aws.outputs["OutputBucketName"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="smoke/_results/smoke-files/")["Contents"]]
    (manifest_key,) = [k for k in keys if k.endswith("/manifest.json")]
    assert manifest_key.replace("manifest.json", "FAILED_0.json") in keys  # the first attempt's failure, unlisted
    written = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
    assert written["ResultFiles"]["FAILED"] == []
    assert [f["Key"].rsplit("/", 1)[-1] for f in written["ResultFiles"]["SUCCEEDED"]] == ["SUCCEEDED_1.json"]
    (row,) = aws.runner.results("smoke-files")
    assert row.status == "Completed" and row.job_name.endswith("-1")


def test_client_rerun_runs_the_jobs_an_execution_did_not_complete(aws):
    import runtool_iac as runtool

    config = runtool.load_config(*aws.project.config_files)
    client = runtool.Client(session=aws.session, stack_name="RuntoolExampleRuntool")
    first = client.run(config.seasonal_naive * config.datasets, experiment_name="adhoc-rerun", execution_name="adhoc-first")
    assert aws.runner.wait(client.last_started.execution_arn, poll_seconds=0.05).status == "SUCCEEDED"
    assert client.rerun("adhoc-first") == []  # every job completed
    (traffic,) = [n for n in first if "-traffic-" in n]
    aws.behaviour.failures[traffic.rsplit("-", 2)[0]] = "AlgorithmError: boom"
    again = client.run(config.seasonal_naive * config.datasets, experiment_name="adhoc-rerun", execution_name="adhoc-second")
    assert aws.runner.wait(client.last_started.execution_arn, poll_seconds=0.05).status == "FAILED"  # 1 of 3 > 10 %
    aws.behaviour.failures.clear()
    names = client.rerun("adhoc-second", wait=True, poll_seconds=0.05)
    (second_traffic,) = [n for n in again if "-traffic-" in n]
    assert len(names) == 1 and names[0].startswith(second_traffic.rsplit("-", 2)[0] + "-") and names[0] not in again
    assert created_names(aws)[-1] == names[0]
    (row,) = aws.runner.results(client.last_started.execution_arn)
    assert (row.status, row.job_name) == ("Completed", names[0])
