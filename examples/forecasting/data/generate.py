"""Write the example's tiny synthetic datasets (deterministic: fixed seed).

Each dataset is GluonTS-style JSON lines, ``{"start", "target", "item_id"}``
per series, in ``<name>/train/data.json`` and ``<name>/test/data.json``. As in
GluonTS, a test series is its train series plus the ``prediction_length``
points to forecast, so an algorithm evaluates on the test series' tail.

The files are committed; rerun this script only to change them:

    python examples/forecasting/data/generate.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 20240601
HOURLY_START, FIRST_WEEKDAY = "2024-01-03 00:00:00", 2  # a Wednesday (Monday = 0)


def is_weekend(t: np.ndarray) -> np.ndarray:
    """Hour index -> whether it falls on a Saturday or Sunday."""
    return (t // 24 + FIRST_WEEKDAY) % 7 >= 5


def electricity(rng: np.random.Generator) -> list[np.ndarray]:
    """Hourly load: a daily cycle, quieter weekends, noise (5 consumers, 15 days)."""
    t = np.arange(15 * 24)
    series = []
    for level in (120.0, 340.0, 75.0, 510.0, 230.0):
        daily = 1 + 0.35 * np.sin(2 * np.pi * (t - 7) / 24) + 0.1 * np.sin(4 * np.pi * t / 24)
        weekend = np.where(is_weekend(t), 0.8, 1.0)
        noise = rng.normal(0, 0.04, t.size)
        series.append(np.round(level * daily * weekend * (1 + noise), 2))
    return series


def traffic(rng: np.random.Generator) -> list[np.ndarray]:
    """Hourly road occupancy in [0, 1]: morning and evening peaks (4 sensors, 15 days)."""
    t = np.arange(15 * 24)
    hour = t % 24
    series = []
    for base in (0.05, 0.08, 0.03, 0.06):
        peaks = 0.12 * np.exp(-((hour - 8) ** 2) / 4) + 0.10 * np.exp(-((hour - 17) ** 2) / 6)
        weekday = np.where(is_weekend(t), 0.5, 1.0)
        value = base + peaks * weekday + rng.normal(0, 0.008, t.size)
        series.append(np.round(np.clip(value, 0, 1), 4))
    return series


def retail(rng: np.random.Generator) -> list[np.ndarray]:
    """Daily unit sales from a Monday: weekly pattern, slow trend, Poisson counts (6 stores, 126 days)."""
    t = np.arange(126)
    weekly = np.array([0.8, 0.85, 0.9, 1.0, 1.2, 1.5, 0.75])
    series = []
    for level in (20.0, 55.0, 8.0, 130.0, 35.0, 70.0):
        mean = level * weekly[t % 7] * (1 + 0.002 * t)
        series.append(rng.poisson(mean).astype(float))
    return series


DATASETS = {
    # name: (generator, start, prediction_length)
    "electricity": (electricity, HOURLY_START, 24),
    "traffic": (traffic, HOURLY_START, 24),
    "retail": (retail, "2024-01-01", 14),
}


def lines(series: list[np.ndarray], start: str, name: str) -> str:
    return "".join(
        json.dumps({"start": start, "target": [float(v) for v in s], "item_id": f"{name}_{i}"}) + "\n"
        for i, s in enumerate(series)
    )


def main() -> None:
    rng = np.random.default_rng(SEED)
    for name, (make, start, horizon) in DATASETS.items():
        series = make(rng)
        for split, cut in (("train", horizon), ("test", 0)):
            folder = HERE / name / split
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "data.json").write_text(lines([s[: len(s) - cut] for s in series], start, name))


if __name__ == "__main__":
    main()
