"""Ctrl-C (or a CI cancel) during `runtool-iac local`: every job's process tree ends, results mark what did not finish."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtool_iac import results

# Each job starts a grandchild (both record their pids), then sleeps; the grandchild would outlive a careless kill.
JOB_SCRIPT = """
import os, pathlib, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
name = os.environ["TRAINING_JOB_NAME"]
pathlib.Path(sys.argv[1], name + ".pids").write_text(f"{os.getpid()} {child.pid}")
print("started", flush=True)
time.sleep(120)
"""


def alive(pid: int) -> bool:
    """Running (a zombie awaiting its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_stops_running_jobs_without_orphans_and_writes_results(tmp_path, sig):
    pids_dir = tmp_path / "pids"
    pids_dir.mkdir()
    (tmp_path / "job.py").write_text(JOB_SCRIPT)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.json").write_text("{}\n")
    (tmp_path / "config.yml").write_text(
        f"""
algo:
  image: "local:python job.py {pids_dir}"
  instance: ml.m5.large
ds:
  path: {{train: data}}
"""
    )
    out = tmp_path / "out"
    command = [sys.executable, "-m", "runtool_iac", "local", str(tmp_path / "config.yml"), "-e", "algo * ds",
               "--runs", "3", "--max-parallel", "2", "--output-dir", str(out)]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: len(list(pids_dir.glob("*.pids"))) == 2, timeout=20), "two jobs should be running"
        pids = [int(p) for f in pids_dir.glob("*.pids") for p in f.read_text().split()]
        assert len(pids) == 4 and all(alive(pid) for pid in pids)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert not [pid for pid in pids if alive(pid)], "job processes or their children outlived the run"
    assert "interrupted" in stderr
    assert "3 jobs (Aborted: 1, Stopped: 2)" in stdout

    found = results.read_local(out / "experiment" / "_results")
    assert sorted(r.status for r in found) == ["Aborted", "Stopped", "Stopped"]
    assert {r.failure_reason for r in found} == {
        "Stopped: the run was interrupted while the job ran", "Aborted: interrupted before the job started",
    }
    (results_dir,) = (out / "experiment" / "_results").iterdir()
    failed = json.loads((results_dir / "FAILED_0.json").read_text())
    assert sorted(entry["Status"] for entry in failed) == ["ABORTED", "ABORTED", "ABORTED"]
    started = [r for r in found if r.status == "Stopped"]
    for r in started:
        (job_dir,) = out.glob(f"experiment/*/{r.job_name}")
        assert (job_dir / "logs.txt").read_text() == "started\n"
