"""How synthesizing scales: a generated project with 1, 1,000 and 10,000 jobs.

Each case synthesizes in-process (``runtool_iac.synth.synth``, cdk-nag on, as
``runtool-iac synth`` does) in a fresh subprocess, so the CDK import (jsii
start-up) and peak memory are its own. Reported: CDK import time, synth time
(plan + constructs + cdk-nag + writing the assembly), template bytes, manifest
bytes (the JSON-lines assets) and peak RSS of the Python process (the
jsii Node.js process is not included).

The jobs live in the manifests, never in the template (DESIGN.md §4): the
script asserts that the three templates have exactly the same bytes count and
the same text once the manifest asset hashes (content hashes of the same
length) are masked. Not a test: numbers go in the README.

    python benchmarks/synth_scale.py            # 1, 1,000 and 10,000 jobs
    python benchmarks/synth_scale.py --quick    # 1 and 1,000
"""

from __future__ import annotations

import argparse
import io
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = (1, 1_000, 10_000)

PROJECT = """\
project: synth-scale
job_prefix: scale
configs: [configs.yml]
defaults:
  create_role: true
  create_bucket: true
  instance_limits: {ml.m5.large: 4}
  tolerated_failure_percentage: 5
experiments:
  grid:
    experiment: algo * ds
    runs: 1
"""


def config(jobs: int) -> str:
    """One algorithm with a `jobs`-point grid on one hyperparameter, one dataset: `jobs` jobs."""
    seeds = ", ".join(str(i) for i in range(jobs))
    return f"""\
algo:
  image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/algo:1
  instance: ml.m5.large
  metrics: {{loss: 'loss=([0-9.]+)'}}
  hyperparameters:
    epochs: 10
    seed: {{$each: [{seeds}]}}
ds:
  path: {{train: 's3://bucket/data/train/', test: 's3://bucket/data/test/'}}
"""


def measure(jobs: int, root: Path) -> dict:
    """Runs inside the child process."""
    (root / "runtool.yml").write_text(PROJECT)
    (root / "configs.yml").write_text(config(jobs))
    started = time.perf_counter()
    import aws_cdk  # noqa: F401  (jsii start-up, measured apart from the synth)
    import cdk_nag  # noqa: F401

    imported = time.perf_counter()
    from runtool_iac.synth import synth

    result = synth(root / "runtool.yml", root / "cdk.out", out=io.StringIO())
    done = time.perf_counter()
    assert len(result.plans["grid"]) == jobs
    template = result.template_file.read_text()
    manifests = sorted(result.outdir.glob("asset.*.jsonl"))
    assert sum(len(p.read_text().splitlines()) for p in manifests) == jobs
    return {
        "jobs": jobs,
        "import_s": imported - started,
        "synth_s": done - imported,
        "template_bytes": len(template.encode()),
        "template_masked": mask(template),
        "manifest_bytes": sum(p.stat().st_size for p in manifests),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def mask(template: str) -> str:
    """The template without the values that may differ with the job count (see the module doc)."""
    return re.sub(r"[0-9a-f]{64}", "<asset-hash>", template)


def run_case(jobs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="synth-scale-") as tmp:
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(jobs), tmp], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"{jobs} jobs: synth failed\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 and 1,000 jobs only")
    parser.add_argument("--child", nargs=2, metavar=("JOBS", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(int(args.child[0]), Path(args.child[1]))))
        return

    rows = [run_case(jobs) for jobs in (SIZES[:2] if args.quick else SIZES)]
    print("| jobs | CDK import (s) | synth (s) | template bytes | manifest bytes | peak RSS, Python (MiB) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['jobs']:,} | {r['import_s']:.1f} | {r['synth_s']:.1f} | {r['template_bytes']:,} "
            f"| {r['manifest_bytes']:,} | {r['peak_rss_mib']:.0f} |"
        )
    assert len({r["template_masked"] for r in rows}) == 1, "the template text changes with the number of jobs"
    assert len({r["template_bytes"] for r in rows}) == 1, "the template size changes with the number of jobs"
    print()
    print("Template: identical bytes count for every size, and identical text but for the manifest asset hashes.")


if __name__ == "__main__":
    main()
