"""Recovery through the CLI against a moto server on 127.0.0.1: redrive, rerun, capacity
retries, completed jobs without optional fields (issue 9). The server runs in this process,
so the SageMaker .sync stand-in and the redrive emulator (tests/support) apply. Assertions
are on the training jobs created and on the rows of `results`."""

import json
import sys
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent / "support"))

from moto_deploy import REGION, deploy  # noqa: E402
from moto_stepfunctions import patched_moto  # noqa: E402

from runtool_iac.cli import main  # noqa: E402

from conftest import ROOT  # noqa: E402
from test_runner_cli import _EndpointSession  # noqa: E402
from test_runner_e2e import synthesized  # noqa: E402,F401  (the session-wide synth)

pytest_plugins = ["conftest_cdk"]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server():
    from moto.server import ThreadedMotoServer

    moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    moto_server.start()
    host, port = moto_server.get_host_and_port()
    yield f"http://{host}:{port}", port
    moto_server.stop()


@pytest.fixture
def cloud(server, synthesized, monkeypatch):  # noqa: F811
    import requests

    endpoint, port = server
    monkeypatch.setenv("MOTO_PORT", str(port))  # where moto's interpreter sends its own S3/SageMaker calls
    requests.post(f"{endpoint}/moto-api/reset", timeout=10)
    requests.post(f"{endpoint}/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}}, timeout=10)
    with patched_moto() as behaviour:
        deploy(synthesized.outdir, synthesized.stack_name, _EndpointSession(boto3.Session(region_name=REGION), endpoint))
        behaviour.endpoint = endpoint
        yield behaviour


def cli(cloud, *args: str):
    base = ["--project", str(ROOT / "runtool.yml"), "--region", REGION, "--endpoint-url", cloud.endpoint]
    return CliRunner().invoke(main, [*args, *base])


def names(cloud) -> list[str]:
    return [r["TrainingJobName"] for r in cloud.created]


def results(cloud, execution: str) -> list[dict]:
    result = cli(cloud, "results", execution, "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len({r["planned_name"] for r in rows}) == len(rows), "a job counted twice"
    return rows


def wait_until_done(cloud, execution: str) -> str:
    from runtool_iac.runner import Runner

    runner = Runner("RuntoolExampleRuntool", region=REGION, endpoint_url=cloud.endpoint)
    return runner.wait(execution, poll_seconds=0.1).status


def test_a_failed_job_then_redrive_makes_exactly_one_new_job_and_every_job_completes_once(cloud):
    cloud.failures["forecast-seasonal-naive-traffic"] = "ClientError: traffic/train is empty"
    run = cli(cloud, "run", "bench", "--runs", "1", "--name", "cli-redrive", "--wait", "--poll-seconds", "0.1")
    assert run.exit_code == 1  # 1 of the 9 jobs failed: 11 % > 10 % tolerated
    assert len(cloud.created) == 9
    failed = [r for r in results(cloud, "cli-redrive") if r["status"] != "Completed"]
    assert [(r["dataset"], r["status"], r["failure_reason"]) for r in failed] == [("traffic", "Failed", "ClientError: traffic/train is empty")]
    status = cli(cloud, "status", "cli-redrive")
    assert status.output.splitlines()[0].startswith("cli-redrive: FAILED (States.ExceedToleratedFailureThreshold")
    assert status.output.splitlines()[-1] == f"Failed: {failed[0]['job_name']}: ClientError: traffic/train is empty"

    cloud.failures.clear()
    redrive = cli(cloud, "redrive", "cli-redrive")
    assert redrive.exit_code == 0 and redrive.output.startswith("redriving: arn:aws:states:")
    assert wait_until_done(cloud, "cli-redrive") == "SUCCEEDED"
    created = names(cloud)
    assert len(created) == 10 and len(set(created)) == 10
    (new,) = created[9:]
    assert new == failed[0]["job_name"][: -len("-0")] + "-1"  # the same job, a new name
    rows = results(cloud, "cli-redrive")
    assert len(rows) == 9 and {r["status"] for r in rows} == {"Completed"}
    assert sorted(r["job_name"] for r in rows) == sorted(set(created) - {failed[0]["job_name"]})  # latest attempts


def test_a_tolerated_failure_then_redrive_refuses_and_rerun_runs_exactly_that_job(cloud):
    from runtool_iac.project import load_project

    plan = load_project(ROOT / "runtool.yml").plan("bench")
    job = next(j for j in plan.jobs if j.dataset == "traffic" and j.run == 1 and j.algorithm == "seasonal_naive")
    cloud.failures[job.name] = "AlgorithmError: out of memory"
    run = cli(cloud, "run", "bench", "--name", "cli-tolerated", "--wait", "--poll-seconds", "0.1")
    assert run.exit_code == 0, run.output  # 1 of 27 is within 10 %: the execution SUCCEEDED
    rows = results(cloud, "cli-tolerated")
    failed = [r for r in rows if r["status"] != "Completed"]
    assert len(rows) == 27 and [r["planned_name"] for r in failed] == [job.name]

    redrive = cli(cloud, "redrive", "cli-tolerated")
    assert redrive.exit_code == 1
    (line,) = redrive.output.strip().splitlines()
    assert "SUCCEEDED" in line and "runtool-iac rerun cli-tolerated" in line
    assert len(cloud.created) == 27

    cloud.failures.clear()
    rerun = cli(cloud, "rerun", "cli-tolerated", "--name", "cli-rerun", "--wait", "--poll-seconds", "0.1")
    assert rerun.exit_code == 0, rerun.output
    lines = rerun.output.splitlines()
    assert lines[0].startswith("execution: arn:aws:states:") and lines[2:4] == ["1 training jobs:", f"  {names(cloud)[27]}"]
    assert len(cloud.created) == 28 and names(cloud)[27].startswith(job.name + "-")  # exactly that job, a new name
    (again,) = results(cloud, "cli-rerun")
    assert (again["planned_name"], again["status"], again["job_name"]) == (job.name, "Completed", names(cloud)[27])
    nothing = cli(cloud, "rerun", "cli-rerun")
    assert nothing.exit_code == 0 and nothing.output.strip() == "nothing to rerun: every job of cli-rerun completed"


def test_a_capacity_failure_then_success_gives_two_attempts_with_distinct_names(cloud):
    cloud.capacity_failures["forecast-seasonal-naive-retail"] = 1
    run = cli(cloud, "run", "smoke", "--name", "cli-capacity", "--wait", "--poll-seconds", "0.1")
    assert run.exit_code == 0, run.output
    first, second = names(cloud)
    assert first.endswith("-0") and second == first[:-2] + "-1"
    (row,) = results(cloud, "cli-capacity")
    assert (row["status"], row["job_name"]) == ("Completed", second)


def test_a_job_completed_without_metrics_is_a_success(cloud):
    cloud.minimal.add("forecast-seasonal-naive-retail")
    run = cli(cloud, "run", "smoke", "--name", "cli-minimal", "--wait", "--poll-seconds", "0.1")
    assert run.exit_code == 0, run.output
    (row,) = results(cloud, "cli-minimal")
    assert (row["status"], row["metrics"], row["billable_seconds"]) == ("Completed", {}, None)
    assert row["job_name"] == names(cloud)[0]
