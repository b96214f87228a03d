"""Every process a job starts ends with the job, and with runtool-iac.

A job's own process group is not enough: a grandchild that calls ``setsid``
leaves it, and when runtool-iac itself is killed (the OOM killer, ``kill -9``)
nothing stops the jobs. So, without needing root, cgroups or namespaces:

- every job process carries two variables, ``RUNTOOL_IAC_RUN`` (one token per
  run) and ``RUNTOOL_IAC_JOB`` (one per job), which its descendants inherit;
  ending a job ends every process whose environment holds its job token, and
  every descendant of its process (read from ``/proc``), not only its group;
- the direct child gets ``PR_SET_PDEATHSIG`` (SIGKILL when runtool-iac dies),
  and a small *guard* process, in its own session, waits on a pipe from
  runtool-iac: when the pipe closes because runtool-iac died, it kills every
  process holding the run token and removes the run's containers.

A PID namespace would make the kernel do the killing, but a job would then
see its own PIDs (not the host's), run as PID 1 (which ignores SIGTERM
without a handler) and need user namespaces; a cgroup needs a writable
cgroup v2 hierarchy, which an unprivileged user or a container rarely has.
The ``runtool-iac local`` command is also the *child subreaper* of its jobs
(``PR_SET_CHILD_SUBREAPER``) while they run: a descendant that detaches *and*
clears its environment is re-parented to it, not to init, and killed when the
run ends (a child it gained during the run and did not start is such an
orphan). A library caller's process (``local_run``) is not made a subreaper,
since children its other threads start could not be told apart from orphans;
there that one case is the gap. Without
``/proc`` all this degrades to process groups.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterable

RUN_VARIABLE = "RUNTOOL_IAC_RUN"
JOB_VARIABLE = "RUNTOOL_IAC_JOB"
PROC = Path("/proc")
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37
SWEEP_ROUNDS = 20


def new_token() -> str:
    return uuid.uuid4().hex


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


_LIBC = _libc()


def die_with_parent() -> None:
    """``preexec_fn`` of a job: SIGKILL when the thread that started it (runtool-iac) dies.

    Resolved before forking (``_LIBC``), so the child only makes one system call.
    """
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Subreaper:
    """While active, orphaned descendants are re-parented to this process (Linux >= 3.4).

    ``end_orphans()`` kills and reaps the children this process has gained
    since it became a subreaper, except those it was told to keep.
    """

    def __init__(self) -> None:
        self._previous = ctypes.c_int(0)
        self.active = False
        self._before: set[int] = set()

    def __enter__(self) -> Subreaper:
        if _LIBC is not None and _LIBC.prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(self._previous), 0, 0, 0) == 0:
            self.active = _LIBC.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
        self._before = set(_children()) if self.active else set()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.active and _LIBC is not None:
            _LIBC.prctl(_PR_SET_CHILD_SUBREAPER, self._previous.value, 0, 0, 0)

    def end_orphans(self, keep: set[int]) -> None:
        """Kill and reap the new children but ``keep`` (never ``waitpid(-1)``: only these PIDs)."""
        if not self.active:
            return
        for _ in range(SWEEP_ROUNDS):
            orphans = [pid for pid in _children() if pid not in keep and pid not in self._before]
            if not orphans:
                return
            _kill(orphans, signal.SIGKILL)
            for pid in orphans:
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline:
                    try:
                        if os.waitpid(pid, os.WNOHANG)[0]:
                            break
                    except ChildProcessError:
                        break
                    time.sleep(0.005)


# ------------------------------------------------------------------ /proc


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None if it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()
    return (fields[0], int(fields[1])) if len(fields) > 1 else None


def _environ_has(pid: int, marker: bytes) -> bool:
    try:
        return marker in (PROC / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return False


def _pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir(PROC) if name.isdigit()]
    except OSError:
        return []


def marked(variable: str, token: str) -> list[int]:
    """Live processes (not this one) whose environment holds ``variable=token``."""
    marker = f"{variable}={token}".encode()
    me = os.getpid()
    return [pid for pid in _pids() if pid != me and _environ_has(pid, marker)]  # a zombie's environ reads empty


def _children() -> list[int]:
    me = os.getpid()
    return [pid for pid in _pids() if (_stat(pid) or ("", -1))[1] == me]


def descendants(root: int) -> list[int]:
    """Live descendants of ``root`` by parent links (those that left its session included)."""
    children: dict[int, list[int]] = {}
    for pid in _pids():
        found = _stat(pid)
        if found and found[0] != "Z":
            children.setdefault(found[1], []).append(pid)
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _kill(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def signal_job(pgid: int, job_token: str, sig: int, alive_root: int | None = None) -> None:
    """``sig`` to the job's process group, every process holding its token, and the descendants of
    ``alive_root`` (only while that process is not reaped: a reaped PID may belong to another process)."""
    _killpg(pgid, sig)
    _kill({*marked(JOB_VARIABLE, job_token), *(descendants(alive_root) if alive_root else ())}, sig)


def end_job(pgid: int, job_token: str) -> None:
    """SIGKILL whatever the job left behind, until nothing holding its token is left."""
    _killpg(pgid, signal.SIGKILL)
    for _ in range(SWEEP_ROUNDS):  # a process forking while we kill is caught by the next round
        found = marked(JOB_VARIABLE, job_token)
        if not found:
            return
        _kill(found, signal.SIGKILL)
        time.sleep(0.01)


# ------------------------------------------------------------------ guard

GUARD_SOURCE = r"""
import os, signal, subprocess, sys, time
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
    signal.signal(s, signal.SIG_IGN)
marker = ("%s=" + sys.argv[1]).encode()
engine = sys.argv[2]
containers = []
for line in sys.stdin.buffer:  # until runtool-iac says "done", or dies
    if line == b"done\n":
        sys.exit(0)
    if line.startswith(b"container "):
        containers.append(line[10:].strip().decode())
def marked():
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                if marker in open(f"/proc/{name}/environ", "rb").read().split(b"\0"):
                    found.append(int(name))
            except OSError:
                pass
    return found
for _ in range(50):
    pids = marked()
    if not pids:
        break
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    time.sleep(0.05)
for name in containers:
    subprocess.run([engine, "rm", "-f", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
""" % RUN_VARIABLE


class Guard:
    """A process that outlives runtool-iac just long enough to end its jobs if it dies.

    ``close()`` at the end of a run (every job already ended) lets it exit;
    if runtool-iac is killed instead, the kernel closes the pipe and the guard
    kills what holds the run token and removes the run's containers.
    """

    def __init__(self, run_token: str, engine: str | None = None) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        if not PROC.is_dir():
            return
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", GUARD_SOURCE, run_token, engine or "docker"],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, close_fds=True,
            )
        except OSError:
            self._proc = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def watch_container(self, name: str) -> None:
        if self._proc and self._proc.stdin:
            try:
                self._proc.stdin.write(f"container {name}\n".encode())
                self._proc.stdin.flush()
            except OSError:
                pass

    def close(self) -> None:
        if self._proc is None:
            return
        try:
            if self._proc.stdin:
                self._proc.stdin.write(b"done\n")
                self._proc.stdin.close()
        except OSError:
            pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
