"""Failure recovery end to end: the synthesized definitions in moto's interpreter with the
redrive emulator (tests/support/moto_redrive.py). Every test asserts the training jobs
created (their names) and the rows of ``results``, never an execution's status alone."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "support"))

from moto_deploy import REGION  # noqa: E402

from runtool_iac.runner import RunnerError  # noqa: E402
from test_runner_e2e import aws, synthesized, wait  # noqa: E402,F401  (fixtures)

pytest_plugins = ["conftest_cdk"]


def created_names(aws) -> list[str]:
    return [r["TrainingJobName"] for r in aws.behaviour.created]


def by_job(rows) -> dict:
    out = {}
    for row in rows:
        assert row.planned_name not in out, f"{row.planned_name} has two rows"
        out[row.planned_name] = row
    return out


def test_failed_jobs_then_redrive_run_exactly_those_jobs_again_under_new_names(aws):
    declared = aws.project.plan("bench")
    failing = [j for j in declared.jobs if j.dataset == "traffic" and j.algorithm == "seasonal_naive"]
    assert len(failing) == 3  # 3 of 27 > 10 % tolerated: the map run, and the execution, fail
    for job in failing:
        aws.behaviour.failures[job.name] = "ClientError: traffic/train is empty"
    started = aws.runner.start("bench", declared, name="bench-redrive")
    assert wait(aws.runner, started).status == "FAILED"
    first = by_job(aws.runner.results("bench-redrive"))
    assert {n for n, r in first.items() if r.status == "Failed"} == {j.name for j in failing}
    assert first[failing[0].name].failure_reason == "ClientError: traffic/train is empty"
    assert first[failing[0].name].job_name == f"{failing[0].name}-{started.job_names[0].split('-')[-2]}-0"

    aws.behaviour.failures.clear()  # the data is fixed
    assert aws.runner.redrive("bench-redrive") == started.execution_arn
    assert wait(aws.runner, started).status == "SUCCEEDED"

    names = created_names(aws)
    assert len(names) == 27 + 3 and len(set(names)) == 30
    token = started.job_names[0].split("-")[-2]
    assert sorted(names[27:]) == sorted(f"{j.name}-{token}-1" for j in failing)  # one new job each
    rows = aws.runner.results("bench-redrive")
    assert len(rows) == 27 and {r.status for r in rows} == {"Completed"}
    again = by_job(rows)
    assert {again[j.name].job_name for j in failing} == {f"{j.name}-{token}-1" for j in failing}
    assert again[declared.jobs[0].name].job_name == f"{declared.jobs[0].name}-{token}-0"  # kept, not rerun


def test_a_tolerated_failure_cannot_be_redriven_and_rerun_runs_exactly_that_job(aws):
    declared = aws.project.plan("bench")
    failing = declared.jobs[4]
    aws.behaviour.failures[failing.name] = "AlgorithmError: out of memory"
    started = aws.runner.start("bench", declared, name="bench-tolerated")
    assert wait(aws.runner, started).status == "SUCCEEDED"  # 1 of 27 is within 10 %
    with pytest.raises(RunnerError, match=r"SUCCEEDED and AWS cannot redrive it .*runtool-iac rerun bench-tolerated"):
        aws.runner.redrive("bench-tolerated")
    assert len(aws.behaviour.created) == 27

    aws.behaviour.failures.clear()
    rerun = aws.runner.rerun("bench-tolerated", plan_for_runs=lambda n: aws.project.plan("bench", runs=n), name="bench-rerun")
    assert rerun is not None and rerun.job_names == [f"{failing.name}-{rerun.job_names[0].split('-')[-2]}-0"]
    assert wait(aws.runner, rerun).status == "SUCCEEDED"
    assert created_names(aws)[27:] == rerun.job_names  # exactly that job, under a new name
    (row,) = aws.runner.results("bench-rerun")
    assert (row.planned_name, row.status, row.job_name) == (failing.name, "Completed", rerun.job_names[0])
    # The original execution still reports its own attempt; nothing is left to rerun after the rerun.
    assert by_job(aws.runner.results("bench-tolerated"))[failing.name].status == "Failed"
    assert aws.runner.rerun("bench-rerun") is None


def test_rerun_of_a_completed_execution_has_nothing_to_do(aws):
    declared = aws.project.plan("smoke")
    started = aws.runner.start("smoke", declared, name="smoke-done")
    wait(aws.runner, started)
    assert aws.runner.rerun("smoke-done", plan_for_runs=lambda n: aws.project.plan("smoke", runs=n)) is None
    assert len(aws.behaviour.created) == 1


def test_a_capacity_failure_is_retried_under_a_new_name_after_a_backoff(aws):
    declared = aws.project.plan("smoke")
    job = declared.jobs[0]
    aws.behaviour.capacity_failures[job.name] = 1
    started = aws.runner.start("smoke", declared, name="smoke-capacity")
    assert wait(aws.runner, started).status == "SUCCEEDED"
    token = started.job_names[0].split("-")[-2]
    assert created_names(aws) == [f"{job.name}-{token}-0", f"{job.name}-{token}-1"]
    assert aws.behaviour.waits == [300]  # runtool.yml default: capacity_retry_seconds 300
    (row,) = aws.runner.results("smoke-capacity")
    assert (row.status, row.job_name) == ("Completed", f"{job.name}-{token}-1")


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


def test_a_job_completed_without_optional_fields_is_a_success(aws):
    declared = aws.project.plan("smoke")
    aws.behaviour.minimal.add(declared.jobs[0].name)
    started = aws.runner.start("smoke", declared, name="smoke-minimal")
    assert wait(aws.runner, started).status == "SUCCEEDED"
    (row,) = aws.runner.results("smoke-minimal")
    assert (row.status, row.metrics, row.billable_seconds, row.training_seconds) == ("Completed", {}, None, None)
    assert row.job_name == started.job_names[0] and row.model_artifacts


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
