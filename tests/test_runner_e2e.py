"""End to end: the synthesized definition executed by moto's Step Functions interpreter.

The only stand-ins are test-only patches of moto's gaps (tests/support); the
state machine definition, manifests and runner are the production ones.
"""

import re
import sys
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).parent / "support"))

from moto_deploy import REGION, deploy  # noqa: E402
from moto_stepfunctions import patched_moto  # noqa: E402

from runtool_iac.project import load_project  # noqa: E402
from runtool_iac.runner import Runner  # noqa: E402

from conftest import ROOT  # noqa: E402


pytest_plugins = ["conftest_cdk"]  # the session-wide synth: fixture cdk_synth


@pytest.fixture
def synthesized(cdk_synth):
    return cdk_synth.result


@pytest.fixture
def aws(synthesized):
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), patched_moto() as behaviour:
        session = boto3.Session(region_name=REGION)
        outputs = deploy(synthesized.outdir, synthesized.stack_name, session)
        runner = Runner(synthesized.stack_name, session=session, region=REGION)
        yield SimpleNamespace(behaviour=behaviour, outputs=outputs, runner=runner, session=session, project=load_project(ROOT / "runtool.yml"))


def wait(runner, started):
    return runner.wait(started.execution_arn, poll_seconds=0.05)


def test_every_manifest_item_becomes_one_training_job(aws):
    declared = aws.project.plan("bench")
    started = aws.runner.start("bench", declared, name="bench-e2e")
    status = wait(aws.runner, started)
    assert status.status == "SUCCEEDED", status
    created = aws.behaviour.created
    assert len(created) == len(declared) == 27
    assert sorted(r["TrainingJobName"] for r in created) == sorted(started.job_names)
    by_name = {r["TrainingJobName"]: r for r in created}
    for job in declared.jobs:
        request = by_name[f"{job.name}-{started.job_names[0].split('-')[-2]}-0"]
        for key in ("AlgorithmSpecification", "HyperParameters", "InputDataConfig", "ResourceConfig", "StoppingCondition", "Tags"):
            assert request[key] == job.request[key], key
        assert request["OutputDataConfig"]["S3OutputPath"].startswith(f"s3://{aws.outputs['OutputBucketName']}/bench/bench_")


def test_quota_error_is_retried_then_succeeds_with_one_job(aws):
    declared = aws.project.plan("smoke")
    aws.behaviour.quota_errors[declared.jobs[0].name] = 2
    started = aws.runner.start("smoke", declared, name="smoke-quota")
    assert wait(aws.runner, started).status == "SUCCEEDED"
    name = started.job_names[0]
    assert aws.behaviour.create_attempts.count(name) == 3  # two refusals, then the create
    assert [r["TrainingJobName"] for r in aws.behaviour.created] == [name]  # one job, same name
    assert len(aws.behaviour.retry_delays) == 2 and all(0 <= d <= 60 * 1.5 for d in aws.behaviour.retry_delays)


def test_a_failing_job_is_recorded_while_the_others_complete(aws):
    declared = aws.project.plan("bench")
    failing = next(j for j in declared.jobs if j.dataset == "traffic" and j.run == 1 and j.algorithm == "seasonal_naive")
    aws.behaviour.failures[failing.name] = "AlgorithmError: ExecuteUserScriptError: exit code 1"
    aws.behaviour.metrics = lambda request: {"MASE": float(request["HyperParameters"]["season_length"]) / 10, "sMAPE": 0.25}
    started = aws.runner.start("bench", declared, name="bench-one-fails")
    wait(aws.runner, started)
    results = aws.runner.results(started.execution_arn)
    assert len(results) == 27
    failed = [r for r in results if r.status != "Completed"]
    assert [(r.algorithm, r.dataset, r.run, r.status) for r in failed] == [("seasonal_naive", "traffic", 1, "Failed")]
    assert failed[0].failure_reason == "AlgorithmError: ExecuteUserScriptError: exit code 1"
    assert failed[0].job_name == f"{failing.name}-{started.job_names[0].split('-')[-2]}-0"
    completed = [r for r in results if r.status == "Completed"]
    assert {(r.algorithm, r.dataset) for r in completed} >= {("autoregression[ridge=0.0]", "retail"), ("seasonal_naive", "traffic")}
    assert all(r.metrics["sMAPE"] == 0.25 for r in completed)
    assert all(r.model_artifacts and r.billable_seconds == 42 for r in completed)
    from runtool_iac.results import pivot

    table = pivot(results, "MASE")
    assert table.mean("seasonal_naive", "retail") == pytest.approx(0.7)
    assert table.cells[("seasonal_naive", "traffic")] == [2.4, 2.4]  # the failed run is left out


def test_same_execution_name_twice_never_starts_jobs_twice(aws):
    declared = aws.project.plan("smoke")
    first = aws.runner.start("smoke", declared, name="smoke-once")
    wait(aws.runner, first)
    second = aws.runner.start("smoke", declared, name="smoke-once")
    assert second.already_existed and second.execution_arn == first.execution_arn
    assert len(aws.behaviour.created) == 1


def test_executions_get_distinct_job_names_and_fewer_or_more_runs(aws):
    declared = aws.project.plan("bench")
    one = aws.runner.start("bench", declared, runs=1, name="bench-one-run",
                           plan_for_runs=lambda n: aws.project.plan("bench", runs=n))
    assert wait(aws.runner, one).status == "SUCCEEDED"
    assert len(aws.behaviour.created) == 9 and {r["Tags"][-1]["Value"] for r in aws.behaviour.created} == {"0"}
    five = aws.runner.start("bench", declared, runs=5, name="bench-five-runs",
                            plan_for_runs=lambda n: aws.project.plan("bench", runs=n))
    assert wait(aws.runner, five).status == "SUCCEEDED"
    names = [r["TrainingJobName"] for r in aws.behaviour.created]
    assert len(names) == 9 + 45 and len(set(names)) == len(names)
    assert all(len(n) <= 63 for n in names)


def test_console_start_with_empty_input_runs_as_declared(aws):
    arn = aws.outputs["SmokeStateMachineArn"]
    execution = aws.session.client("stepfunctions", region_name=REGION).start_execution(stateMachineArn=arn, input="{}")
    assert aws.runner.wait(execution["executionArn"], poll_seconds=0.05).status == "SUCCEEDED"
    (request,) = aws.behaviour.created
    assert request["TrainingJobName"].startswith(aws.project.plan("smoke").jobs[0].name + "-")


def test_console_start_with_fewer_runs_skips_the_extra_items(aws):
    arn = aws.outputs["BenchStateMachineArn"]
    client = aws.session.client("stepfunctions", region_name=REGION)
    execution = client.start_execution(stateMachineArn=arn, name="console-one-run", input='{"runs": 1}')
    assert aws.runner.wait(execution["executionArn"], poll_seconds=0.05).status == "SUCCEEDED"
    assert len(aws.behaviour.created) == 9
    assert {t["Value"] for r in aws.behaviour.created for t in r["Tags"] if t["Key"] == "run_number"} == {"0"}
    results = aws.runner.results("console-one-run")
    assert len(results) == 9 and {r.run for r in results} == {0}


@pytest.mark.parametrize("bad_input", ['{"runs": 0}', '{"runs": "two"}', '{"runs": 4}', '{"token": 7}'])
def test_invalid_input_fails_fast_without_jobs(aws, bad_input):
    arn = aws.outputs["BenchStateMachineArn"]
    execution = aws.session.client("stepfunctions", region_name=REGION).start_execution(stateMachineArn=arn, input=bad_input)
    status = aws.runner.wait(execution["executionArn"], poll_seconds=0.05)
    assert (status.status, status.error) == ("FAILED", "InvalidInput")
    assert aws.behaviour.created == []


def test_status_list_and_stop(aws):
    declared = aws.project.plan("smoke")
    started = aws.runner.start("smoke", declared, name="smoke-status")
    final = wait(aws.runner, started)
    status = aws.runner.status("smoke-status")  # by name
    assert status.status == final.status == "SUCCEEDED"
    assert status.totals()["succeeded"] == 1 and [g.label for g in status.groups] == ["MlM5Large"]
    assert [r["name"] for r in aws.runner.list()] == ["smoke-status"]
    assert aws.runner.stop("smoke-status") == started.execution_arn


def test_client_run_uses_the_adhoc_machine_in_constant_aws_calls(aws):
    import runtool_iac as runtool

    config = runtool.load_config(*aws.project.config_files)
    calls: list[str] = []
    aws.session.events.register("before-call.*.*", lambda event_name, **_: calls.append(event_name))
    client = runtool.Client(session=aws.session, stack_name="RuntoolExampleRuntool")
    # The original's positional order (experiment, experiment_name, runs, job_name_expression).
    small = client.run(config.seasonal_naive * config.datasets, "adhoc-small", 1, "'sn-' + uid")
    small_calls = len(calls)
    big = client.run(config.algorithms * config.datasets, runs=3, experiment_name="adhoc-big")
    assert len(small) == 3 and len(big) == 27
    assert all(re.fullmatch(r"[a-z0-9]+-sn-[0-9a-f]{8}-r0-[0-9a-f]{8}-0", name) for name in small), small
    # DescribeStacks, one PutObject per ad-hoc group that has jobs (empty groups get no file),
    # DescribeExecution (a repeated name?), StartExecution: the same for 3 or 27 jobs of one group.
    assert len(calls) - small_calls == small_calls == 4
    runner = Runner("RuntoolExampleRuntool", session=aws.session, region=REGION)
    for execution in runner.list():
        assert runner.wait(execution["executionArn"], poll_seconds=0.05).status == "SUCCEEDED"
    assert sorted(r["TrainingJobName"] for r in aws.behaviour.created) == sorted(small + big)
    assert all(r["OutputDataConfig"]["S3OutputPath"].startswith("s3://runtool-test-output/adhoc/runs/adhoc-") for r in aws.behaviour.created)
