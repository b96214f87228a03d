"""TEST-ONLY: write a project at the scale issue 10 names — 200 datasets (train and test
channels each), 20 algorithms on 4 instance types, 5 experiments, created role."""

from __future__ import annotations

from pathlib import Path

DATASETS = 200
ALGORITHMS = 20
INSTANCES = ("ml.m5.large", "ml.m5.xlarge", "ml.c5.2xlarge", "ml.g4dn.xlarge")


def write_large_project(folder: Path, datasets: int = DATASETS, extra_defaults: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(datasets):
        lines += [
            f"dataset_{i:03d}:",
            "  meta: {freq: D, prediction_length: 7}",
            "  path:",
            f"    train: s3://team-forecasting-datasets/benchmarks/collection/dataset_{i:03d}/train/",
            f"    test: s3://team-forecasting-datasets/benchmarks/collection/dataset_{i:03d}/test/",
        ]
    lines.append("datasets:")
    lines += [f"  - $ref: dataset_{i:03d}" for i in range(datasets)]
    lines.append("few_datasets:")
    lines += [f"  - $ref: dataset_{i:03d}" for i in range(0, datasets, 20)]
    (folder / "datasets.yml").write_text("\n".join(lines) + "\n")
    lines = []
    for a in range(ALGORITHMS):
        lines += [
            f"algorithm_{a:02d}:",
            f"  image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/forecaster-{a:02d}:1.0",
            f"  instance: {INSTANCES[a % len(INSTANCES)]}",
            "  hyperparameters:",
            "    prediction_length: {$eval: $trial.dataset.meta.prediction_length}",
        ]
    lines.append("algorithms:")
    lines += [f"  - $ref: algorithm_{a:02d}" for a in range(ALGORITHMS)]
    lines.append("gpu_algorithms:")
    lines += [f"  - $ref: algorithm_{a:02d}" for a in range(3, ALGORITHMS, 4)]
    (folder / "algorithms.yml").write_text("\n".join(lines) + "\n")
    (folder / "runtool.yml").write_text(
        "project: large-benchmark\n"
        "configs: [datasets.yml, algorithms.yml]\n"
        "defaults:\n  create_role: true\n  create_bucket: true\n" + extra_defaults +
        "experiments:\n"
        "  full: {experiment: algorithms * few_datasets}\n"
        "  all-datasets: {experiment: algorithm_00 * datasets}\n"
        "  gpu: {experiment: gpu_algorithms * datasets}\n"
        "  baseline: {experiment: algorithm_01 * datasets, runs: 2}\n"
        "  spot-sweep: {experiment: algorithm_02 * datasets, spot: true}\n"
    )
    return folder / "runtool.yml"
