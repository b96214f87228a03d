"""A job's outcome as the entry a Step Functions ResultWriter would have written.

Local runs and cloud executions share one results format (``results.py``), so
``runtool-iac results`` and ``results.pivot`` read both. A completed job's
``Output`` carries a trimmed DescribeTrainingJob; a failed or stopped one
fails its item with ``States.TaskFailed`` and that description in the
``Cause``, as the ``.sync`` integration reports it; a job an interrupted run
never started is an aborted item.
"""

from __future__ import annotations

import json
import math

from runtool_iac import manifest, results
from runtool_iac.local.executor import Outcome
from runtool_iac.plan import Job

TASK_FAILED = "States.TaskFailed"
ABORTED = "Aborted"


def description(job: Job, outcome: Outcome) -> dict:
    """The DescribeTrainingJob fields results tables read."""
    seconds = max(1, math.ceil(outcome.seconds))
    found = {
        "TrainingJobName": job.name,
        "TrainingJobStatus": outcome.status,
        "SecondaryStatus": outcome.secondary_status,
        "FinalMetricDataList": outcome.metrics,
        "TrainingTimeInSeconds": seconds,
        "BillableTimeInSeconds": seconds,
    }
    if outcome.model_archive:
        found["ModelArtifacts"] = outcome.model_archive
    if outcome.reason:
        found["FailureReason"] = outcome.reason
    return found


def pending_entry(job: Job) -> dict:
    """A job not finished yet: what the result files say if runtool-iac is killed before it ends."""
    return {"Name": job.name, "Status": "PENDING", "Input": json.dumps(manifest.item(job), separators=(",", ":"))}


def entry(job: Job, outcome: Outcome) -> dict:
    item = manifest.item(job)
    if outcome.status == "NotStarted":
        return results.failed_entry(item, ABORTED, outcome.reason, job.name, status="ABORTED")
    if outcome.status == "Completed":
        return results.succeeded_entry(item, description(job, outcome), job.name)
    # Stopped by Ctrl-C: Step Functions aborts the items of a stopped execution.
    status = "ABORTED" if outcome.secondary_status == "Stopped" else "FAILED"
    return results.failed_entry(item, TASK_FAILED, json.dumps(description(job, outcome)), job.name, status=status)
