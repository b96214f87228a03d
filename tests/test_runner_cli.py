"""The runner's CLI commands, against moto in-process and against moto_server on 127.0.0.1."""

import json
import sys
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).parent / "support"))

from moto_deploy import REGION, deploy  # noqa: E402
from moto_stepfunctions import patched_moto  # noqa: E402

from runtool_iac.cli import main  # noqa: E402

from conftest import ROOT  # noqa: E402
from test_runner_e2e import synthesized  # noqa: E402,F401  (the session-wide synth, via conftest_cdk)

pytest_plugins = ["conftest_cdk"]

PROJECT = str(ROOT / "runtool.yml")


def cli(*args: str):
    result = CliRunner().invoke(main, [*args, "--project", PROJECT, "--region", REGION])
    return result


@pytest.fixture
def deployed(synthesized):  # noqa: F811
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), patched_moto() as behaviour:
        deploy(synthesized.outdir, synthesized.stack_name, boto3.Session(region_name=REGION))
        yield behaviour


def test_run_wait_status_results_list_stop(deployed):
    result = cli("run", "bench", "--runs", "1", "--name", "cli-bench", "--wait", "--poll-seconds", "0.05")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("execution: arn:aws:states:eu-west-1:")
    assert lines[1].startswith("console:   https://eu-west-1.console.aws.amazon.com/states/")
    assert lines[2] == "9 training jobs:"

    status = cli("status", "cli-bench", "--format", "json")
    assert json.loads(status.output)["status"] == "SUCCEEDED"
    table = cli("status", "cli-bench").output.splitlines()
    assert table[0] == "cli-bench: SUCCEEDED" and table[-1].split()[:5] == ["all", "0", "0", "9", "0"]

    results = cli("results", "cli-bench", "--format", "csv")
    rows = results.output.splitlines()
    assert rows[0].startswith("job_name,algorithm,dataset,run,status")
    assert sum(",Completed," in r for r in rows) == 9 and len(rows) == 10
    pivot = cli("results", "cli-bench", "--pivot", "MASE")
    assert pivot.output.splitlines()[0].split()[:4] == ["MASE", "(mean", "±", "std)"]

    latest = cli("status", "--format", "json")  # no EXECUTION: the most recent one
    assert json.loads(latest.output)["name"] == "cli-bench"
    listed = cli("list", "--format", "json")
    assert [e["name"] for e in json.loads(listed.output)] == ["cli-bench"]
    assert cli("stop", "cli-bench").output.startswith("stopped: arn:")

    again = cli("run", "bench", "--runs", "1", "--name", "cli-bench")
    assert "already exists (SUCCEEDED); not started again" in again.output


def test_plan_of_a_declared_experiment_shows_exactly_what_run_starts(deployed):
    """`plan EXPERIMENT` is the dry run of `run EXPERIMENT`: same prefix, runs, tags and names
    (the cloud adds only -<execution token>-<redrive count>)."""
    plan = CliRunner().invoke(main, ["plan", "smoke", "--project", PROJECT, "--format", "json"])
    assert plan.exit_code == 0, plan.output
    planned = json.loads(plan.stdout)
    started = cli("run", "smoke", "--name", "plan-vs-run", "--wait", "--poll-seconds", "0.05", "--quiet")
    assert started.exit_code == 0, started.output
    names = started.output.split()
    assert [n.rsplit("-", 2)[0] for n in names] == [r["TrainingJobName"] for r in planned]
    assert all(n.startswith("forecast-") for n in names)  # the project's job_prefix
    created = {r["TrainingJobName"]: r for r in deployed.created}
    assert set(names) <= set(created)
    for request in planned:
        job = created[next(n for n in names if n.startswith(request["TrainingJobName"] + "-"))]
        assert job["Tags"] == request["Tags"] and job["HyperParameters"] == request["HyperParameters"]


def test_failed_jobs_show_in_results_with_their_reason(deployed):
    deployed.failures["forecast-seasonal-naive-traffic"] = "ClientError: bad data"
    cli("run", "bench", "--runs", "1", "--name", "one-fails", "--wait", "--poll-seconds", "0.05")
    rows = json.loads(cli("results", "one-fails", "--format", "json").output)
    failed = [r for r in rows if r["status"] != "Completed"]
    assert [(r["algorithm"], r["dataset"], r["status"], r["failure_reason"]) for r in failed] == [
        ("seasonal_naive", "traffic", "Failed", "ClientError: bad data")
    ]
    table = cli("results", "one-fails").output.splitlines()
    assert table[-1] == "9 jobs (Completed: 8, Failed: 1)"


def test_more_runs_than_declared_upload_a_manifest(deployed):
    result = cli("run", "smoke", "--runs", "2", "--name", "more-runs", "--wait", "--poll-seconds", "0.05")
    assert result.exit_code == 0, result.output
    assert "2 training jobs" in result.output
    assert len(deployed.created) == 2


def test_wait_exits_nonzero_when_the_execution_fails(deployed):
    result = cli("run", "bench", "--runs", "1", "--name", "bad-token", "--wait", "--poll-seconds", "0.05")
    assert result.exit_code == 0
    arn = json.loads(cli("status", "bad-token", "--format", "json").output)["execution_arn"]
    machine = arn.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0]
    client = boto3.client("stepfunctions", region_name=REGION)
    client.start_execution(stateMachineArn=machine, name="invalid-input", input='{"runs": 0}')
    from runtool_iac.commands.runner import _follow
    from runtool_iac.runner import Runner

    final = _follow(Runner("RuntoolExampleRuntool", region=REGION), f"{machine.replace(':stateMachine:', ':execution:')}:invalid-input", total=9, poll_seconds=0.05)
    assert final.status == "FAILED" and final.error == "InvalidInput"


def test_clear_errors(deployed, monkeypatch):
    missing = CliRunner().invoke(main, ["status", "x", "--stack", "NoSuchStack", "--region", REGION])
    assert missing.exit_code == 1
    assert missing.output.strip() == "error: stack NoSuchStack not found in eu-west-1: deploy it first with `npx cdk deploy`"
    unknown = cli("run", "nosuch")
    assert unknown.exit_code == 1 and "no experiment 'nosuch'" in unknown.output
    name = cli("status", "never-ran")
    assert name.exit_code == 1 and "no execution named 'never-ran'" in name.output


def test_missing_credentials_is_one_line_and_sends_nothing(monkeypatch, tmp_path):
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = cli("list")
    assert result.exit_code == 1
    assert result.output.strip() == "error: no AWS credentials: configure a profile (--profile) or environment credentials"


def test_access_denied_is_one_line():
    from botocore.stub import Stubber

    from runtool_iac.runner import Runner, RunnerError

    runner = Runner("Stack", session=boto3.Session(region_name=REGION, aws_access_key_id="a", aws_secret_access_key="b"), region=REGION)
    with Stubber(runner._clients["cloudformation"]) as stub:
        stub.add_client_error("describe_stacks", "AccessDenied", "User: x is not authorized to perform: cloudformation:DescribeStacks")
        with pytest.raises(RunnerError, match="^access denied for describe_stacks: User: x is not authorized"):
            runner.deployment()


def test_throttling_is_retried_by_botocore():
    from runtool_iac.runner import Runner

    runner = Runner("Stack", session=boto3.Session(region_name=REGION, aws_access_key_id="a", aws_secret_access_key="b"), region=REGION)
    retries = runner.sfn.meta.config.retries
    assert retries["mode"] == "adaptive" and retries["total_max_attempts"] >= 10


def test_results_of_a_local_output_folder(tmp_path):
    from runtool_iac.results import succeeded_entry, write_result_files

    job = {"job": {"name": "a-b-r0", "algorithm": "a", "dataset": "b", "run": 0}}
    write_result_files(tmp_path / "_results" / "1", [succeeded_entry(job, {"TrainingJobStatus": "Completed", "FinalMetricDataList": [{"MetricName": "MASE", "Value": 0.5}]}, "x")])
    result = CliRunner().invoke(main, ["results", str(tmp_path), "--pivot", "MASE", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rows"] == [{"algorithm": "a", "dataset": "b", "mean": 0.5, "std": 0.0, "n": 1}]


@pytest.mark.slow
def test_smoke_against_moto_server(synthesized, monkeypatch):  # noqa: F811
    """run/status/results through --endpoint-url against a real moto server on 127.0.0.1."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        monkeypatch.setenv("MOTO_PORT", str(port))  # where moto's interpreter sends its own S3/SageMaker calls
        import requests

        requests.post(f"{endpoint}/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}}, timeout=10)
        with patched_moto():  # the server runs in this process: the SageMaker stand-in applies
            session = boto3.Session(region_name=REGION)
            clients = _EndpointSession(session, endpoint)
            deploy(synthesized.outdir, synthesized.stack_name, clients)
            base = ["--project", PROJECT, "--region", REGION, "--endpoint-url", endpoint]
            run = CliRunner().invoke(main, ["run", "smoke", "--name", "server-smoke", "--wait", "--poll-seconds", "0.1", *base])
            assert run.exit_code == 0, run.output
            status = CliRunner().invoke(main, ["status", "server-smoke", "--format", "json", *base])
            assert json.loads(status.output)["status"] == "SUCCEEDED"
            results = CliRunner().invoke(main, ["results", "server-smoke", "--format", "json", *base])
            (row,) = json.loads(results.output)
            assert (row["algorithm"], row["dataset"], row["status"]) == ("seasonal_naive", "retail", "Completed")
    finally:
        server.stop()


class _EndpointSession:
    """A boto3 session whose clients talk to the moto server."""

    def __init__(self, session, endpoint):
        self._session, self._endpoint = session, endpoint

    def client(self, name, **kwargs):
        return self._session.client(name, endpoint_url=self._endpoint, **kwargs)
