"""Fault campaign for `runtool-iac local` (issue 13, deliverable 5): run each fault, report outcomes by class.

    python tests/campaigns/local_faults.py            # the code in this checkout
    python tests/campaigns/local_faults.py --code DIR # another checkout (e.g. before a change)
    python tests/campaigns/local_faults.py -k daemon  # only faults whose name contains "daemon"

Every fault runs the real CLI in a fresh folder with a scripted `local:`
algorithm. Outcome classes (a fault may show several): clean, orphan (a
process of the run alive after runtool-iac ended), lost-result (a job that
had finished is not in the results), hang (runtool-iac did not end within
the fault's bound), traceback, memory (runtool-iac's peak RSS over 200 MiB),
outside-file (a file from outside the job folder packed or quoted), exit-code.
Leftover processes are killed after each fault, so a failing checkout does
not leave them running. Not collected by pytest (not named test_*).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]
MARK = "RUNTOOL_CAMPAIGN_MARK"
SECRET = "s3cr3t-outside-the-job"
MEMORY_LIMIT_KIB = 200 * 1024

JOB = r"""
import json, os, pathlib, signal, subprocess, sys, time
hps = json.loads(pathlib.Path(os.environ["SM_INPUT_CONFIG_DIR"], "hyperparameters.json").read_text())
mode, pids, outside = hps["mode"], pathlib.Path(hps["pids"]), pathlib.Path(hps["outside"])
name = os.environ["TRAINING_JOB_NAME"]
model, output = pathlib.Path(os.environ["SM_MODEL_DIR"]), pathlib.Path(os.environ["SM_OUTPUT_DIR"])
(pids / f"{name}.{mode}.job").write_text(str(os.getpid()))

def spawn(code, detach=False, clear_env=False):
    # a child running code (a daemon: double fork + setsid) that records its PID
    target = pids / f"{name}.{os.urandom(4).hex()}.child"
    head = "import os, sys, time\n" + ("if os.fork(): sys.exit(0)\nos.setsid()\n" if detach else "")
    child = subprocess.Popen([sys.executable, "-c", head + f"open({str(target)!r}, 'w').write(str(os.getpid()))\n" + code],
                             env={} if clear_env else None)
    if detach:
        child.wait()
    for _ in range(500):
        if target.exists() and target.read_text():
            return
        time.sleep(0.01)

SLEEP = "time.sleep(300)"
if mode == "quick":
    print("loss=0.5", flush=True)
elif mode == "fail":
    sys.exit(3)
elif mode == "sleep":
    print("sleeping", flush=True); time.sleep(300)
elif mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN); print("ignoring SIGTERM", flush=True); time.sleep(300)
elif mode == "setsid_daemon":
    spawn(SLEEP, detach=True)
elif mode == "daemon_no_env":
    spawn(SLEEP, detach=True, clear_env=True)
elif mode == "plain_child":
    spawn(SLEEP)
elif mode == "child_ignores_sigterm":
    spawn("import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + SLEEP)
elif mode == "process_tree":
    spawn("import subprocess\nfor _ in range(5): subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n" + SLEEP)
    for _ in range(4):
        spawn(SLEEP, detach=True)
elif mode == "daemon_then_sleep":
    spawn(SLEEP, detach=True); print("daemon left", flush=True); time.sleep(300)
elif mode == "daemon_holds_stdout":
    spawn("sys.stdout.write('x\\n'); sys.stdout.flush()\n" + SLEEP, detach=True)
elif mode == "catastrophic":
    print("a" * 30000 + "!", flush=True); print("loss=0.5", flush=True)
elif mode == "catastrophic_sleep":
    print("a" * 30000 + "!", flush=True); time.sleep(300)
elif mode == "long_line":
    sys.stdout.write("loss=0.25 " + "y" * 50_000_000 + "\n"); sys.stdout.flush()
elif mode == "flood":
    for i in range(2_000_000):
        sys.stdout.write(f"step {i} loss=0.5\n")
elif mode == "non_utf8":
    sys.stdout.buffer.write(b"\xff\xfe bad bytes \xc3\x28 loss=0.5\n"); sys.stdout.flush()
elif mode == "huge_failure":
    with open(output / "failure", "wb") as f:
        f.write(b"reason "); f.truncate(1 << 30)
    sys.exit(1)
elif mode == "failure_symlink":
    (output / "failure").symlink_to(outside / "secret.txt"); sys.exit(1)
elif mode == "failure_fifo":
    os.mkfifo(output / "failure"); sys.exit(1)
elif mode == "model_symlink":
    model.rmdir(); model.symlink_to(outside)
elif mode == "model_link_inside":
    (model / "w.txt").write_text("1"); (model / "secret").symlink_to(outside / "secret.txt")
elif mode == "model_dir_link_inside":
    (model / "sub").symlink_to(outside)
elif mode == "model_is_a_file":
    model.rmdir(); model.write_text("not a folder")
elif mode == "model_removed":
    model.rmdir()
elif mode == "model_fifo":
    os.mkfifo(model / "pipe"); (model / "w.txt").write_text("1")
elif mode == "big_model":
    with open(model / "weights.bin", "wb") as f:
        f.truncate(64 << 30)
    (pids / f"{name}.packaging").write_text("1")
elif mode == "delete_job_folder":
    import shutil
    shutil.rmtree(os.environ["SAGEMAKER_BASE_DIR"])
elif mode == "logs_symlink":
    log = pathlib.Path(os.environ["SAGEMAKER_BASE_DIR"], "logs.txt")
    log.unlink(); log.symlink_to(outside / "victim.txt"); print("written after the swap", flush=True)
"""


@dataclass
class Fault:
    name: str
    modes: list[str]
    action: str = "wait"  # wait | sigint | sigterm | sighup | sigint2 | sigkill | head | devfull
    when: str = "running"  # running | packaging | completed | start
    code: int | None = 0  # expected exit code (None: not checked, e.g. SIGKILL)
    bound_s: float = 60.0  # runtool-iac must end within this (after the signal for signal actions)
    args: list[str] = field(default_factory=list)
    max_runtime: int | None = None
    completed: list[str] = field(default_factory=list)  # modes whose results must be on disk after a SIGKILL
    metrics: dict = field(default_factory=lambda: {"loss": "loss=([0-9.]+)"})
    output_dir: Callable[[Path], str] | None = None
    stdout_has: str | None = None


FAULTS = [
    Fault("setsid-grandchild-outlives-job", ["setsid_daemon"]),
    Fault("detached-grandchild-clears-env", ["daemon_no_env"]),
    Fault("background-child-left-running", ["plain_child"]),
    Fault("child-ignoring-sigterm-left-running", ["child_ignores_sigterm"]),
    Fault("process-tree-of-ten", ["process_tree"]),
    Fault("daemon-holds-the-log-pipe", ["daemon_holds_stdout"]),
    Fault("max-runtime-with-setsid-daemon", ["daemon_then_sleep"], max_runtime=1, code=1),
    Fault("max-runtime-stubborn-job", ["stubborn"], max_runtime=1, code=1),
    Fault("sigkill-runtool-iac-while-jobs-run", ["daemon_then_sleep", "sleep"], action="sigkill", code=None, args=["--max-parallel", "2"]),
    Fault("sigkill-after-jobs-completed", ["quick", "fail", "daemon_then_sleep"], action="sigkill", when="completed",
          code=None, completed=["quick", "fail"], args=["--max-parallel", "3"]),
    Fault("sigkill-while-packaging", ["big_model", "quick"], action="sigkill", when="packaging", code=None,
          completed=["quick"], args=["--max-parallel", "2"]),
    Fault("sigterm-runtool-iac", ["daemon_then_sleep", "sleep"], action="sigterm", code=130, bound_s=2.0, args=["--max-parallel", "2"]),
    Fault("sighup-runtool-iac", ["daemon_then_sleep"], action="sighup", code=130, bound_s=2.0),
    Fault("ctrl-c-stubborn-job", ["stubborn"], action="sigint", code=130, bound_s=2.0),
    Fault("ctrl-c-twice", ["stubborn", "sleep"], action="sigint2", code=130, bound_s=2.0, args=["--max-parallel", "2"]),
    Fault("ctrl-c-before-queued-jobs-start", ["sleep", "quick", "quick"], action="sigint", code=130, bound_s=2.0, args=["--max-parallel", "1"]),
    Fault("ctrl-c-while-scraping-hostile-regex", ["catastrophic_sleep"], action="sigint", code=130, bound_s=2.0,
          metrics={"slow": "(a|aa)+$"}),
    Fault("ctrl-c-during-model-packaging", ["big_model"], action="sigint", when="packaging", code=130, bound_s=2.0),
    Fault("catastrophic-metric-regex", ["catastrophic"], metrics={"slow": "(a|aa)+$", "loss": "loss=([0-9.]+)"}, bound_s=20),
    Fault("catastrophic-lookbehind-regex", ["catastrophic"], metrics={"slow": "(?<=a)(a|aa)+$"}, bound_s=20),
    Fault("50-mb-log-line", ["long_line"], bound_s=60),
    Fault("log-flood-2m-lines", ["flood"], args=["--quiet"], bound_s=120),
    Fault("non-utf8-log", ["non_utf8"]),
    Fault("1-gib-failure-file", ["huge_failure"], code=1, bound_s=20),
    Fault("failure-file-links-outside", ["failure_symlink"], code=1),
    Fault("failure-file-is-a-fifo", ["failure_fifo"], code=1, bound_s=20),
    Fault("model-folder-is-a-symlink-outside", ["model_symlink"], code=1),
    Fault("model-file-links-outside", ["model_link_inside"]),
    Fault("model-subfolder-links-outside", ["model_dir_link_inside"]),
    Fault("model-folder-replaced-by-a-file", ["model_is_a_file"], code=1),
    Fault("model-folder-removed", ["model_removed"]),
    Fault("fifo-inside-model", ["model_fifo"], bound_s=20),
    Fault("packaging-past-max-runtime", ["big_model"], max_runtime=2, code=1, bound_s=10),
    Fault("job-deletes-its-folder", ["delete_job_folder"], code=None),
    Fault("job-swaps-logs-for-a-symlink", ["logs_symlink"]),
    Fault("output-dir-under-a-file", ["quick"], code=1, output_dir=lambda d: str(d / "a-file" / "out")),
    Fault("output-dir-under-proc", ["quick"], code=1, output_dir=lambda d: "/proc/runtool-iac-campaign/out"),
    Fault("stdout-closed-early-success", ["quick", "quick"], action="head", code=0, args=["--max-parallel", "1"]),
    Fault("stdout-closed-early-failure", ["quick", "fail"], action="head", code=1, args=["--max-parallel", "1"]),
    Fault("stdout-is-dev-full", ["quick"], action="devfull", code=0),
]


# ------------------------------------------------------------------ observing


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _marked(mark: str) -> list[int]:
    needle = f"{MARK}={mark}".encode()
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if needle in Path(f"/proc/{name}/environ").read_bytes().split(b"\0") and _alive(int(name)):
                    found.append(int(name))
            except OSError:
                pass
    return found


def _recorded(folder: Path) -> list[int]:
    pids = []
    for path in list(folder.glob("*.job")) + list(folder.glob("*.child")):
        try:
            pids.append(int(path.read_text()))
        except (OSError, ValueError):
            pass
    return pids


def _peak_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _completed_modes(out: Path) -> dict[str, str]:
    """mode -> status, read straight from the result files (independent of the code under test)."""
    found = {}
    for manifest in out.glob("experiment/_results/*/manifest.json"):
        try:
            files = json.loads(manifest.read_text())["ResultFiles"]
            for kind, refs in files.items():
                for ref in refs:
                    for entry in json.loads((manifest.parent / Path(ref["Key"]).name).read_text()):
                        job = json.loads(entry["Input"])["job"]
                        mode = job.get("algorithm", "").partition("mode=")[2].rstrip("]")
                        found[mode] = kind
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return found


def _outside_leaked(out: Path) -> bool:
    for archive in out.rglob("model.tar.gz"):
        try:
            with tarfile.open(archive) as tar:
                for member in tar.getmembers():
                    if member.isreg() and SECRET.encode() in tar.extractfile(member).read():
                        return True
        except (OSError, EOFError, tarfile.TarError):  # a half-written archive (runtool-iac killed while packaging)
            pass
    return any(SECRET in p.read_text(errors="replace") for p in out.rglob("*.json") if p.is_file())


# ------------------------------------------------------------------ running


def _project(folder: Path, fault: Fault) -> None:
    (folder / "job.py").write_text(JOB)
    (folder / "data").mkdir()
    (folder / "data" / "x.json").write_text("{}\n")
    (folder / "pids").mkdir()
    (folder / "outside").mkdir()
    (folder / "outside" / "secret.txt").write_text(SECRET)
    (folder / "outside" / "victim.txt").write_text("untouched\n")
    (folder / "a-file").write_text("")
    extra = f"  $sagemaker.StoppingCondition.MaxRuntimeInSeconds: {fault.max_runtime}\n" if fault.max_runtime else ""
    (folder / "config.yml").write_text(
        f"""
algo:
  image: "local:python job.py"
  instance: ml.m5.large
  metrics: {json.dumps(fault.metrics)}
  hyperparameters:
    mode: {{$each: {json.dumps(fault.modes)}}}
    pids: {json.dumps(str(folder / "pids"))}
    outside: {json.dumps(str(folder / "outside"))}
{extra}
ds:
  path: {{train: data}}
"""
    )


def run_fault(fault: Fault, code_dir: Path) -> tuple[list[str], str]:
    folder = Path(tempfile.mkdtemp(prefix=f"campaign-{fault.name[:20]}-"))
    _project(folder, fault)
    mark = uuid.uuid4().hex
    env = {**os.environ, MARK: mark, "PYTHONPATH": str(code_dir)}
    out = folder / "out"
    target = fault.output_dir(folder) if fault.output_dir else str(out)
    command = [sys.executable, "-m", "runtool_iac", "local", "config.yml", "-e", "algo * ds", "--output-dir", target, *fault.args]
    stdout_target: object = open(folder / "stdout.txt", "w")  # read by nobody while it runs: a file, not a pipe
    if fault.action == "head":
        command = ["bash", "-c", "set -o pipefail; " + " ".join(f"'{c}'" for c in command) + " | head -1"]
    if fault.action == "head":
        stdout_target = subprocess.PIPE
    if fault.action == "devfull":
        stdout_target = open("/dev/full", "w")
    proc = subprocess.Popen(command, cwd=folder, env=env, stdout=stdout_target, stderr=subprocess.PIPE, text=True, start_new_session=True)
    problems: list[str] = []
    peak = 0
    started = time.monotonic()
    signalled = None

    def ready() -> bool:
        nonlocal peak
        peak = max(peak, _peak_kib(proc.pid))
        if fault.when == "packaging":  # the job wrote its model and ended: runtool-iac is packaging it
            packer = [p for p in (folder / "pids").glob("*.big_model.job")]
            return bool(list((folder / "pids").glob("*.packaging"))) and all(not _alive(int(p.read_text() or 0)) for p in packer)
        if fault.when == "completed":  # every job started, and those in `completed` have ended
            started = list((folder / "pids").glob("*.job"))
            done = all(any(not _alive(int(p.read_text() or 0)) for p in (folder / "pids").glob(f"*.{m}.job")) for m in fault.completed)
            return len(started) == len(fault.modes) and done
        parallel = int(fault.args[fault.args.index("--max-parallel") + 1]) if "--max-parallel" in fault.args else 2
        return len(list((folder / "pids").glob("*.job"))) >= min(len(fault.modes), parallel)

    if fault.action in ("sigint", "sigterm", "sighup", "sigint2", "sigkill"):
        if not _wait_until(ready, 30):
            problems.append("hang")  # never reached the point of the fault
        else:
            time.sleep(0.3)
        peak = max(peak, _peak_kib(proc.pid))
        sig = {"sigint": signal.SIGINT, "sigint2": signal.SIGINT, "sigterm": signal.SIGTERM, "sighup": signal.SIGHUP, "sigkill": signal.SIGKILL}[fault.action]
        signalled = time.monotonic()
        proc.send_signal(sig)
        if fault.action == "sigint2":
            time.sleep(0.2)
            proc.send_signal(signal.SIGINT)
    bound = fault.bound_s
    stderr = ""
    deadline = (signalled or started) + bound
    while proc.poll() is None and time.monotonic() < deadline:
        peak = max(peak, _peak_kib(proc.pid))
        time.sleep(0.05)
    if proc.poll() is None:
        problems.append("hang")
        os.killpg(proc.pid, signal.SIGKILL)
    try:
        _, stderr = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    elapsed = time.monotonic() - (signalled or started)
    if stderr and "Traceback" in stderr:
        problems.append("traceback")
    if fault.code is not None and proc.returncode != fault.code and "hang" not in problems:
        problems.append("exit-code")
    if peak > MEMORY_LIMIT_KIB:
        problems.append("memory")
    time.sleep(1.5)  # the guard, and the kernel, get a moment
    left = set(_marked(mark)) | {p for p in _recorded(folder / "pids") if _alive(p)}
    if left:
        problems.append("orphan")
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    if fault.completed:
        have = _completed_modes(out)
        if any(have.get(m) not in ("SUCCEEDED", "FAILED") for m in fault.completed):
            problems.append("lost-result")
    if _outside_leaked(out) or (folder / "outside" / "victim.txt").read_text() != "untouched\n":
        problems.append("outside-file")
    detail = f"exit {proc.returncode}, {elapsed:.1f} s, peak {peak // 1024} MiB" + (f", {len(left)} left running" if left else "")
    last = (stderr or "").strip().splitlines()[-1:] if problems else []
    return sorted(set(problems)) or ["clean"], detail + (f" | {last[0][:120]}" if last else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose runtool_iac to run (default: this one)")
    parser.add_argument("-k", default="", help="only faults whose name contains this")
    options = parser.parse_args()
    chosen = [f for f in FAULTS if options.k in f.name]
    by_class: dict[str, int] = {}
    for fault in chosen:
        classes, detail = run_fault(fault, options.code.resolve())
        for c in classes:
            by_class[c] = by_class.get(c, 0) + 1
        print(f"{', '.join(classes):<24} {fault.name:<40} {detail}", flush=True)
    print(f"\n{len(chosen)} faults: " + ", ".join(f"{k} {v}" for k, v in sorted(by_class.items())))
    return 0 if set(by_class) <= {"clean"} else 1


if __name__ == "__main__":
    sys.exit(main())
