"""Stored plans of the bundled examples, compared byte for byte by tests/test_golden.py.

They pin what `plan` prints, so speed work (and any refactoring) cannot change
a plan by accident. A change that alters plans on purpose (names, labels, new
request fields) regenerates them in the same commit, and the diff of these
files shows reviewers exactly what changed:

    python tests/golden/regenerate.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent
EXAMPLE = ["examples/forecasting/configs/datasets.yml", "examples/forecasting/configs/algorithms.yml"]
FEATURES = ["tests/golden/inputs/features.yml"]
FEATURE_ARGS = [
    "-e", "algorithms * datasets", "--runs", "2", "--experiment-name", "golden",
    "--bucket", "golden-output", "--role-arn", "arn:aws:iam::123456789012:role/golden", "--tag", "owner=ci",
]


def _cli(*args: str) -> str:
    """What `runtool-iac ARGS` prints, run from the repository root (paths stay relative)."""
    from click.testing import CliRunner

    from runtool_iac.cli import main

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(cwd)
    if result.exit_code != 0:
        raise RuntimeError(f"runtool-iac {' '.join(args)} failed ({result.exit_code}):\n{result.output}")
    return result.output


def _project(experiment: str) -> str:
    """The plan of an experiment declared in the repository's runtool.yml, as it deploys."""
    from runtool_iac.project import load_project

    return load_project(ROOT / "runtool.yml").plan(experiment).to_json()


CASES: dict[str, Callable[[], str]] = {
    "forecasting.plan.json": lambda: _cli("plan", *EXAMPLE, "-e", "algorithms * datasets", "--runs", "3", "--format", "json"),
    "forecasting.plan.txt": lambda: _cli("plan", *EXAMPLE, "-e", "algorithms * datasets", "--runs", "3"),
    "forecasting.plan.md": lambda: _cli("plan", *EXAMPLE, "-e", "algorithms * datasets", "--runs", "3", "--format", "markdown"),
    "forecasting-local.plan.json": lambda: _cli("plan", *EXAMPLE, "-e", "seasonal_naive * datasets", "--local", "--format", "json"),
    "project-bench.plan.json": lambda: _project("bench"),
    "project-smoke.plan.json": lambda: _project("smoke"),
    "features.plan.json": lambda: _cli("plan", *FEATURES, *FEATURE_ARGS, "--format", "json"),
    "features.plan.txt": lambda: _cli("plan", *FEATURES, *FEATURE_ARGS),
}


def main() -> None:
    for name, render in CASES.items():
        (GOLDEN / name).write_text(render(), encoding="utf-8")
        print(f"wrote tests/golden/{name}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
