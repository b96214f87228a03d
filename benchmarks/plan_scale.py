"""How planning scales: 1k, 10k and 100k jobs, as a $each grid and as an explicit list.

Each case runs in a fresh subprocess so peak memory (ru_maxrss) is its own.
Reported: load time, plan time (requests built and validated), JSON time,
jobs per second of planning, and peak RSS. Not a test: numbers go in the README.

    python benchmarks/plan_scale.py            # all cases
    python benchmarks/plan_scale.py --quick    # 1k and 10k only
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATASETS = 10


def grid_config(jobs: int) -> str:
    """One algorithm whose two $each axes give jobs/DATASETS variants, times DATASETS datasets."""
    variants = jobs // DATASETS
    a = 10
    b = variants // a
    text = [
        "algo:",
        "  image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/algo:1",
        "  instance: ml.m5.xlarge",
        "  metrics: {loss: 'loss=([0-9.]+)'}",
        "  hyperparameters:",
        f"    lr: {{$each: {[round(0.001 * (i + 1), 6) for i in range(a)]}}}",
        f"    layers: {{$each: {list(range(1, b + 1))}}}",
        "    prediction_length: {$eval: $trial.dataset.meta.prediction_length}",
    ]
    text += _datasets()
    return "\n".join(text) + "\n"


def list_config(jobs: int) -> str:
    """jobs/DATASETS algorithms written out one by one, times DATASETS datasets."""
    n = jobs // DATASETS
    text = []
    for i in range(n):
        text += [
            f"algo{i}:",
            "  image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/algo:1",
            "  instance: ml.m5.xlarge",
            f"  hyperparameters: {{seed: {i}, epochs: 10}}",
        ]
    text.append("algos: [" + ", ".join(f"{{$ref: algo{i}}}" for i in range(n)) + "]")
    text += _datasets()
    return "\n".join(text) + "\n"


def _datasets() -> list[str]:
    lines = ["datasets:"]
    for d in range(DATASETS):
        lines += [
            f"  - path: {{train: 's3://bucket/data/d{d}/train/', test: 's3://bucket/data/d{d}/test/'}}",
            f"    meta: {{prediction_length: {d + 1}}}",
        ]
    return lines


def measure(kind: str, jobs: int) -> dict:
    """Runs inside the child process."""
    from runtool_iac import build_plan, load_config
    from runtool_iac.experiment_expr import parse_experiment

    text = grid_config(jobs) if kind == "grid" else list_config(jobs)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yml"
        path.write_text(text)
        started = time.perf_counter()
        config = load_config(path)
        loaded = time.perf_counter()
        experiment = parse_experiment("algo * datasets" if kind == "grid" else "algos * datasets", config)
        planned = build_plan(experiment, runs=1, experiment_name="bench")
        done = time.perf_counter()
        encoded = planned.to_json()
        dumped = time.perf_counter()
    assert len(planned) == jobs, (len(planned), jobs)
    return {
        "kind": kind,
        "jobs": jobs,
        "config_bytes": len(text),
        "load_s": round(loaded - started, 3),
        "plan_s": round(done - loaded, 3),
        "json_s": round(dumped - done, 3),
        "jobs_per_s": round(jobs / (done - loaded)),
        "json_mb": round(len(encoded) / 1e6, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "JOBS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]))))
        return
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    rows = []
    for kind in ("grid", "list"):
        for jobs in sizes:
            out = subprocess.run(
                [sys.executable, __file__, "--child", kind, str(jobs)], capture_output=True, text=True, check=True
            )
            rows.append(json.loads(out.stdout))
            print(json.dumps(rows[-1]), flush=True)
    print()
    print("| kind | jobs | load s | plan s | jobs/s (plan) | JSON s | JSON MB | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['kind']} | {r['jobs']:,} | {r['load_s']} | {r['plan_s']} | {r['jobs_per_s']:,} "
            f"| {r['json_s']} | {r['json_mb']} | {r['peak_rss_mb']} |"
        )


if __name__ == "__main__":
    main()
