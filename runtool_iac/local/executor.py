"""Run prepared jobs on this machine, a few at a time, like SageMaker would.

Each job runs in its own session, and ending a job ends everything it
started (``processes``: its group, and every process carrying its token, so
also those that called ``setsid``), as SageMaker ends a whole container. A
terminal's Ctrl-C reaches only runtool-iac, which then stops every running
job itself: SIGTERM (and ``docker rm -f`` for containers), SIGKILL after
``INTERRUPT_GRACE_S``, so a run stops within 2 s and no process outlives it.
If runtool-iac is killed, its jobs die with it (``processes.Guard``), and
``on_outcome`` has already recorded every job that finished.

Per job: log lines go to ``logs.txt`` and, prefixed ``[job name]``, to the
console; metrics are scraped from them; ``MaxRuntimeInSeconds`` is enforced,
packaging the model included (the job ends Stopped, ``MaxRuntimeExceeded``);
a non-zero exit or an ``output/failure`` file makes it Failed with a reason;
other jobs go on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import IO, Callable, Iterator, TextIO

from runtool_iac.local import artifacts, channels, contract, processes
from runtool_iac.local.metrics import FALLBACK_TIMEOUT_S, InvalidMetricRegex, MetricScraper
from runtool_iac.local.runtimes import ContainerRuntime, LaunchSpec, Runtime
from runtool_iac.plan import Job

# SageMaker waits 120 s after SIGTERM at MaxRuntime; locally a shorter wait, and on Ctrl-C
# shorter still, so an interrupted run ends within 2 s.
KILL_GRACE_S = 5.0
INTERRUPT_GRACE_S = 0.75
TAIL_LINES = 5
FAILURE_REASON_MAX = 1024  # SageMaker's limit on FailureReason
# Longer log lines are split (as CloudWatch splits events at 256 KB); metrics see the first part.
LINE_LIMIT = 256 * 1024


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
                discard_stdout_if(self._stream)
                self._stream = None


def discard_stdout_if(stream: object) -> None:
    """After a write to a closed stdout failed, send the rest (and Python's flush at exit) to /dev/null.

    Otherwise the data still buffered makes the interpreter's final flush fail
    too, and the process exits 120 instead of with the run's exit code.
    """
    if stream is not sys.stdout:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


@contextmanager
def uninterruptible() -> Iterator[None]:
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


OnOutcome = Callable[[LocalJob, "Outcome"], None]


class Executor:
    def __init__(
        self, max_parallel: int, sink: LogSink, kill_grace: float | None = None, engine: str | None = None,
        subreaper: bool = False,
    ) -> None:
        """``subreaper``: also catch descendants that detach and clear their environment, as
        ``processes.Subreaper`` (for the CLI, whose process runs nothing else)."""
        if max_parallel < 1:
            raise ValueError(f"max_parallel must be at least 1, not {max_parallel}")
        self.max_parallel = max_parallel
        self.sink = sink
        self.kill_grace = KILL_GRACE_S if kill_grace is None else kill_grace
        self.engine = engine
        self.run_token = processes.new_token()
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._running: dict[str, tuple[subprocess.Popen[str], LocalJob]] = {}
        self._tokens: dict[str, str] = {}
        self._stopped: set[str] = set()
        self._guard: processes.Guard | None = None
        self._subreaper = subreaper

    def run(self, jobs: list[LocalJob], on_outcome: OnOutcome | None = None) -> tuple[dict[str, Outcome], bool]:
        """Outcomes by job name, and whether the run was interrupted (Ctrl-C / SIGTERM).

        ``on_outcome`` is called (in this thread) as each job ends, so its
        result can be on disk before the next one ends.
        """
        with processes.Subreaper() if self._subreaper else nullcontext() as reaper:
            return self._run(jobs, on_outcome, reaper)

    def _run(self, jobs: list[LocalJob], on_outcome: OnOutcome | None, reaper: processes.Subreaper | None) -> tuple[dict[str, Outcome], bool]:
        outcomes: dict[str, Outcome] = {}
        self._tokens = {job.name: processes.new_token() for job in jobs}
        self._guard = processes.Guard(self.run_token, self.engine)
        pool = ThreadPoolExecutor(max_workers=self.max_parallel, thread_name_prefix="runtool-local")
        futures: dict[Future[Outcome], LocalJob] = {pool.submit(self._guarded, job): job for job in jobs}
        interrupted = False
        try:
            for future in as_completed(futures):
                job = futures[future]
                outcomes[job.name] = future.result()
                if on_outcome:
                    on_outcome(job, outcomes[job.name])
        except KeyboardInterrupt:
            interrupted = True
            with uninterruptible():
                self.sink.write("interrupted: stopping running jobs")
                self.cancel()
                pool.shutdown(wait=True, cancel_futures=True)
            for future, job in futures.items():
                outcomes[job.name] = Outcome("NotStarted", "interrupted before the job started") if future.cancelled() else future.result()
        finally:
            with uninterruptible():
                self.cancel()  # after a bug of ours too: nothing outlives the run
                pool.shutdown(wait=True)
                if reaper:
                    reaper.end_orphans(keep={self._guard.pid} if self._guard.pid else set())
                self._guard.close()
        return outcomes, interrupted

    def cancel(self) -> None:
        """Start no more jobs; stop the running ones and wait until they are gone."""
        with self._lock:
            self._cancelled.set()
            running = [(proc, job) for proc, job in self._running.values() if proc.poll() is None]
            self._stopped.update(job.name for _, job in running)
        self._stop(running, INTERRUPT_GRACE_S)

    def _stop(self, running: list[tuple[subprocess.Popen[str], LocalJob]], grace: float) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds, to every process of each job (containers removed)."""
        stoppers = [threading.Thread(target=job.runtime.stop, args=(job.spec,), daemon=True) for _, job in running]
        for thread in stoppers:
            thread.start()
        for proc, job in running:
            processes.signal_job(proc.pid, self._tokens[job.name], signal.SIGTERM, alive_root=proc.pid)
        deadline = time.monotonic() + grace
        for proc, job in running:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                processes.signal_job(proc.pid, self._tokens[job.name], signal.SIGKILL, alive_root=proc.pid)
                proc.wait()
            processes.end_job(proc.pid, self._tokens[job.name])
        for thread in stoppers:  # `docker rm -f` has its own timeout; a container must not be left running
            thread.join()

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
        try:
            scraper = MetricScraper(
                request["AlgorithmSpecification"].get("MetricDefinitions", []),
                on_drop=lambda regex: self.sink.line(
                    job.name, f"metric regex {regex!r} took over {FALLBACK_TIMEOUT_S:g} s on a log line; no longer scraped",
                ),
            )
        except InvalidMetricRegex as exc:
            return Outcome("Failed", f"ClientError: {exc}"[:FAILURE_REASON_MAX], "Failed")
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        argv = job.runtime.argv(job.spec)
        token = self._tokens[job.name]
        env = {**job.runtime.environment(job.spec), processes.RUN_VARIABLE: self.run_token, processes.JOB_VARIABLE: token}
        try:
            with paths.logs.open("w", encoding="utf-8") as log:
                with self._lock:  # registered before a concurrent cancel() can miss it
                    if self._cancelled.is_set():
                        return Outcome("NotStarted", "interrupted before the job started")
                    started = time.monotonic()
                    try:
                        proc = subprocess.Popen(
                            argv,
                            cwd=job.runtime.cwd(),
                            env=env,
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT,
                            start_new_session=True,
                            preexec_fn=processes.die_with_parent,
                            text=True,
                            errors="replace",
                            bufsize=1,
                        )
                    except OSError as exc:
                        return Outcome("Failed", f"AlgorithmError: cannot start {argv[0]}: {exc}", "Failed")
                    self._running[job.name] = (proc, job)
                if isinstance(job.runtime, ContainerRuntime) and self._guard:
                    self._guard.watch_container(job.spec.container_name)
                self.sink.line(job.name, f"started: {job.runtime.describe()}")
                reader = threading.Thread(target=self._pump, args=(proc.stdout, job.name, log, scraper, tail), daemon=True)
                reader.start()
                max_runtime = request["StoppingCondition"]["MaxRuntimeInSeconds"]
                timed_out = False
                try:
                    code = proc.wait(timeout=max_runtime)
                except subprocess.TimeoutExpired:
                    timed_out = True
                    self._stop([(proc, job)], self.kill_grace)
                    code = proc.wait()
                processes.end_job(proc.pid, token)  # what the job left behind ends with it
                reader.join(self.kill_grace)
                with self._lock:
                    del self._running[job.name]
                    stopped = job.name in self._stopped
        finally:
            scraper.close()
        outcome = self._judge(job, code, timed_out, stopped, list(tail), max_runtime, deadline=started + max_runtime)
        outcome.seconds = time.monotonic() - started
        outcome.metrics = scraper.final_metric_data()
        detail = " ".join(f"{m['MetricName']}={m['Value']:g}" for m in outcome.metrics) or outcome.reason
        self.sink.line(job.name, f"{outcome.status} in {outcome.seconds:.1f} s" + (f": {detail}" if detail else ""))
        return outcome

    def _pump(self, stream: IO[str], name: str, log: TextIO, scraper: MetricScraper, tail: deque[str]) -> None:
        """Log lines to the log file, the console and the metric scraper, holding at most LINE_LIMIT characters."""
        continued = False  # inside a line longer than LINE_LIMIT: the rest only goes to the log
        try:
            while chunk := stream.readline(LINE_LIMIT):
                complete = chunk.endswith("\n")
                line = chunk.rstrip("\r\n")
                log.write(line + ("\n" if complete else ""))
                log.flush()
                if not continued:
                    scraper.feed(line)
                    tail.append(line)
                    self.sink.line(name, line if complete else line + f" [line longer than {LINE_LIMIT} characters; the rest is in logs.txt]")
                continued = not complete
        except (ValueError, OSError):  # the log was closed after an unresponsive job was abandoned
            pass

    def _judge(
        self, job: LocalJob, code: int, timed_out: bool, stopped: bool, tail: list[str], max_runtime: int, deadline: float,
    ) -> Outcome:
        paths = job.spec.paths
        if timed_out:
            return _max_runtime_exceeded(max_runtime)
        if stopped:
            return _interrupted()
        failure = artifacts.read_failure(paths.failure)
        if failure is not None:
            text = failure.strip() or "the algorithm wrote an empty output/failure"
            return Outcome("Failed", f"AlgorithmError: {text}"[:FAILURE_REASON_MAX], "Failed")
        if code != 0:
            how = f"killed by {_signal_name(-code)}" if code < 0 else f"exited with code {code}"
            last = " | ".join(line for line in tail if line.strip()) or "no output"
            return Outcome("Failed", f"AlgorithmError: {how}; last log lines: {last}"[:FAILURE_REASON_MAX], "Failed")
        return self._package(job, max_runtime, deadline)

    def _package(self, job: LocalJob, max_runtime: int, deadline: float) -> Outcome:
        """``model.tar.gz`` of the model folder's contents, as SageMaker uploads it, within MaxRuntime."""
        paths = job.spec.paths

        def should_stop() -> str | None:
            if self._cancelled.is_set():
                return "interrupted"
            return "max runtime" if time.monotonic() > deadline else None

        try:
            left_out = artifacts.package(paths.model, paths.model_archive, should_stop)
        except artifacts.PackagingStopped as stop:
            return _interrupted() if str(stop) == "interrupted" else _max_runtime_exceeded(max_runtime, " (packaging the model)")
        except artifacts.ModelFolderError as exc:
            return Outcome("Failed", f"AlgorithmError: {exc}"[:FAILURE_REASON_MAX], "Failed")
        except OSError as exc:
            return Outcome("Failed", f"InternalError: cannot write model.tar.gz: {exc}"[:FAILURE_REASON_MAX], "Failed")
        for entry in left_out:
            self.sink.line(job.name, f"model.tar.gz: left out {entry}")
        return Outcome("Completed", secondary_status="Completed", model_archive=paths.model_archive.resolve().as_uri())


def _max_runtime_exceeded(max_runtime: int, during: str = "") -> Outcome:
    return Outcome(
        "Stopped", f"MaxRuntimeExceeded: the job ran longer than MaxRuntimeInSeconds ({max_runtime} s){during}",
        "MaxRuntimeExceeded",
    )


def _interrupted() -> Outcome:
    return Outcome("Stopped", "Stopped: the run was interrupted while the job ran", "Stopped")
