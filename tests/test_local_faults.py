"""Local mode under faults: nothing left running, nothing lost, no hang, no traceback, right exit codes.

Each test is one reproduction from issue 13 (part B, deliverable 5). Jobs are
a scripted `local:` algorithm whose hyperparameter `mode` picks the fault.
"""

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from runtool_iac import results
from runtool_iac.config import load_config
from runtool_iac.local import LocalModeError, local_run
from test_local_cancel import alive, wait_for

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")

JOB_SCRIPT = r"""
import json, os, pathlib, subprocess, sys, time
hps = json.loads(pathlib.Path(os.environ["SM_INPUT_CONFIG_DIR"], "hyperparameters.json").read_text())
mode, pids = hps["mode"], pathlib.Path(hps.get("pids", "."))
name = os.environ["TRAINING_JOB_NAME"]
model = pathlib.Path(os.environ["SM_MODEL_DIR"])

def daemon(clear_env=False):
    # double fork + setsid: the grandchild leaves the job's session and process group
    code = "import os, sys, time\nif os.fork(): sys.exit(0)\nos.setsid()\nopen(sys.argv[1], 'w').write(str(os.getpid()))\ntime.sleep(300)"
    target = pids / f"{name}.daemon"
    subprocess.run([sys.executable, "-c", code, str(target)], env={} if clear_env else None)
    while not target.exists() or not target.read_text():
        time.sleep(0.01)

if mode == "quick":
    print("done", flush=True)
elif mode == "daemon":
    daemon()
    print("left a daemon", flush=True)
elif mode == "daemon_no_env":
    daemon(clear_env=True)
elif mode == "daemon_sleep":
    daemon()
    (pids / f"{name}.job").write_text(str(os.getpid()))
    time.sleep(300)
elif mode == "catastrophic":
    print("a" * 30000 + "!", flush=True)
    print("loss=0.5", flush=True)
elif mode == "catastrophic_sleep":
    for _ in range(3):
        print("a" * 30000 + "!", flush=True)
    (pids / f"{name}.job").write_text(str(os.getpid()))
    time.sleep(300)
elif mode == "model_symlink":
    model.rmdir()
    model.symlink_to(pathlib.Path(hps["outside"]))
elif mode == "link_inside_model":
    (model / "weights.txt").write_text("42")
    (model / "secret").symlink_to(pathlib.Path(hps["outside"]) / "secret.txt")
    (model / "alias").symlink_to("weights.txt")
elif mode == "huge_failure":
    with open(pathlib.Path(os.environ["SM_OUTPUT_DIR"], "failure"), "wb") as f:
        f.write(b"out of memory in layer 3 " + b"x" * 2000)
        f.truncate(1 << 30)  # 1 GiB, sparse
    sys.exit(1)
elif mode == "failure_symlink":
    pathlib.Path(os.environ["SM_OUTPUT_DIR"], "failure").symlink_to(pathlib.Path(hps["outside"]) / "secret.txt")
    sys.exit(1)
elif mode == "failure_fifo":
    os.mkfifo(pathlib.Path(os.environ["SM_OUTPUT_DIR"], "failure"))
    sys.exit(1)
elif mode == "big_model":
    with open(model / "weights.bin", "wb") as f:
        f.truncate(int(hps["model_bytes"]))  # sparse: cheap to write, slow to gzip
    (pids / f"{name}.job").write_text(str(os.getpid()))
elif mode == "long_line":
    sys.stdout.write("loss=0.25 " + "y" * 3_000_000 + "\n")
    print("after", flush=True)
elif mode == "fail":
    sys.exit(2)
"""


def project(tmp_path: Path, modes: list[str], extra_hps: dict | None = None, algo_extra: str = "",
            metrics: dict | None = None) -> Path:
    (tmp_path / "job.py").write_text(JOB_SCRIPT)
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "x.json").write_text("{}\n")
    (tmp_path / "pids").mkdir(exist_ok=True)
    hps = {"pids": str(tmp_path / "pids"), **(extra_hps or {})}
    lines = "".join(f"    {k}: {json.dumps(v)}\n" for k, v in hps.items())
    config = tmp_path / "config.yml"
    config.write_text(
        f"""
algo:
  image: "local:python job.py"
  instance: ml.m5.large
  metrics: {json.dumps(metrics or {"loss": "loss=([0-9.]+)"})}
  hyperparameters:
    mode: {{$each: {json.dumps(modes)}}}
{lines}{algo_extra}
ds:
  path: {{train: data}}
"""
    )
    return config


def run(tmp_path: Path, modes: list[str], **kwargs) -> dict[str, results.JobResult]:
    options = {k: kwargs.pop(k) for k in ("max_parallel",) if k in kwargs}
    config = load_config(project(tmp_path, modes, **kwargs))
    found = local_run(config.algo * config.ds, output_dir="out", project_root=tmp_path, quiet=True, **options)
    return {r.algorithm.partition("mode=")[2].rstrip("]") or modes[0]: r for r in found}


def cli(tmp_path: Path, *args: str, **popen) -> subprocess.Popen:
    command = [sys.executable, "-m", "runtool_iac", "local", str(tmp_path / "config.yml"), "-e", "algo * ds",
               "--output-dir", str(tmp_path / "out"), *args]
    return subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def interrupt(proc: subprocess.Popen, ready) -> tuple[str, str, int, float]:
    """Ctrl-C once ``ready()``: stdout, stderr, exit code, and seconds from the signal to the exit."""
    try:
        assert wait_for(ready, 30), "the run never reached the point to interrupt"
        time.sleep(0.3)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=20)
        return stdout, stderr, proc.returncode, time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()


def pids_in(folder: Path, suffix: str) -> list[int]:
    return [int(p.read_text()) for p in folder.glob(f"*.{suffix}") if p.read_text()]


def job_folder(tmp_path: Path, result: results.JobResult) -> Path:
    (folder,) = (tmp_path / "out" / "experiment").glob(f"*/{result.job_name}")
    return folder


# ------------------------------------------------------------------ processes


def test_a_grandchild_that_calls_setsid_ends_with_its_job(tmp_path):
    found = run(tmp_path, ["daemon"])
    assert found["daemon"].status == "Completed", found["daemon"].failure_reason
    (daemon,) = pids_in(tmp_path / "pids", "daemon")
    assert wait_for(lambda: not alive(daemon), 2), "the job's setsid grandchild outlived the job"


def test_the_cli_also_ends_a_grandchild_that_detaches_and_clears_its_environment(tmp_path):
    project(tmp_path, ["daemon_no_env", "quick"])
    proc = cli(tmp_path, "--max-parallel", "2")
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    (daemon,) = pids_in(tmp_path / "pids", "daemon")
    assert wait_for(lambda: not alive(daemon), 2), "an orphan without the job token outlived the run"


def test_when_runtool_iac_is_killed_its_jobs_die_and_finished_results_are_on_disk(tmp_path):
    project(tmp_path, ["quick", "daemon_sleep", "fail"])
    proc = cli(tmp_path, "--max-parallel", "3")
    pids = tmp_path / "pids"
    try:
        assert wait_for(lambda: pids_in(pids, "job") and pids_in(pids, "daemon"), 30), "the sleeping job should be running"
        manifest_dir = tmp_path / "out" / "experiment" / "_results"
        assert wait_for(lambda: len([r for r in results.read_local(manifest_dir) if r.status != "Pending"]) == 2, 30)
        proc.kill()  # as the OOM killer does: no handler runs
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    doomed = pids_in(pids, "job") + pids_in(pids, "daemon")
    assert wait_for(lambda: not [p for p in doomed if alive(p)], 5), "jobs outlived runtool-iac"
    found = {r.algorithm.partition("mode=")[2].rstrip("]"): r for r in results.read_local(tmp_path / "out")}
    assert found["quick"].status == "Completed"
    assert found["fail"].status == "Failed" and "exited with code 2" in found["fail"].failure_reason
    assert found["daemon_sleep"].status == "Pending"


def test_result_files_are_one_consistent_set_while_jobs_end(tmp_path):
    found = run(tmp_path, ["quick", "fail", "daemon"], max_parallel=1)
    (folder,) = (tmp_path / "out" / "experiment" / "_results").iterdir()
    assert sorted(p.name for p in folder.iterdir()) == ["FAILED_0.json", "SUCCEEDED_0.json", "manifest.json"]
    assert sorted(r.status for r in found.values()) == ["Completed", "Completed", "Failed"]


# ------------------------------------------------------------------ metrics and Ctrl-C


def test_a_catastrophic_metric_regex_does_not_hang_the_run(tmp_path):
    started = time.monotonic()
    found = run(tmp_path, ["catastrophic"], metrics={"slow": "(a|aa)+$", "loss": "loss=([0-9.]+)"})
    assert time.monotonic() - started < 15
    assert found["catastrophic"].status == "Completed"
    assert found["catastrophic"].metrics == {"loss": 0.5}


def test_a_backtracking_regex_re2_cannot_run_gets_a_time_limit(tmp_path):
    started = time.monotonic()
    found = run(tmp_path, ["catastrophic"], metrics={"slow": "(?<=a)(a|aa)+$", "loss": "(?<=loss=)([0-9.]+)"})
    assert time.monotonic() - started < 15
    result = found["catastrophic"]
    assert result.status == "Completed", result.failure_reason
    assert result.metrics == {"loss": 0.5}  # the slow regex was dropped, not the others


def test_lookbehind_metric_regexes_still_work(tmp_path):
    found = run(tmp_path, ["quick", "long_line"], metrics={"loss": "(?<=loss=)([0-9.]+)"})
    assert found["long_line"].metrics == {"loss": 0.25}


@pytest.mark.parametrize("with_re2", [True, False], ids=["re2", "without-re2"])
def test_the_scraper_bounds_every_regex_with_or_without_re2(monkeypatch, with_re2):
    from runtool_iac.local import metrics

    if not with_re2:
        monkeypatch.setattr(metrics, "re2", None)
    dropped = []
    scraper = metrics.MetricScraper(
        [{"Name": "slow", "Regex": "(?=a)(a|aa)+$"}, {"Name": "loss", "Regex": "loss=([0-9.]+)"}], on_drop=dropped.append,
    )
    try:
        started = time.monotonic()
        scraper.feed("a" * 30000 + "!")
        scraper.feed("loss=0.5 loss=0.25")
        assert time.monotonic() - started < 5
    finally:
        scraper.close()
    assert dropped == ["(?=a)(a|aa)+$"]
    assert scraper.final_metric_data() == [{"MetricName": "loss", "Value": 0.25}]


@pytest.mark.parametrize("regex", ["loss=([0-9.]+)", r"^loss=(\S+)$", r"(?<=loss=)(\S+)", r"loss:\s*(\S*)", "[0-9.]+", r"x=([0-9.]+)?"])
def test_batched_scraping_finds_the_last_number_as_line_by_line_python_re_does(regex):
    """Scraping in batches (one RE2 call per halving) must equal SageMaker's rule applied line by line."""
    import random
    import re

    from runtool_iac.local import metrics

    rng = random.Random(regex)
    words = ["loss=0.5", "loss=oops", "loss=", "loss: 7", "loss:", "x=", "x=1.5", "abc", "", "loss=1e-3", "2.5", "loss=\t9"]
    for _ in range(30):
        lines = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 4))) for _ in range(rng.randint(0, 300))]
        expected = None
        pattern = re.compile(regex)
        for line in lines:
            for match in pattern.finditer(line):
                try:
                    expected = float(match.group(1) if pattern.groups else match.group(0))
                except (TypeError, ValueError):
                    pass
        scraper = metrics.MetricScraper([{"Name": "m", "Regex": regex}])
        for line in lines:
            scraper.feed(line)
        found = scraper.final_metric_data()
        scraper.close()
        assert found == ([] if expected is None else [{"MetricName": "m", "Value": expected}]), lines


def test_a_regex_neither_engine_compiles_is_a_clear_error():
    """Configs are checked at load time; this guards requests built another way (a Plan from elsewhere)."""
    from runtool_iac.local import metrics

    with pytest.raises(metrics.InvalidMetricRegex, match=r"metric 'bad': invalid regex '\(\[0-9\]'"):
        metrics.MetricScraper([{"Name": "bad", "Regex": "([0-9]"}])


def test_ctrl_c_stops_a_run_within_two_seconds_even_while_scraping_a_hostile_regex(tmp_path):
    project(tmp_path, ["catastrophic_sleep"], metrics={"slow": "(a|aa)+$"})
    stdout, stderr, code, elapsed = interrupt(cli(tmp_path), lambda: pids_in(tmp_path / "pids", "job"))
    assert code == 130, stderr
    assert elapsed < 2.0, elapsed
    assert "Traceback" not in stderr
    assert not [p for p in pids_in(tmp_path / "pids", "job") if alive(p)]


# ------------------------------------------------------------------ model packaging and failure files


def test_a_model_folder_replaced_by_a_symlink_is_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s3cr3t")
    found = run(tmp_path, ["model_symlink"], extra_hps={"outside": str(outside)})
    result = found["model_symlink"]
    assert result.status == "Failed"
    assert "replaced by a symbolic link" in result.failure_reason
    assert not (job_folder(tmp_path, result) / "model.tar.gz").exists()


def test_links_out_of_the_model_folder_are_left_out_of_the_archive(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s3cr3t")
    result = run(tmp_path, ["link_inside_model"], extra_hps={"outside": str(outside)})["link_inside_model"]
    assert result.status == "Completed", result.failure_reason
    with tarfile.open(job_folder(tmp_path, result) / "model.tar.gz") as archive:
        assert sorted(archive.getnames()) == ["alias", "weights.txt"]
        assert archive.getmember("alias").issym()
        assert b"s3cr3t" not in b"".join(archive.extractfile(m).read() for m in archive.getmembers() if m.isreg())


def test_a_1_gib_failure_file_is_read_only_up_to_the_reason_limit(tmp_path):
    started = time.monotonic()
    result = run(tmp_path, ["huge_failure"])["huge_failure"]
    assert time.monotonic() - started < 10
    assert result.status == "Failed"
    assert result.failure_reason.startswith("AlgorithmError: out of memory in layer 3 xxx")
    assert len(result.failure_reason) == 1024


def test_failure_files_that_are_links_or_fifos_are_not_read(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s3cr3t")
    found = run(tmp_path, ["failure_symlink", "failure_fifo"], extra_hps={"outside": str(outside)}, max_parallel=2)
    assert found["failure_symlink"].status == "Failed"
    assert "s3cr3t" not in found["failure_symlink"].failure_reason
    assert "symbolic link" in found["failure_symlink"].failure_reason
    assert found["failure_fifo"].failure_reason == "AlgorithmError: output/failure is not a regular file (not read)"


def test_packaging_is_bounded_by_max_runtime(tmp_path):
    started = time.monotonic()
    found = run(tmp_path, ["big_model"], extra_hps={"model_bytes": 64 << 30},
                algo_extra="  $sagemaker.StoppingCondition.MaxRuntimeInSeconds: 2")
    assert time.monotonic() - started < 8
    result = found["big_model"]
    assert result.status == "Stopped"
    assert result.failure_reason == "MaxRuntimeExceeded: the job ran longer than MaxRuntimeInSeconds (2 s) (packaging the model)"
    folder = job_folder(tmp_path, result)
    assert not (folder / "model.tar.gz").exists() and not list(folder.glob("*.partial"))


def test_ctrl_c_during_packaging_stops_within_two_seconds(tmp_path):
    project(tmp_path, ["big_model"], extra_hps={"model_bytes": 64 << 30})
    stdout, stderr, code, elapsed = interrupt(cli(tmp_path), lambda: list((tmp_path / "out").glob("experiment/*/*/model.tar.gz.partial")))
    assert code == 130, stderr
    assert elapsed < 2.0, elapsed
    assert "1 jobs (Stopped: 1)" in stdout


def test_a_very_long_log_line_is_logged_whole_and_shown_shortened(tmp_path):
    result = run(tmp_path, ["long_line"])["long_line"]
    assert result.status == "Completed", result.failure_reason
    assert result.metrics == {"loss": 0.25}
    log = (job_folder(tmp_path, result) / "logs.txt").read_text().splitlines()
    assert [len(line) for line in log] == [3_000_010, 5]


def test_a_full_disk_while_jobs_end_does_not_stop_the_run_and_the_final_write_retries(tmp_path, monkeypatch):
    import errno

    written = []
    real = results.write_result_files

    def full_disk_sometimes(folder, entries, generation=0):
        written.append(generation)
        if generation not in (0, 1):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(folder, entries, generation)

    monkeypatch.setattr(results, "write_result_files", full_disk_sometimes)
    found = run(tmp_path, ["quick", "fail"], max_parallel=1)
    assert sorted(r.status for r in found.values()) == ["Completed", "Failed"]
    assert written == [1, 2, 3, 0]


def test_a_failing_final_write_is_a_local_mode_error(tmp_path, monkeypatch):
    real = results.write_result_files

    def full_disk_at_the_end(folder, entries, generation=0):
        if generation == 0:
            raise OSError(28, "No space left on device")
        return real(folder, entries, generation)

    monkeypatch.setattr(results, "write_result_files", full_disk_at_the_end)
    with pytest.raises(LocalModeError, match="cannot write results into .*: No space left on device; the job folders are kept"):
        run(tmp_path, ["quick"])


# ------------------------------------------------------------------ CLI


def test_an_unwritable_output_dir_is_a_clean_error(tmp_path):
    project(tmp_path, ["quick"])
    (tmp_path / "a-file").write_text("")
    for target in (tmp_path / "a-file" / "out", Path("/proc/runtool-iac-test")):
        proc = subprocess.run(
            [sys.executable, "-m", "runtool_iac", "local", str(tmp_path / "config.yml"), "-e", "algo * ds", "--output-dir", str(target)],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        assert proc.stderr.startswith(f"error: cannot create the output folder {target}"), proc.stderr


def test_an_unwritable_output_dir_from_python_is_a_local_mode_error(tmp_path):
    config = load_config(project(tmp_path, ["quick"]))
    (tmp_path / "a-file").write_text("")
    with pytest.raises(LocalModeError, match="cannot create the output folder"):
        local_run(config.algo * config.ds, output_dir=tmp_path / "a-file" / "out", project_root=tmp_path, quiet=True)


@pytest.mark.parametrize("modes, code", [(["quick", "daemon"], 0), (["quick", "fail"], 1)])
def test_exit_code_is_the_runs_when_stdout_is_closed_early(tmp_path, modes, code):
    project(tmp_path, modes)
    command = (f"set -o pipefail; {sys.executable} -m runtool_iac local config.yml -e 'algo * ds' "
               f"--output-dir out --max-parallel 1 | head -1")
    proc = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == code, proc.stderr
    assert proc.stdout.startswith("running 2 job(s)")
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr
