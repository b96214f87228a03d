"""An experiment's results across all its executions, matched to a plan by job key.

Each execution (a Step Functions execution, or one ``runtool-iac local`` run)
leaves its own ResultWriter files. Combining them by job key (jobkey.py)
answers two questions: which result is the latest completed one for each job
(``results --experiment``), and which planned jobs have none yet and so need
to run (``run --skip-completed``, ``plan --against-results``).

Pure: the executions are read by the runner (cloud) or ``local_executions``
(a local output folder), and passed in oldest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable

from runtool_iac import results
from runtool_iac.jobkey import KeyMaker
from runtool_iac.plan import Job, Plan

COMPLETED = "Completed"


@dataclass(frozen=True)
class Execution:
    """One earlier execution of an experiment and the results it wrote."""

    name: str
    started: str  # ISO 8601 (cloud) or the local run id: sorts by time
    status: str
    results: tuple[results.JobResult, ...] = ()


def latest_completed(executions: Iterable[Execution]) -> dict[str, results.JobResult]:
    """Job key -> its latest completed result (``execution`` says where it came from)."""
    latest: dict[str, results.JobResult] = {}
    for execution in sorted(executions, key=lambda e: (e.started, e.name)):
        for result in execution.results:
            if result.status == COMPLETED and result.key:
                latest[result.key] = replace(result, execution=execution.name)
    return latest


def experiment_results(executions: Iterable[Execution]) -> list[results.JobResult]:
    """The rows of ``results --experiment``: one per job key, the latest completed."""
    return results.sort_results(list(latest_completed(executions).values()))


@dataclass
class Selection:
    """A plan split into the jobs to run and those an earlier execution completed."""

    plan: Plan
    to_run: list[Job]
    completed: list[tuple[Job, results.JobResult]] = field(default_factory=list)
    executions: int = 0
    running: list[str] = field(default_factory=list)  # executions still running (results not written yet)

    def subset(self) -> Plan:
        """The plan of just the jobs to run."""
        return self.plan.replace(jobs=list(self.to_run))

    def summary(self) -> str:
        text = f"{len(self.to_run)} to run, {len(self.completed)} already completed"
        return text + f" (in {self.executions} earlier execution{'s' if self.executions != 1 else ''})"

    def to_json(self) -> dict:
        def ref(job: Job) -> dict:
            return {"name": job.name, "algorithm": job.algorithm, "dataset": job.dataset, "run": job.run}

        return {
            "experiment": self.plan.experiment_name,
            "executions": self.executions,
            "to_run": len(self.to_run),
            "completed": len(self.completed),
            "new": [ref(job) for job in self.to_run],
            "completed_jobs": [{**ref(job), "execution": result.execution} for job, result in self.completed],
            "running_executions": self.running,
        }

    def lines(self, limit: int = 50) -> list[str]:
        """The summary and the jobs to run (up to ``limit``), for plan and diff."""
        out = [f"{self.plan.experiment_name}: {self.summary()}"]
        out += [f"  + {j.name}  {j.algorithm} × {j.dataset}, run {j.run}" for j in self.to_run[:limit]]
        if len(self.to_run) > limit:
            out.append(f"  … and {len(self.to_run) - limit} more new jobs (use --format json for all)")
        return out + ["  " + note for note in self.notes()]

    def markdown(self, limit: int = 50) -> str:
        out = [f"**{self.plan.experiment_name}**: {self.summary()}", ""]
        if self.to_run:
            out += ["| new job | algorithm | dataset | run |", "|---|---|---|---:|"]
            out += [f"| `{j.name}` | {j.algorithm} | {j.dataset} | {j.run} |" for j in self.to_run[:limit]]
            if len(self.to_run) > limit:
                out.append(f"\n… and {len(self.to_run) - limit} more new jobs.")
            out.append("")
        return "\n".join(out + [f"> {note}" for note in self.notes()]) + "\n"

    def notes(self) -> list[str]:
        return [
            f"note: execution {name} is still running; its jobs count as completed once its results are written"
            for name in self.running
        ]


def select(plan: Plan, executions: list[Execution]) -> Selection:
    """Which jobs of ``plan`` still need to run, given the earlier executions."""
    done = latest_completed(executions)
    keys = KeyMaker()
    selection = Selection(
        plan,
        to_run=[],
        executions=len(executions),
        running=[e.name for e in executions if e.status == "RUNNING"],
    )
    for job in plan.jobs:
        found = done.get(keys.key(job.request, job.run))
        if found is None:
            selection.to_run.append(job)
        else:
            selection.completed.append((job, found))
    return selection


# ------------------------------------------------------------------ local


def local_executions(output_dir: str | Path, experiment: str) -> list[Execution]:
    """Every local run of ``experiment`` below ``output_dir`` (``<experiment>/_results/<run id>/``), oldest first."""
    from runtool_iac.local.api import RESULTS_FOLDER

    folder = Path(output_dir) / experiment / RESULTS_FOLDER
    if not folder.is_dir():
        return []
    runs = sorted(p for p in folder.iterdir() if p.is_dir() and (p / "manifest.json").is_file())
    return [Execution(run.name, run.name, "SUCCEEDED", tuple(results.read_local(run))) for run in runs]
