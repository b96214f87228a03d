"""Run prepared jobs on this machine, a few at a time, like SageMaker would.

Each job runs in its own process group (its own session), so ending a job
ends everything it started, as SageMaker ends a whole container; a terminal's
Ctrl-C reaches only runtool-iac, which then stops every running job itself:
SIGTERM to each group (and ``docker rm -f`` for containers), SIGKILL after a
grace period, and waits for them, so no process outlives the run.

Per job: log lines go to ``logs.txt`` and, prefixed ``[job name]``, to the
console; metrics are scraped from them; ``MaxRuntimeInSeconds`` is enforced
(the job ends Stopped, ``MaxRuntimeExceeded``); a non-zero exit or an
``output/failure`` file makes it Failed with a reason; other jobs go on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tarfile
import threading
import time
import traceback
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Iterator, TextIO

from runtool_iac.local import channels, contract
from runtool_iac.local.metrics import MetricScraper
from runtool_iac.local.runtimes import LaunchSpec, Runtime
from runtool_iac.plan import Job

# SageMaker waits 120 s after SIGTERM; locally a shorter wait keeps Ctrl-C responsive.
KILL_GRACE_S = 5.0
TAIL_LINES = 5
FAILURE_REASON_MAX = 1024  # SageMaker's limit on FailureReason


@dataclass(frozen=True)
class LocalJob:
    job: Job
    spec: LaunchSpec
    runtime: Runtime

    @property
    def name(self) -> str:
        return self.job.name


@dataclass
class Outcome:
    """How a job ended, in SageMaker's terms (``NotStarted``: the run was interrupted first)."""

    status: str  # Completed | Failed | Stopped | NotStarted
    reason: str = ""
    secondary_status: str = ""
    metrics: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    model_archive: str | None = None


class LogSink:
    """Console output shared by all jobs: whole lines, ``[job name]`` first; nothing when quiet."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def line(self, name: str, text: str) -> None:
        self.write(f"[{name}] {text}")

    def write(self, text: str) -> None:
        with self._lock:
            if self._stream is None:
                return
            try:
                self._stream.write(text + "\n")
                self._stream.flush()
            except (OSError, ValueError):  # console gone (`| head`): jobs must not block on it
                self._stream = None


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


@contextmanager
def _uninterruptible() -> Iterator[None]:
    """While stopping jobs, a second Ctrl-C must not leave them running half-stopped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Executor:
    def __init__(self, max_parallel: int, sink: LogSink, kill_grace: float | None = None) -> None:
        if max_parallel < 1:
            raise ValueError(f"max_parallel must be at least 1, not {max_parallel}")
        self.max_parallel = max_parallel
        self.sink = sink
        self.kill_grace = KILL_GRACE_S if kill_grace is None else kill_grace
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._running: dict[str, tuple[subprocess.Popen[str], LocalJob]] = {}
        self._stopped: set[str] = set()

    def run(self, jobs: list[LocalJob]) -> tuple[dict[str, Outcome], bool]:
        """Outcomes by job name, and whether the run was interrupted (Ctrl-C / SIGTERM)."""
        outcomes: dict[str, Outcome] = {}
        pool = ThreadPoolExecutor(max_workers=self.max_parallel, thread_name_prefix="runtool-local")
        futures: dict[Future[Outcome], LocalJob] = {pool.submit(self._guarded, job): job for job in jobs}
        interrupted = False
        try:
            for future in as_completed(futures):
                outcomes[futures[future].name] = future.result()
        except KeyboardInterrupt:
            interrupted = True
            with _uninterruptible():
                self.sink.write("interrupted: stopping running jobs")
                self.cancel()
                pool.shutdown(wait=True, cancel_futures=True)
            for future, job in futures.items():
                outcomes[job.name] = Outcome("NotStarted", "interrupted before the job started") if future.cancelled() else future.result()
        finally:
            pool.shutdown(wait=True)
        return outcomes, interrupted

    def cancel(self) -> None:
        """Start no more jobs; stop the running ones and wait until they are gone."""
        with self._lock:
            self._cancelled.set()
            running = [(proc, job) for proc, job in self._running.values() if proc.poll() is None]
            self._stopped.update(job.name for _, job in running)
        self._stop(running)

    def _stop(self, running: list[tuple[subprocess.Popen[str], LocalJob]]) -> None:
        for proc, job in running:
            job.runtime.stop(job.spec)
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.kill_grace
        for proc, _ in running:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait()

    def _guarded(self, job: LocalJob) -> Outcome:
        """One job's bug (ours) fails that job, not the run."""
        try:
            return self._run_one(job)
        except Exception as exc:  # noqa: BLE001
            self.sink.line(job.name, traceback.format_exc().rstrip())
            return Outcome("Failed", f"InternalError: runtool-iac local: {type(exc).__name__}: {exc}", "Failed")

    def _prepare(self, job: LocalJob) -> None:
        paths = job.spec.paths
        contract.create(paths, job.job.request)
        if job.runtime.links_data:
            for channel, source in job.spec.sources.items():
                channels.stage(source, paths.channel(channel))

    def _run_one(self, job: LocalJob) -> Outcome:
        if self._cancelled.is_set():
            return Outcome("NotStarted", "interrupted before the job started")
        paths = job.spec.paths
        try:
            self._prepare(job)
        except OSError as exc:
            return Outcome("Failed", f"ClientError: cannot prepare the job folder: {exc}", "Failed")
        request = job.job.request
        scraper = MetricScraper(request["AlgorithmSpecification"].get("MetricDefinitions", []))
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        argv = job.runtime.argv(job.spec)
        with paths.logs.open("w", encoding="utf-8") as log:
            with self._lock:  # registered before a concurrent cancel() can miss it
                if self._cancelled.is_set():
                    return Outcome("NotStarted", "interrupted before the job started")
                started = time.monotonic()
                try:
                    proc = subprocess.Popen(
                        argv,
                        cwd=job.runtime.cwd(),
                        env=job.runtime.environment(job.spec),
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                        text=True,
                        errors="replace",
                        bufsize=1,
                    )
                except OSError as exc:
                    return Outcome("Failed", f"AlgorithmError: cannot start {argv[0]}: {exc}", "Failed")
                self._running[job.name] = (proc, job)
            self.sink.line(job.name, f"started: {job.runtime.describe()}")
            reader = threading.Thread(target=self._pump, args=(proc.stdout, job.name, log, scraper, tail), daemon=True)
            reader.start()
            max_runtime = request["StoppingCondition"]["MaxRuntimeInSeconds"]
            timed_out = False
            try:
                code = proc.wait(timeout=max_runtime)
            except subprocess.TimeoutExpired:
                timed_out = True
                self._stop([(proc, job)])
                code = proc.wait()
            _signal_group(proc.pid, signal.SIGKILL)  # what the job left behind ends with it
            reader.join(self.kill_grace)
            with self._lock:
                del self._running[job.name]
                stopped = job.name in self._stopped
        outcome = self._judge(job, code, timed_out, stopped, list(tail), max_runtime)
        outcome.seconds = time.monotonic() - started
        outcome.metrics = scraper.final_metric_data()
        detail = " ".join(f"{m['MetricName']}={m['Value']:g}" for m in outcome.metrics) or outcome.reason
        self.sink.line(job.name, f"{outcome.status} in {outcome.seconds:.1f} s" + (f": {detail}" if detail else ""))
        return outcome

    def _pump(self, stream: IO[str], name: str, log: TextIO, scraper: MetricScraper, tail: deque[str]) -> None:
        try:
            for raw in stream:
                line = raw.rstrip("\r\n")
                log.write(line + "\n")
                log.flush()
                scraper.feed(line)
                tail.append(line)
                self.sink.line(name, line)
        except (ValueError, OSError):  # the log was closed after an unresponsive job was abandoned
            pass

    def _judge(self, job: LocalJob, code: int, timed_out: bool, stopped: bool, tail: list[str], max_runtime: int) -> Outcome:
        paths = job.spec.paths
        if timed_out:
            return Outcome(
                "Stopped", f"MaxRuntimeExceeded: the job ran longer than MaxRuntimeInSeconds ({max_runtime} s)",
                "MaxRuntimeExceeded",
            )
        if stopped:
            return Outcome("Stopped", "Stopped: the run was interrupted while the job ran", "Stopped")
        if paths.failure.is_file():
            text = paths.failure.read_text(errors="replace").strip() or "the algorithm wrote an empty output/failure"
            return Outcome("Failed", f"AlgorithmError: {text}"[:FAILURE_REASON_MAX], "Failed")
        if code != 0:
            how = f"killed by {_signal_name(-code)}" if code < 0 else f"exited with code {code}"
            last = " | ".join(line for line in tail if line.strip()) or "no output"
            return Outcome("Failed", f"AlgorithmError: {how}; last log lines: {last}"[:FAILURE_REASON_MAX], "Failed")
        return Outcome("Completed", secondary_status="Completed", model_archive=self._package(job))

    @staticmethod
    def _package(job: LocalJob) -> str:
        """``model.tar.gz`` of the model folder's contents, as SageMaker uploads it."""
        paths = job.spec.paths
        with tarfile.open(paths.model_archive, "w:gz") as archive:
            for entry in sorted(paths.model.iterdir()):
                archive.add(entry, arcname=entry.name)
        return paths.model_archive.resolve().as_uri()
