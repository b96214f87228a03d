"""The manifest assets: every job shipped, each item a valid CreateTrainingJob once the state machine
completes it, and items run-major so the first runs × trials items are the first runs.

The request is completed the way the synthesized definition says (its Train
state's Parameters and the map's ItemSelector, read from the template), with
the longest values the state machine can add: an 8-character execution token
and a 4-digit attempt number (redrive count + capacity retries). botocore's model of CreateTrainingJob
(``runtool_iac.sagemaker.check_request``) then judges it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest_cdk import Synth

pytest_plugins = ["conftest_cdk"]  # the session-wide synth: fixture cdk_synth

DECLARED = ["bench", "smoke"]
TOKEN = "f3a9c01b"  # States.UUID()'s first group: 8 hex characters
REDRIVE_COUNTS = ["0", "9999"]  # RedriveCount + attempt: the name leaves room for 4 digits


def map_states(definition: dict) -> dict[str, dict]:
    return {name: state for branch in definition["States"]["Jobs"]["Branches"] for name, state in branch["States"].items()}


def group_of(items: list[dict]) -> str:
    """The job group (one Distributed Map, 'Jobs <group>') a manifest's items belong to."""
    from runtool_iac.manifest import group_id

    (group,) = {group_id(i["request"]["ResourceConfig"]["InstanceType"], tuple(sorted(i["request"]))) for i in items}
    return group


def manifests(cdk_synth: Synth, experiment: str) -> dict[str, list[dict]]:
    """Asset object key -> its items, for the assets the experiment's definition reads."""
    text = json.dumps(cdk_synth.definition(experiment))
    found = {}
    for key, path in cdk_synth.asset_files().items():
        if key.endswith(".jsonl") and key in text:
            found[key] = [json.loads(line) for line in path.read_text().splitlines()]
    return found


def complete(item: dict, state: dict, bucket: str, redrive: str) -> dict:
    """The CreateTrainingJob request the Train state of Distributed Map ``state`` sends for this item."""
    selector = state["ItemSelector"]
    assert selector["output"] == {
        "S3OutputPath.$": "States.Format('s3://{}/{}', $.bucket, $$.Map.Item.Value.job.output_key)"
    }
    processor = state["ItemProcessor"]
    parameters = processor["States"][processor["StartAt"]]["Parameters"]
    request = {}
    for name, value in parameters.items():
        if name == "TrainingJobName.$":
            assert value == (
                "States.Format('{}-{}-{}', $.job.name, $.token, States.MathAdd($$.Execution.RedriveCount, $.attempt.n))"
            )
            request["TrainingJobName"] = f"{item['job']['name']}-{TOKEN}-{redrive}"
        elif name == "OutputDataConfig.$":
            assert value == "States.JsonMerge($.request.OutputDataConfig, $.output, false)"
            output = {"S3OutputPath": f"s3://{bucket}/{item['job']['output_key']}"}
            request["OutputDataConfig"] = {**item["request"]["OutputDataConfig"], **output}
        elif name.endswith(".$"):
            assert value == f"$.request.{name[:-2]}", (name, value)
            request[name[:-2]] = item["request"][name[:-2]]
        else:
            assert name == "RoleArn", name
            request[name] = value
    return request


@pytest.mark.parametrize("experiment", DECLARED)
def test_manifests_ship_every_planned_job_once(cdk_synth: Synth, experiment: str):
    plan = cdk_synth.result.plans[experiment]
    items = [i for group in manifests(cdk_synth, experiment).values() for i in group]
    assert len(items) == len(plan) > 0
    assert sorted(i["job"]["name"] for i in items) == sorted(job.name for job in plan.jobs)
    planned = {job.name: job.request for job in plan.jobs}
    for item in items:
        # The request minus what the state machine sets: role, name, and the bucket part of the output path.
        request = planned[item["job"]["name"]]
        assert item["request"] == {
            **{k: v for k, v in request.items() if k not in ("RoleArn", "TrainingJobName", "OutputDataConfig")},
            "OutputDataConfig": {k: v for k, v in request["OutputDataConfig"].items() if k != "S3OutputPath"},
        }
        assert request["OutputDataConfig"]["S3OutputPath"].endswith("/" + item["job"]["output_key"])


@pytest.mark.parametrize("experiment", DECLARED)
def test_completed_items_are_valid_create_training_job_requests(cdk_synth: Synth, experiment: str):
    from runtool_iac import sagemaker

    definition = cdk_synth.definition(experiment)
    bucket = cdk_synth.placeholder(cdk_synth.logical_id("AWS::S3::Bucket", "OutputBucket"))
    role = cdk_synth.placeholder(cdk_synth.logical_id("AWS::IAM::Role", "SageMakerExecutionRole"), "Arn")
    for items in manifests(cdk_synth, experiment).values():
        state = map_states(definition)[f"Jobs {group_of(items)}"]
        for item in items:
            for redrive in REDRIVE_COUNTS:
                request = complete(item, state, bucket, redrive)
                assert request["RoleArn"] == role
                assert len(request["TrainingJobName"]) <= sagemaker.JOB_NAME_MAX
                assert sagemaker.check_request(request) == [], request["TrainingJobName"]
    # The longest plan name still fits: 49 + "-" + 8 + "-" + 4 = 63.
    from runtool_iac.plan import PLAN_NAME_MAX

    assert PLAN_NAME_MAX + 1 + len(TOKEN) + 1 + 4 == sagemaker.JOB_NAME_MAX


@pytest.mark.parametrize("experiment", DECLARED)
def test_items_are_run_major(cdk_synth: Synth, experiment: str):
    """Every trial's first run comes before any second run, in each group's manifest."""
    runs = cdk_synth.project.experiments[experiment].runs
    for items in manifests(cdk_synth, experiment).values():
        trials = len({i["job"]["run_configuration_id"] for i in items})
        assert len(items) == trials * runs
        for r in range(runs):
            chunk = items[r * trials : (r + 1) * trials]
            assert {i["job"]["run"] for i in chunk} == {r}
            assert len({i["job"]["run_configuration_id"] for i in chunk}) == trials
    assert runs == {"bench": 3, "smoke": 1}[experiment]


@pytest.mark.parametrize("experiment", DECLARED)
def test_fewer_runs_read_exactly_the_items_of_those_runs(cdk_synth: Synth, experiment: str):
    """{"runs": r} reads the first jobs-per-run × r items of each run-major manifest (MaxItemsPath),
    so every item read is a job and the failure threshold counts only jobs that run."""
    import re

    definition = cdk_synth.definition(experiment)
    runs = cdk_synth.project.experiments[experiment].runs
    declared = definition["States"]["UseDeclaredManifest"]["Parameters"]
    for key, items in manifests(cdk_synth, experiment).items():
        group = group_of(items).replace("-", "_")
        assert declared["keys"][group] == key
        start, end, step = (int(n) for n in re.findall(r"StringToJson\('\s*(\d+)'\)", declared["items"][f"{group}.$"]))
        for r in range(1, runs + 1):
            count = list(range(start, end + 1, step))[r - 1]  # States.ArrayRange is inclusive
            assert {i["job"]["run"] for i in items[:count]} == set(range(r))
            assert all(i["job"]["run"] >= r for i in items[count:])
        assert count == len(items)
