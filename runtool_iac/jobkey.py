"""The job key: what a training job computes, as a short stable hash.

Two jobs with the same key compute the same thing, so a completed result of
one serves the other (``run --skip-completed``, ``results --experiment``).
The key hashes the CreateTrainingJob request and the run number, leaving out
the fields that say *where* a job runs or *under which name*, not *what* it
computes:

- ``TrainingJobName``: made of node names, a trial hash and (in the cloud)
  an execution token; renaming a node or starting a new execution changes it.
- ``Tags``: labels for grouping and billing (they also carry the experiment
  name, the run configuration and the number of runs).
- ``OutputDataConfig``: where the model goes (the output path contains the
  experiment and run configuration) and how it is encrypted.
- ``CheckpointConfig``: where checkpoints go.
- ``RoleArn``: who runs the job; the deployed state machine sets it.
- ``EnableManagedSpotTraining`` and ``StoppingCondition.MaxWaitTimeInSeconds``
  (``spot: true``): how the job is billed and how long it may wait for
  capacity, not what it computes; turning spot on or off reruns nothing.

Everything else counts: the image and metric definitions
(``AlgorithmSpecification``), every hyperparameter, the input channels (data
is identified by its URI, not its content: re-uploading a dataset under the
same URI is not a new key), the instance type and count, volume and stopping
condition, and any ``$sagemaker.*`` override (environment, VPC, ...). A field
this module does not know counts too: a needless new key costs one re-run,
a missing one would silently reuse a stale result.

The run number counts, the number of runs does not: going from 3 runs to 5
adds the keys of runs 3 and 4 only. ``KEY_VERSION`` is hashed in, so a change
of this definition can never match keys made under the old one.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable, Mapping

KEY_VERSION = "1"
KEY_CHARS = 16  # 64 bits: collision-free for any realistic number of jobs
# Request fields that do not change what a job computes (see the module docstring).
EXCLUDED_FIELDS = frozenset(
    {"TrainingJobName", "Tags", "OutputDataConfig", "CheckpointConfig", "RoleArn", "EnableManagedSpotTraining"}
)
# Members of counted fields that do not count either.
EXCLUDED_MEMBERS = {"StoppingCondition": frozenset({"MaxWaitTimeInSeconds"})}


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def job_key(request: Mapping[str, Any], run: int) -> str:
    """The key of one job: its request (without the excluded fields) and its run number."""
    return KeyMaker().key(request, run)


class KeyMaker:
    """Keys of many jobs: request parts shared between jobs (plans share them) are encoded once."""

    def __init__(self) -> None:
        self._texts: dict[int, str] = {}
        self._alive: list[Any] = []  # keeps the parts whose id() is cached alive

    def _part(self, name: str, value: Any) -> str:
        if not isinstance(value, (dict, list)):
            return _text(value)
        text = self._texts.get(id(value))
        if text is None:
            dropped = EXCLUDED_MEMBERS.get(name)
            kept = {k: v for k, v in value.items() if k not in dropped} if dropped and isinstance(value, dict) else value
            text = self._texts[id(value)] = _text(kept)
            self._alive.append(value)
        return text

    def key(self, request: Mapping[str, Any], run: int) -> str:
        parts = [f"v{KEY_VERSION}", f"run={int(run)}"]
        parts += [f"{name}={self._part(name, request[name])}" for name in sorted(request) if name not in EXCLUDED_FIELDS]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:KEY_CHARS]

    def keys(self, jobs: Iterable[Any]) -> list[str]:
        """Keys of ``plan.Job``s, in order."""
        return [self.key(job.request, job.run) for job in jobs]
