"""Whole-process CLI speed, each case paired with its floor in the same run (issue 11).

Every repetition runs a case and its floor back to back (alternating which
goes first), each as a fresh process, so both see the same machine load.
Printed: medians over the repetitions, the ratio case/floor (median of the
paired ratios), the target and whether it is met, and peak RSS.

    python benchmarks/cli_speed.py               # all cases, 7 repetitions
    python benchmarks/cli_speed.py -n 3 --case example-plan --case validate
    python benchmarks/cli_speed.py --memory      # also: peak RSS per job at 100k jobs
    python benchmarks/cli_speed.py --src OLD     # the runtool_iac package in OLD (e.g. `git archive` of
                                                 # an earlier commit), for before/after tables
    python benchmarks/cli_speed.py --instructions --case example-plan   # instructions executed (valgrind),
                                                 # case and floor: steady where a shared machine is not

Cases:
  example-plan  `plan --format json` of the bundled example (27 jobs)
                vs `python -c "import yaml, json"`                      target <= 1.5x
  validate      `validate` of the bundled example, same floor            target <= 1.5x
  explicit      `plan --format json` of 60 algorithms x 50 datasets written
                out (3,000 jobs, one trial $eval each), vs the same floor;
                the original runtool planned this file in 1.21 s on this
                machine (issue 11; it cannot be installed here)          target <= 0.33 x 1.21 s
  grid          `plan --format json` of a 10,000-job $each grid with a trial
                $eval (100 variants x 100 datasets), vs a process that
                parses the same YAML and writes the same JSON            target <= 1.5x
  memory        (--memory) 100,000-job grid: peak RSS / jobs             target <= 8 KB per job

Processes run with Python's default bytecode caching (PYTHONDONTWRITEBYTECODE
is dropped from their environment), after one warm-up run of each command, as
on a user's machine where the second run of a command finds its .pyc files.
Not a test (no timing assertions anywhere): results go in the README.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = [str(ROOT / "examples/forecasting/configs/datasets.yml"), str(ROOT / "examples/forecasting/configs/algorithms.yml")]
ORIGINAL_RUNTOOL_EXPLICIT_S = 1.21  # issue 11: the original runtool planning the explicit 3,000-job file
IMPORT_FLOOR = [sys.executable, "-c", "import yaml, json"]

# The floor of the grid case: what any planner must do at least. It parses the
# config with the same PyYAML loader, holds the plan's requests in memory and
# writes them with the same one-request-per-line encoding.
WRITE_FLOOR = r"""
import json, sys, yaml
loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
yaml.load(open(sys.argv[1], encoding="utf-8").read(), Loader=loader)
requests = json.loads(open(sys.argv[2], encoding="utf-8").read())
items = ",\n".join(json.dumps(r, ensure_ascii=False, separators=(", ", ": ")) for r in requests)
sys.stdout.write(f"[\n{items}\n]\n")
"""


def cli() -> list[str]:
    script = Path(sys.executable).with_name("runtool-iac")
    if script.exists():
        return [str(script)]
    found = shutil.which("runtool-iac")
    return [found] if found else [sys.executable, "-m", "runtool_iac"]


def explicit_config(algorithms: int = 60, datasets: int = 50) -> str:
    """Algorithms and datasets written out one by one, each algorithm with one trial $eval."""
    lines = []
    for i in range(algorithms):
        lines += [
            f"algo{i}:",
            f"  image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/algo{i % 7}:1",
            "  instance: ml.m5.xlarge",
            "  hyperparameters:",
            f"    seed: {i}",
            "    epochs: 10",
            "    prediction_length: {$eval: $trial.dataset.meta.prediction_length}",
        ]
    lines += _datasets(datasets)
    lines.append("algos: [" + ", ".join(f"{{$ref: algo{i}}}" for i in range(algorithms)) + "]")
    lines.append("datasets: [" + ", ".join(f"{{$ref: ds{d}}}" for d in range(datasets)) + "]")
    return "\n".join(lines) + "\n"


def grid_config(variants: int = 100, datasets: int = 100) -> str:
    """One algorithm with a `variants`-way $each grid and a trial $eval, times `datasets` datasets."""
    a = 10 if variants % 10 == 0 else 1
    b = variants // a
    lines = [
        "algo:",
        "  image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/algo:1",
        "  instance: ml.m5.xlarge",
        "  metrics: {loss: 'loss=([0-9.]+)'}",
        "  hyperparameters:",
        f"    lr: {{$each: {[round(0.001 * (i + 1), 6) for i in range(a)]}}}",
        f"    layers: {{$each: {list(range(1, b + 1))}}}",
        "    prediction_length: {$eval: $trial.dataset.meta.prediction_length}",
    ]
    lines += _datasets(datasets)
    lines.append("datasets: [" + ", ".join(f"{{$ref: ds{d}}}" for d in range(datasets)) + "]")
    return "\n".join(lines) + "\n"


def _datasets(n: int) -> list[str]:
    lines = []
    for d in range(n):
        lines += [
            f"ds{d}:",
            f"  path: {{train: 's3://bucket/data/d{d}/train/', test: 's3://bucket/data/d{d}/test/'}}",
            f"  meta: {{freq: D, prediction_length: {d % 30 + 1}}}",
        ]
    return lines


@dataclass
class Run:
    seconds: float  # wall
    cpu_seconds: float  # user + system: less sensitive to other load on the machine
    peak_rss_kb: int


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
CASE_ENV = dict(ENV)  # --src puts another runtool_iac first on the path of the measured commands


def run(argv: list[str], out: Path, env: dict | None = None) -> Run:
    """One whole process, stdout to ``out``; wall time, CPU time and peak RSS (from wait4)."""
    with open(out, "wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=sink, cwd=ROOT, env=env or ENV)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"failed ({process.returncode}): {' '.join(argv)}")
    return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)


@dataclass
class Case:
    name: str
    what: str
    argv: list[str]
    floor: list[str]
    floor_what: str
    target: str
    reference_s: float | None = None  # a fixed peer time (the original runtool)
    max_ratio: float | None = None  # vs the floor
    max_reference_ratio: float | None = None  # vs reference_s


def cases(tmp: Path) -> list[Case]:
    explicit = tmp / "explicit.yml"
    explicit.write_text(explicit_config())
    grid = tmp / "grid.yml"
    grid.write_text(grid_config())
    grid_plan = tmp / "grid.plan.json"
    grid_argv = [*cli(), "plan", str(grid), "-e", "algo * datasets", "--format", "json"]
    run(grid_argv, grid_plan, CASE_ENV)  # the floor writes exactly this JSON
    return [
        Case(
            "example-plan", "plan --format json, bundled example (27 jobs)",
            [*cli(), "plan", *EXAMPLE, "-e", "algorithms * datasets", "--runs", "3", "--format", "json"],
            IMPORT_FLOOR, 'python -c "import yaml, json"', "<= 1.5x floor", max_ratio=1.5,
        ),
        Case(
            "validate", "validate, bundled example",
            [*cli(), "validate", *EXAMPLE],
            IMPORT_FLOOR, 'python -c "import yaml, json"', "<= 1.5x floor", max_ratio=1.5,
        ),
        Case(
            "explicit", "plan --format json, 60 algorithms x 50 datasets written out (3,000 jobs)",
            [*cli(), "plan", str(explicit), "-e", "algos * datasets", "--format", "json"],
            IMPORT_FLOOR, 'python -c "import yaml, json"', f"<= 0.33x original ({ORIGINAL_RUNTOOL_EXPLICIT_S} s)",
            reference_s=ORIGINAL_RUNTOOL_EXPLICIT_S, max_reference_ratio=0.33,
        ),
        Case(
            "grid", "plan --format json, $each grid 100 variants x 100 datasets (10,000 jobs)",
            grid_argv,
            [sys.executable, "-c", WRITE_FLOOR, str(grid), str(grid_plan)], "parse YAML + write the same JSON",
            "<= 1.5x floor", max_ratio=1.5,
        ),
    ]


def measure(case: Case, repetitions: int, tmp: Path) -> dict:
    times, floors, ratios, rss, cpu, cpu_floor = [], [], [], [], [], []
    run(case.argv, tmp / f"{case.name}.warmup.out", CASE_ENV)
    for i in range(repetitions):
        order = [("case", case.argv), ("floor", case.floor)]
        if i % 2:
            order.reverse()
        result = {}
        for role, argv in order:
            result[role] = run(argv, tmp / f"{case.name}.{role}.out", CASE_ENV if role == "case" else ENV)
        times.append(result["case"].seconds)
        floors.append(result["floor"].seconds)
        ratios.append(result["case"].seconds / result["floor"].seconds)
        rss.append(result["case"].peak_rss_kb)
        cpu.append(result["case"].cpu_seconds)
        cpu_floor.append(result["floor"].cpu_seconds)
    median = statistics.median(times)
    ratio = statistics.median(ratios)
    ok = (case.max_ratio is None or ratio <= case.max_ratio) and (
        case.max_reference_ratio is None or median / case.reference_s <= case.max_reference_ratio
    )
    return {
        "case": case.name,
        "what": case.what,
        "median_s": median,
        "floor_s": statistics.median(floors),
        "floor_what": case.floor_what,
        "ratio": ratio,
        "reference_ratio": median / case.reference_s if case.reference_s else None,
        "target": case.target,
        "met": ok,
        "peak_rss_mb": max(rss) / 1024,
        "cpu_s": statistics.median(cpu),
        "cpu_floor_s": statistics.median(cpu_floor),
    }


def memory(jobs: int, tmp: Path) -> dict:
    """Peak RSS of `plan --format json` of a `jobs`-job grid, per job (the whole process, JSON text included)."""
    config = tmp / f"grid{jobs}.yml"
    config.write_text(grid_config(variants=jobs // 100, datasets=100))
    result = run([*cli(), "plan", str(config), "-e", "algo * datasets", "--format", "json"], tmp / "memory.out", CASE_ENV)
    size = (tmp / "memory.out").stat().st_size
    return {"jobs": jobs, "seconds": result.seconds, "peak_rss_mb": result.peak_rss_kb / 1024,
            "kb_per_job": result.peak_rss_kb / jobs, "json_mb": size / 1e6, "met": result.peak_rss_kb / jobs <= 8}


def instructions(argv: list[str], out: Path, env: dict) -> int:
    """Instructions the process executes (valgrind's callgrind): the same on every run, however
    loaded the machine is, so small changes show where wall times only wobble."""
    with open(out, "wb") as sink:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
            stdout=sink, stderr=subprocess.PIPE, cwd=ROOT, env={**env, "PYTHONHASHSEED": "0"}, check=True,
        )
    return int(re.search(rb"Collected : (\d+)", done.stderr).group(1))


def measure_instructions(case: Case, tmp: Path) -> str:
    run(case.argv, tmp / f"{case.name}.warmup.out", CASE_ENV)  # .pyc files written before counting
    n = instructions(case.argv, tmp / f"{case.name}.case.out", CASE_ENV)
    floor = instructions(case.floor, tmp / f"{case.name}.floor.out", ENV)
    return f"{case.name}: {n / 1e6:,.0f} M instructions, floor {floor / 1e6:,.0f} M, ratio {n / floor:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--repetitions", type=int, default=7)
    parser.add_argument("--case", action="append", help="run only these cases (repeatable)")
    parser.add_argument("--memory", action="store_true", help="also measure peak RSS per job at 100,000 jobs")
    parser.add_argument("--src", type=Path, help="measure the runtool_iac package in this folder instead")
    parser.add_argument("--instructions", action="store_true", help="count instructions (valgrind) instead of timing")
    args = parser.parse_args()
    if args.src:
        CASE_ENV["PYTHONPATH"] = str(args.src.resolve())
    if args.instructions:
        with tempfile.TemporaryDirectory() as name:
            for case in cases(Path(name)):
                if not args.case or case.name in args.case:
                    print(measure_instructions(case, Path(name)), flush=True)
        return
    rows = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for case in cases(tmp):
            if args.case and case.name not in args.case:
                continue
            rows.append(measure(case, args.repetitions, tmp))
            r = rows[-1]
            print(f"{r['case']}: {r['median_s']:.3f} s, floor {r['floor_s']:.3f} s, ratio {r['ratio']:.2f}", flush=True)
        mem = memory(100_000, tmp) if args.memory else None
    print()
    load = os.getloadavg()[0]
    print(f"Medians of {args.repetitions} paired runs (python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {load:.1f}):")
    print()
    print("| case | what | median s | floor | floor s | ratio | target | met | CPU s (floor) | peak RSS MB |")
    print("|---|---|---:|---|---:|---:|---|---|---:|---:|")
    for r in rows:
        ratio = f"{r['ratio']:.2f}x" + (f" ({r['reference_ratio']:.2f}x original)" if r["reference_ratio"] else "")
        print(
            f"| {r['case']} | {r['what']} | {r['median_s']:.3f} | {r['floor_what']} | {r['floor_s']:.3f} "
            f"| {ratio} | {r['target']} | {'yes' if r['met'] else 'NO'} | {r['cpu_s']:.3f} ({r['cpu_floor_s']:.3f}) "
            f"| {r['peak_rss_mb']:.0f} |"
        )
    if mem:
        print()
        print(
            f"memory: {mem['jobs']:,} jobs planned in {mem['seconds']:.1f} s, peak RSS {mem['peak_rss_mb']:.0f} MB "
            f"= {mem['kb_per_job']:.1f} KB per job (JSON {mem['json_mb']:.0f} MB; target <= 8 KB: "
            f"{'yes' if mem['met'] else 'NO'})"
        )


if __name__ == "__main__":
    main()
