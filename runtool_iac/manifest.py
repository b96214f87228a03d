"""Manifests: a plan as the JSON-lines files a Distributed Map reads.

Jobs are grouped by instance type (each group gets its own concurrency cap)
and by the set of top-level request fields (a state's Parameters must name
each field, and ``$sagemaker.*`` overrides may add some). Items are ordered
run-major within a group, so every trial's first run starts before any
second run (early results cover the whole grid).

The bucket and the role are filled in by the state machine at run time, so a
manifest does not depend on deploy-time names and can be a static asset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from runtool_iac.jobkey import KeyMaker
from runtool_iac.plan import Job, Plan

# The generic state machine that runs uploaded plans (Client.run), and its catch-all group.
ADHOC = "adhoc"
DEFAULT_GROUP = "default"
# Where ad-hoc runs' models go: apart from adhoc/_manifests and adhoc/_results,
# so the SageMaker role's write grant covers neither.
ADHOC_OUTPUTS = f"{ADHOC}/runs"

# Fields the state machine sets itself (RoleArn, TrainingJobName) or completes (OutputDataConfig).
STATE_MACHINE_FIELDS = ("RoleArn", "TrainingJobName")
# The fields every plan request has; the generic state machine supports these only.
STANDARD_FIELDS = (
    "AlgorithmSpecification",
    "HyperParameters",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "Tags",
)


# Pseudo request field of a group whose checkpoints go to the output bucket: the state
# machine completes CheckpointConfig.S3Uri with the deployed bucket, like S3OutputPath.
OUTPUT_CHECKPOINT = "OutputCheckpoint"


@dataclass(frozen=True)
class Group:
    """Jobs one Distributed Map runs: one instance type and one set of request fields."""

    id: str
    instance_type: str
    fields: tuple[str, ...]
    jobs: tuple[Job, ...]

    def items(self) -> list[dict]:
        keys = KeyMaker()
        return [item(job, keys) for job in self.jobs]

    def jsonl(self) -> str:
        return "".join(json.dumps(i, ensure_ascii=False, separators=(",", ":")) + "\n" for i in self.items())


def item(job: Job, keys: KeyMaker | None = None) -> dict:
    """One manifest line: what the job is (for results tables; ``key`` matches it
    with earlier results, see jobkey.py) and its request."""
    request = {k: v for k, v in job.request.items() if k not in STATE_MACHINE_FIELDS}
    output = dict(request["OutputDataConfig"])
    s3_path = output.pop("S3OutputPath")
    request["OutputDataConfig"] = output
    checkpoint_key = _output_checkpoint_key(job)
    if checkpoint_key is not None:
        request["CheckpointConfig"] = {k: v for k, v in request["CheckpointConfig"].items() if k != "S3Uri"}
    entry = {
        "job": {
            "name": job.name,
            "key": (keys or KeyMaker()).key(job.request, job.run),
            "algorithm": job.algorithm,
            "dataset": job.dataset,
            "run": job.run,
            "runs": job.runs,
            "run_configuration_id": job.run_configuration_id,
            "instance_type": job.instance_type,
            # s3://<bucket>/<output_key>: the bucket is the deployed one.
            "output_key": s3_path.split("/", 3)[3],
            "metrics": list(job.metrics),
        },
        "request": request,
    }
    if checkpoint_key is not None:
        entry["job"]["checkpoint_key"] = checkpoint_key
    return entry


def _output_checkpoint_key(job: Job) -> str | None:
    """The key of a checkpoint location in the job's output bucket (None: elsewhere or none)."""
    uri = job.request.get("CheckpointConfig", {}).get("S3Uri", "")
    bucket = job.request["OutputDataConfig"]["S3OutputPath"].split("/", 3)[2]
    return uri.split("/", 3)[3] if uri.startswith(f"s3://{bucket}/") and uri.count("/") >= 3 else None


def request_fields(job: Job) -> tuple[str, ...]:
    """The group-defining fields of a job's request (plus OUTPUT_CHECKPOINT)."""
    fields = {k for k in job.request if k not in STATE_MACHINE_FIELDS}
    if _output_checkpoint_key(job) is not None:
        fields.add(OUTPUT_CHECKPOINT)
    return tuple(sorted(fields))


def group_id(instance_type: str, fields: tuple[str, ...]) -> str:
    base = instance_type.replace(".", "-")
    extra = sorted(set(fields) - set(STANDARD_FIELDS))
    return base if not extra else base + "-" + "-".join(f.lower() for f in extra)


def groups(plan: Plan) -> list[Group]:
    """Deterministic groups (sorted by id), jobs run-major inside each."""
    buckets: dict[tuple[str, tuple[str, ...]], list[tuple[int, Job]]] = {}
    for index, job in enumerate(plan.jobs):
        fields = request_fields(job)
        buckets.setdefault((job.instance_type, fields), []).append((index, job))
    out = []
    for (instance_type, fields), members in buckets.items():
        ordered = tuple(job for _, job in sorted(members, key=lambda pair: (pair[1].run, pair[0])))
        out.append(Group(group_id(instance_type, fields), instance_type, fields, ordered))
    return sorted(out, key=lambda g: g.id)


def read_jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def output_id(name: str) -> str:
    """Stack-output prefix of an experiment ("my-bench" -> "MyBench"): the stack writes
    and the runner reads ``<prefix>StateMachineArn``, ``…ResultsLocation``, ``…Groups``."""
    return "".join(part[:1].upper() + part[1:] for part in name.replace("_", "-").split("-"))
