"""Managed spot training (``spot: true`` in runtool.yml): the request fields it needs.

SageMaker's managed spot training ("Managed Spot Training in Amazon SageMaker AI")
needs ``EnableManagedSpotTraining``, a ``StoppingCondition.MaxWaitTimeInSeconds``
at least ``MaxRuntimeInSeconds`` (the wait for spot capacity counts against it)
and, so that an interrupted job resumes instead of restarting, a
``CheckpointConfig.S3Uri``. Checkpoints go below the job's own output prefix
(``<experiment>/<experiment>_<trial>/checkpoints/<job>/``), where the created
SageMaker role may write, and which the state machine points at the deployed
bucket like the output path. Pure: the plan's requests in, new requests out.
"""

from __future__ import annotations

from runtool_iac.plan import Plan

MAX_WAIT_FACTOR = 2  # wait for spot capacity up to as long again as the job may run
CHECKPOINTS = "checkpoints"


def checkpoint_uri(output_path: str, job_name: str) -> str:
    return f"{output_path.rstrip('/')}/{CHECKPOINTS}/{job_name}/"


def managed_spot(plan: Plan) -> Plan:
    """The plan with every job on managed spot capacity (fields set in the configs win)."""
    jobs = []
    for job in plan.jobs:
        request = dict(job.request)
        stopping = dict(request["StoppingCondition"])
        stopping.setdefault("MaxWaitTimeInSeconds", stopping["MaxRuntimeInSeconds"] * MAX_WAIT_FACTOR)
        request["StoppingCondition"] = stopping
        request.setdefault("EnableManagedSpotTraining", True)
        if "CheckpointConfig" not in request:
            request["CheckpointConfig"] = {"S3Uri": checkpoint_uri(request["OutputDataConfig"]["S3OutputPath"], job.name)}
        jobs.append(job.replace(request=request))
    return plan.replace(jobs=jobs)
