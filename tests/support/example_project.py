"""TEST-ONLY: the bundled example as a project of its own, and the pull request the
incremental tests make to it (a new algorithm, one job per dataset and run)."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALGORITHMS = Path("examples/forecasting/configs/algorithms.yml")
NEW_ALGORITHM = """
drift:
  $from: base
  hyperparameters: {method: ar, lags: 3, ridge: 1.0}

algorithms: [{$ref: seasonal_naive}, {$ref: autoregression}, {$ref: drift}]
"""


def copy_example_project(folder: Path) -> Path:
    """runtool.yml and the example (configs and the algorithm's code) in ``folder``."""
    shutil.copy(ROOT / "runtool.yml", folder / "runtool.yml")
    shutil.copytree(ROOT / "examples" / "forecasting", folder / "examples" / "forecasting",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def algorithms_file(project: Path) -> Path:
    return project / ALGORITHMS


def add_algorithm(project: Path) -> None:
    """The pull request: a third algorithm in the experiment's list."""
    path = algorithms_file(project)
    text = path.read_text()
    old = "algorithms: [{$ref: seasonal_naive}, {$ref: autoregression}]\n"
    assert old in text, "the example's algorithm list changed: update tests/support/example_project.py"
    path.write_text(text.replace(old, NEW_ALGORITHM))
