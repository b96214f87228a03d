"""Job keys: what makes two jobs the same computation, and where keys travel."""

import json

from runtool_iac import build_plan, manifest, results
from runtool_iac.history import Execution, latest_completed, select
from runtool_iac.jobkey import EXCLUDED_FIELDS, job_key

from conftest import load

CONFIG = """
base:
  image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/algo:1
  instance: ml.m5.large
  hyperparameters: {lr: 0.1, layers: 2}
other:
  image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/algo:1
  instance: ml.m5.large
  hyperparameters: {lr: 0.2, layers: 2}
ds1:
  path: {train: s3://bucket/ds1/train/}
  tags: {domain: a}
ds2:
  path: {train: s3://bucket/ds2/train/}
algorithms: [{$ref: base}, {$ref: other}]
datasets: [{$ref: ds1}, {$ref: ds2}]
"""


def keys(text: str, runs: int = 1, **options) -> dict[tuple[str, str, int], str]:
    config = load(text)
    planned = build_plan(config.algorithms * config.datasets, runs=runs, **options)
    return {(j.algorithm, j.dataset, j.run): job_key(j.request, j.run) for j in planned.jobs}


def test_a_key_is_stable_and_differs_by_job():
    first = keys(CONFIG, runs=2)
    assert first == keys(CONFIG, runs=2)
    assert len(set(first.values())) == 8
    assert all(len(k) == 16 and int(k, 16) >= 0 for k in first.values())


def test_renaming_a_node_alone_keeps_every_key():
    renamed = CONFIG.replace("base:", "baseline:").replace("$ref: base}", "$ref: baseline}").replace("ds1:", "first:").replace("$ref: ds1}", "$ref: first}")
    before, after = keys(CONFIG), keys(renamed)
    assert sorted(before.values()) == sorted(after.values())
    assert before[("base", "ds1", 0)] == after[("baseline", "first", 0)]


def test_what_a_job_computes_changes_its_key_and_only_its_key():
    before = keys(CONFIG)
    for edit, changed in (
        (("lr: 0.1", "lr: 0.3"), {("base", "ds1", 0), ("base", "ds2", 0)}),  # a hyperparameter
        (("algo:1\n  instance: ml.m5.large\n  hyperparameters: {lr: 0.1", "algo:2\n  instance: ml.m5.large\n  hyperparameters: {lr: 0.1"),
         {("base", "ds1", 0), ("base", "ds2", 0)}),  # an image
        (("s3://bucket/ds2/train/", "s3://bucket/ds2-v2/train/"), {("base", "ds2", 0), ("other", "ds2", 0)}),  # a dataset
        (("instance: ml.m5.large\n  hyperparameters: {lr: 0.2", "instance: ml.m5.xlarge\n  hyperparameters: {lr: 0.2"),
         {("other", "ds1", 0), ("other", "ds2", 0)}),  # an instance type
        (("tags: {domain: a}", "tags: {domain: a}\n  $sagemaker.Environment: {SEED: '1'}"), {("base", "ds1", 0), ("other", "ds1", 0)}),
    ):
        after = keys(CONFIG.replace(*edit))
        assert after.keys() == before.keys()
        assert {job for job in before if before[job] != after[job]} == changed, edit


def test_names_tags_outputs_and_runs_count_do_not_change_keys():
    before = keys(CONFIG, runs=2)
    assert keys(CONFIG.replace("tags: {domain: a}", "tags: {domain: b}"), runs=2) == before
    again = keys(CONFIG, runs=5, experiment_name="bench", bucket="another-bucket",
                 role_arn="arn:aws:iam::123456789012:role/other", tags={"owner": "me"}, name_prefix="team")
    assert {k: v for k, v in again.items() if k[2] < 2} == before
    assert {"TrainingJobName", "Tags", "OutputDataConfig", "RoleArn"} <= EXCLUDED_FIELDS


def test_manifest_items_and_results_carry_the_key():
    config = load(CONFIG)
    planned = build_plan(config.algorithms * config.datasets, runs=2)
    (group,) = manifest.groups(planned)
    items = group.items()
    assert [i["job"]["key"] for i in items] == [job_key(j.request, j.run) for j in group.jobs]
    # A result names its key; a result written before keys existed gets it from its request.
    with_key = results.parse_entries("SUCCEEDED", [results.succeeded_entry(items[0], {}, "a")])
    old_item = {**items[1], "job": {k: v for k, v in items[1]["job"].items() if k != "key"}}
    without = results.parse_entries("SUCCEEDED", [results.succeeded_entry(old_item, {}, "b")])
    assert with_key[0].key == items[0]["job"]["key"] and without[0].key == items[1]["job"]["key"]
    assert json.loads(group.jsonl().splitlines()[0])["job"]["key"] == items[0]["job"]["key"]


def _result(key: str, status: str = "Completed", name: str = "job") -> results.JobResult:
    return results.JobResult(name, "a", "d", 0, status, key=key)


def test_latest_completed_result_wins_and_failures_never_count():
    executions = [
        Execution("new", "2026-11-02T00:00:00+00:00", "SUCCEEDED", (_result("k1", name="second"), _result("k2", "Failed"))),
        Execution("old", "2026-11-01T00:00:00+00:00", "SUCCEEDED", (_result("k1", name="first"), _result("k3"))),
    ]
    latest = latest_completed(executions)
    assert sorted(latest) == ["k1", "k3"]
    assert (latest["k1"].job_name, latest["k1"].execution) == ("second", "new")
    assert latest["k3"].execution == "old"


def test_select_splits_a_plan_by_earlier_results():
    config = load(CONFIG)
    planned = build_plan(config.algorithms * config.datasets, runs=1)
    done = job_key(planned.jobs[0].request, 0)
    selection = select(planned, [Execution("e1", "1", "SUCCEEDED", (_result(done),)), Execution("e2", "2", "RUNNING")])
    assert [j.name for j in selection.to_run] == [j.name for j in planned.jobs[1:]]
    assert [(j.name, r.execution) for j, r in selection.completed] == [(planned.jobs[0].name, "e1")]
    assert selection.summary() == "3 to run, 1 already completed (in 2 earlier executions)"
    assert selection.notes() == ["note: execution e2 is still running; its jobs count as completed once its results are written"]
    assert len(selection.subset()) == 3 and selection.subset().experiment_name == planned.experiment_name


def test_managed_spot_does_not_change_keys():
    from runtool_iac import spot

    config = load(CONFIG)
    planned = build_plan(config.algorithms * config.datasets, runs=1)
    spotted = spot.managed_spot(planned)
    assert spotted.jobs[0].request["EnableManagedSpotTraining"] is True
    assert [job_key(j.request, j.run) for j in spotted.jobs] == [job_key(j.request, j.run) for j in planned.jobs]
    longer = {**planned.jobs[0].request, "StoppingCondition": {"MaxRuntimeInSeconds": 60}}
    assert job_key(longer, 0) != job_key(planned.jobs[0].request, 0)  # the runtime limit still counts
