"""Local runs from Python: ``local_run(experiment)`` and ``run_plan(plan, options)``.

Layout of a run (``run_id`` is a UTC timestamp, so runs sort by time)::

    <output_dir>/<experiment>/<run_id>/<job name>/      one job's /opt/ml tree + logs.txt + model.tar.gz
    <output_dir>/<experiment>/<run_id>/_s3/             downloads of unmapped s3:// channels
    <output_dir>/<experiment>/_results/<run_id>/        ResultWriter-style result files

Everything that can be wrong before a job starts (an output folder that
cannot be written, images without a runtime, channels without data) is
checked first and raised as one ``LocalModeError``. The result files are
rewritten as each job ends (unfinished jobs listed as pending), so when
runtool-iac is killed, every finished job's result is already on disk.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, TextIO

from runtool_iac import results
from runtool_iac.local import report, resources, runtimes
from runtool_iac.local.channels import DataSources
from runtool_iac.local.contract import JobPaths
from runtool_iac.local.errors import LocalModeError
from runtool_iac.local.executor import Executor, LocalJob, LogSink, Outcome, uninterruptible
from runtool_iac.plan import DEFAULT_EXPERIMENT_NAME, Job, Plan, build_plan

DEFAULT_OUTPUT_DIR = "runtool-output"
DEFAULT_MAX_PARALLEL = 2
RESULTS_FOLDER = "_results"


@dataclass(frozen=True)
class LocalOptions:
    """Where and how to run; ``images``/``data`` are runtool.yml's ``local.images``/``local.data``."""

    project_root: Path
    output_dir: Path
    images: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[str, Path] = field(default_factory=dict)
    max_parallel: int = DEFAULT_MAX_PARALLEL
    stream: TextIO | None = None  # console for job logs; None prints nothing
    adopt_orphans: bool = False  # this process is runtool-iac local itself (see processes.py)

    @classmethod
    def create(
        cls,
        project_root: str | Path | None = None,
        output_dir: str | Path | None = None,
        images: Mapping[str, str] | None = None,
        data: Mapping[str, str | Path] | None = None,
        max_parallel: int | None = None,
        stream: TextIO | None = None,
    ) -> LocalOptions:
        root = Path(project_root or Path.cwd()).resolve()
        return cls(
            project_root=root,
            output_dir=(root / (output_dir or DEFAULT_OUTPUT_DIR)).resolve(),
            images=dict(images or {}),
            data={prefix.rstrip("/"): (root / folder).resolve() for prefix, folder in (data or {}).items()},
            max_parallel=max_parallel or DEFAULT_MAX_PARALLEL,
            stream=stream,
        )


@dataclass
class LocalRun:
    run_id: str
    jobs_dir: Path
    results_dir: Path
    results: list[results.JobResult]

    @property
    def ok(self) -> bool:
        return all(r.status == "Completed" for r in self.results)


class LocalRunInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM/SIGHUP in the CLI) during a run; ``run`` holds what was written."""

    def __init__(self, run: LocalRun) -> None:
        super().__init__(f"local run interrupted; results in {run.results_dir}")
        self.run = run


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")


def choose_runtimes(plan: Plan, options: LocalOptions) -> dict[str, runtimes.Runtime]:
    """Image -> runtime for every image of the plan; checks a needed container engine is up."""
    engine = runtimes.find_engine()
    chosen: dict[str, runtimes.Runtime] = {}
    problems: list[str] = []
    for image in dict.fromkeys(_image(job) for job in plan.jobs):
        try:
            chosen[image] = runtimes.select(image, options.images, options.project_root, engine)
        except LocalModeError as exc:
            problems += exc.problems
    if problems:
        raise LocalModeError(problems)
    if engine and any(isinstance(r, runtimes.ContainerRuntime) for r in chosen.values()):
        runtimes.check_engine(engine)
    return chosen


def _image(job: Job) -> str:
    return job.request["AlgorithmSpecification"]["TrainingImage"]


class ResultJournal:
    """The run's result files, rewritten (one consistent generation at a time) as each job ends."""

    def __init__(self, folder: Path, jobs: list[Job], sink: LogSink) -> None:
        self.folder = folder
        self._jobs = jobs
        self._sink = sink
        self._entries = {job.name: report.pending_entry(job) for job in jobs}
        self._generation = 1
        self._write(self._generation)

    def record(self, job: LocalJob, outcome: Outcome) -> None:
        """A failed write (a full disk) must not stop the jobs: the next one, or ``finish``, tries again."""
        self._entries[job.name] = report.entry(job.job, outcome)
        self._generation += 1
        try:
            self._write(self._generation)
        except OSError as exc:
            self._sink.write(f"warning: cannot write results into {self.folder} ({exc.strerror or exc}); will retry")

    def finish(self, outcomes: Mapping[str, Outcome]) -> None:
        """The final files, ``<KIND>_0.json``, in plan order."""
        for job in self._jobs:
            self._entries[job.name] = report.entry(job, outcomes[job.name])
        try:
            self._write(0)
        except OSError as exc:
            raise LocalModeError(f"cannot write results into {self.folder}: {exc.strerror or exc}; the job folders are kept") from None

    def _write(self, generation: int) -> None:
        results.write_result_files(self.folder, [self._entries[job.name] for job in self._jobs], generation)


def _check_writable(folder: Path) -> None:
    """Before anything is written: the nearest existing ancestor of ``folder`` must be a writable folder."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise LocalModeError(f"cannot create the output folder {folder}: {existing} is not a folder; choose another --output-dir")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise LocalModeError(f"cannot create the output folder {folder}: {existing} is not writable; choose another --output-dir")


def _create_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LocalModeError(f"cannot create the output folder {folder}: {exc.strerror or exc}; choose another --output-dir") from None


def run_plan(plan: Plan, options: LocalOptions) -> LocalRun:
    """Run every job of ``plan`` here; write result files; raise ``LocalRunInterrupted`` on Ctrl-C."""
    experiment_dir = options.output_dir / plan.experiment_name
    run_id = new_run_id()
    jobs_dir = experiment_dir / run_id
    results_dir = experiment_dir / RESULTS_FOLDER / run_id
    _check_writable(options.output_dir)
    chosen = choose_runtimes(plan, options)
    sources = DataSources(options.data, options.project_root, jobs_dir / "_s3").resolve_jobs(plan.jobs)
    host = resources.machine()
    jobs = [
        LocalJob(
            job,
            runtimes.LaunchSpec(
                paths=JobPaths(jobs_dir / job.name),
                request=job.request,
                sources=sources[job.name],
                limits=resources.job_limits(job.instance_type, host),
                container_name=f"runtool-{run_id}-{job.name}",
            ),
            chosen[_image(job)],
        )
        for job in plan.jobs
    ]

    sink = LogSink(options.stream)
    _create_folder(results_dir)
    try:
        journal = ResultJournal(results_dir, plan.jobs, sink)
    except OSError as exc:
        raise LocalModeError(f"cannot write results into {results_dir}: {exc.strerror or exc}; choose another --output-dir") from None
    sink.write(f"running {len(jobs)} job(s) of '{plan.experiment_name}', {options.max_parallel} at a time, in {jobs_dir}")
    engine = runtimes.find_engine() if any(isinstance(r, runtimes.ContainerRuntime) for r in chosen.values()) else None
    outcomes, interrupted = Executor(options.max_parallel, sink, engine=engine, subreaper=options.adopt_orphans).run(jobs, on_outcome=journal.record)
    with uninterruptible():
        journal.finish(outcomes)
    run = LocalRun(run_id, jobs_dir, results_dir, results.read_local(results_dir))
    if interrupted:
        raise LocalRunInterrupted(run)
    return run


def local_run(
    experiment_or_plan: Any,
    output_dir: str | Path | None = None,
    runs: int = 1,
    experiment_name: str = DEFAULT_EXPERIMENT_NAME,
    max_parallel: int | None = None,
    images: Mapping[str, str] | None = None,
    data: Mapping[str, str | Path] | None = None,
    project_root: str | Path | None = None,
    quiet: bool = False,
) -> list[results.JobResult]:
    """Run an experiment (``algorithms * datasets``) or a ``Plan`` on this machine.

    ``runs`` and ``experiment_name`` apply to an experiment (a plan has its
    own). Relative ``output_dir`` and ``data`` folders, and the working
    directory of process jobs, are relative to ``project_root`` (default: the
    current directory). Job logs stream to stdout unless ``quiet``. Returns
    one result per job, as ``results.read_local`` reads them from the result
    files; raises ``LocalModeError`` before anything runs if an image has no
    runtime or a channel no data, and ``LocalRunInterrupted`` on Ctrl-C.
    """
    plan = (
        experiment_or_plan
        if isinstance(experiment_or_plan, Plan)
        else build_plan(experiment_or_plan, runs=runs, experiment_name=experiment_name, target="local")
    )
    options = LocalOptions.create(project_root, output_dir, images, data, max_parallel, None if quiet else sys.stdout)
    return run_plan(plan, options).results
