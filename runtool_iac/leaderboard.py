"""A leaderboard: algorithms compared across datasets on one metric.

Three scores, as forecasting benchmarks report them, each with the number of
datasets it rests on and its spread over runs:

- **mean rank**: on each dataset the algorithms that have a result there are
  ranked by their mean metric over runs (1 = best, ties share the average
  rank); an algorithm's score is the mean of its ranks over the datasets it
  covers.
- **relative score** (with a baseline): the geometric mean over datasets of
  ``metric(algorithm) / metric(baseline)``, both means over runs; below 1 is
  better than the baseline when lower is better (the "skill" of e.g. the M4
  and GluonTS evaluations). Only datasets where both are positive count: a
  ratio of non-positive values has no geometric mean.
- **win rate** (with a baseline): the share of the datasets both cover on
  which the algorithm beats the baseline's mean; a tie counts half.

Spread over runs: each score is recomputed from run 0 alone, run 1 alone, ...
(pairing equal run numbers), and the spread is the sample standard deviation
of those per-run scores (0 with one run). Missing (algorithm, dataset) cells
are listed, never averaged over silently: the ``datasets`` column says how
many datasets each score covers.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from runtool_iac.errors import did_you_mean
from runtool_iac.render import text_table
from runtool_iac.results import JobResult

# (algorithm, dataset) -> run number -> metric value
Cells = dict[tuple[str, str], dict[int, float]]


@dataclass
class Entry:
    algorithm: str
    datasets: int  # datasets with a result for this algorithm
    mean_rank: float | None
    mean_rank_spread: float | None
    relative: float | None = None  # geometric mean of metric / baseline metric
    relative_spread: float | None = None
    relative_datasets: int = 0
    win_rate: float | None = None
    win_datasets: int = 0


@dataclass
class Leaderboard:
    metric: str
    higher_is_better: bool
    baseline: str | None
    algorithms: list[str]
    datasets: list[str]
    entries: list[Entry]  # best first
    missing: list[tuple[str, str]] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)

    # ------------------------------------------------------------ views

    def _direction(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    def header_lines(self) -> list[str]:
        lines = [
            f"leaderboard: {self.metric} ({self._direction()}), {len(self.algorithms)} algorithms × "
            f"{len(self.datasets)} datasets, runs {_runs_text(self.runs)}; ± is the std over runs"
        ]
        if self.baseline:
            lines.append(f"baseline: {self.baseline} (relative = geometric mean of {self.metric} / baseline's)")
        return lines

    def to_table(self) -> str:
        header = ["#", "algorithm", "mean rank", "datasets"]
        if self.baseline:
            header += ["relative", "rel. datasets", "win rate"]
        rows = []
        for position, e in enumerate(self.entries, 1):
            row = [str(position), e.algorithm, _pm(e.mean_rank, e.mean_rank_spread), f"{e.datasets}/{len(self.datasets)}"]
            if self.baseline:
                row += [
                    _pm(e.relative, e.relative_spread),
                    f"{e.relative_datasets}/{len(self.datasets)}",
                    "-" if e.win_rate is None else f"{e.win_rate:.0%} of {e.win_datasets}",
                ]
            rows.append(row)
        out = "\n".join(self.header_lines()) + "\n\n" + text_table(header, rows)
        if self.missing:
            out += f"\nmissing cells ({len(self.missing)}): no completed {self.metric} for\n"
            out += "".join(f"  {a} × {d}\n" for a, d in self.missing)
        return out

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        names = [f.name for f in Entry.__dataclass_fields__.values()]
        writer.writerow(["position", *names])
        for position, e in enumerate(self.entries, 1):
            writer.writerow([position, *("" if v is None else (f"{v:.6g}" if isinstance(v, float) else v) for v in asdict(e).values())])
        return buffer.getvalue()

    def to_json(self) -> str:
        return json.dumps(
            {
                "metric": self.metric,
                "higher_is_better": self.higher_is_better,
                "baseline": self.baseline,
                "algorithms": self.algorithms,
                "datasets": self.datasets,
                "runs": self.runs,
                "entries": [asdict(e) for e in self.entries],
                "missing": [{"algorithm": a, "dataset": d} for a, d in self.missing],
            },
            indent=2,
        ) + "\n"


def _pm(value: float | None, spread: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f} ± {spread:.3f}" if spread is not None else f"{value:.3f}"


def _runs_text(runs: list[int]) -> str:
    return ", ".join(map(str, runs)) if runs else "none"


# --------------------------------------------------------------- scores


def cells_of(results: list[JobResult], metric: str) -> Cells:
    """Completed, finite values of ``metric``; equal (algorithm, dataset, run) values are averaged."""
    available = sorted({m for r in results for m in r.metrics})
    if metric not in available:
        raise ValueError(f"no job reported metric '{metric}'{did_you_mean(metric, available)} (available: {', '.join(available) or 'none'})")
    values: dict[tuple[str, str, int], list[float]] = {}
    for r in results:
        value = r.metrics.get(metric)
        if r.status == "Completed" and value is not None and math.isfinite(value):
            values.setdefault((r.algorithm, r.dataset, r.run), []).append(value)
    cells: Cells = {}
    for (algorithm, dataset, run), found in sorted(values.items()):
        cells.setdefault((algorithm, dataset), {})[run] = statistics.fmean(found)
    return cells


def _ranks(means: dict[tuple[str, str], float], datasets: list[str], better: Callable[[float], float]) -> dict[str, list[float]]:
    """Algorithm -> its rank on each dataset it has a value for (average ranks for ties)."""
    ranks: dict[str, list[float]] = {}
    for dataset in datasets:
        scored = sorted((better(v), a) for (a, d), v in means.items() if d == dataset)
        i = 0
        while i < len(scored):
            j = i
            while j + 1 < len(scored) and scored[j + 1][0] == scored[i][0]:
                j += 1
            for k in range(i, j + 1):
                ranks.setdefault(scored[k][1], []).append((i + j) / 2 + 1)
            i = j + 1
    return ranks


def _scores(means: dict[tuple[str, str], float], algorithms: list[str], datasets: list[str], baseline: str | None, higher: bool) -> dict[str, dict]:
    """Per algorithm: mean rank, relative score and win rate from one table of means."""
    better = (lambda v: -v) if higher else (lambda v: v)
    ranks = _ranks(means, datasets, better)
    out: dict[str, dict] = {}
    for algorithm in algorithms:
        found = ranks.get(algorithm, [])
        score: dict = {"mean_rank": statistics.fmean(found) if found else None, "datasets": len(found)}
        if baseline is not None:
            shared = [d for d in datasets if (algorithm, d) in means and (baseline, d) in means]
            logs = [
                math.log(means[(algorithm, d)] / means[(baseline, d)])
                for d in shared
                if means[(algorithm, d)] > 0 and means[(baseline, d)] > 0
            ]
            score["relative"] = math.exp(statistics.fmean(logs)) if logs else None
            score["relative_datasets"] = len(logs)
            if algorithm != baseline and shared:
                wins = sum(
                    1.0 if better(means[(algorithm, d)]) < better(means[(baseline, d)])
                    else 0.5 if means[(algorithm, d)] == means[(baseline, d)] else 0.0
                    for d in shared
                )
                score["win_rate"] = wins / len(shared)
            score["win_datasets"] = len(shared) if algorithm != baseline else 0
        out[algorithm] = score
    return out


def _spread(values: list[float]) -> float | None:
    if not values:
        return None
    return statistics.stdev(values) if len(values) > 1 else 0.0


def leaderboard(results: list[JobResult], metric: str, baseline: str | None = None, higher_is_better: bool = False) -> Leaderboard:
    cells = cells_of(results, metric)
    algorithms = sorted({r.algorithm for r in results})
    datasets = sorted({r.dataset for r in results})
    if baseline is not None and baseline not in algorithms:
        raise ValueError(f"baseline '{baseline}' is not an algorithm of these results{did_you_mean(baseline, algorithms)} (algorithms: {', '.join(algorithms)})")
    means = {cell: statistics.fmean(runs.values()) for cell, runs in cells.items()}
    overall = _scores(means, algorithms, datasets, baseline, higher_is_better)
    runs = sorted({run for values in cells.values() for run in values})
    per_run = [
        _scores({cell: values[run] for cell, values in cells.items() if run in values}, algorithms, datasets, baseline, higher_is_better)
        for run in runs
    ]

    def spread(algorithm: str, name: str) -> float | None:
        if overall[algorithm].get(name) is None:
            return None
        return _spread([s[algorithm][name] for s in per_run if s[algorithm].get(name) is not None])

    entries = [
        Entry(
            algorithm=a,
            datasets=overall[a]["datasets"],
            mean_rank=overall[a]["mean_rank"],
            mean_rank_spread=spread(a, "mean_rank"),
            relative=overall[a].get("relative"),
            relative_spread=spread(a, "relative") if baseline else None,
            relative_datasets=overall[a].get("relative_datasets", 0),
            win_rate=overall[a].get("win_rate"),
            win_datasets=overall[a].get("win_datasets", 0),
        )
        for a in algorithms
    ]
    entries.sort(key=lambda e: (e.mean_rank is None, e.mean_rank or 0.0, e.algorithm))
    missing = [(a, d) for a in algorithms for d in datasets if (a, d) not in cells]
    return Leaderboard(metric, higher_is_better, baseline, algorithms, datasets, entries, missing, runs)


# ------------------------------------------------------------------ plot


def plot(board: Leaderboard, path: str | Path) -> Path:
    """Mean rank (and, with a baseline, the relative score) as bar charts with run spreads (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = list(reversed(board.entries))  # best on top
    names = [e.algorithm for e in entries]
    panels = 2 if board.baseline else 1
    fig, axes = plt.subplots(1, panels, figsize=(4.5 * panels + 2, 1.2 + 0.45 * len(names)), squeeze=False)
    ax = axes[0][0]
    ax.barh(names, [e.mean_rank or 0.0 for e in entries], xerr=[e.mean_rank_spread or 0.0 for e in entries], color="tab:blue", capsize=3)
    for i, e in enumerate(entries):
        ax.text(0.02, i, f"{e.datasets}/{len(board.datasets)} datasets" if e.mean_rank is not None else "no results", va="center", color="white" if e.mean_rank else "black", fontsize=8)
    ax.set_xlabel("mean rank over datasets (1 = best)")
    ax.set_title(f"{board.metric} ({board._direction()})")
    if board.baseline:
        ax = axes[0][1]
        ax.barh(names, [e.relative or 0.0 for e in entries], xerr=[e.relative_spread or 0.0 for e in entries], color="tab:orange", capsize=3)
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_xlabel(f"geometric mean of {board.metric} / {board.baseline}")
        ax.set_title("relative to the baseline")
        ax.set_yticks(range(len(names)), [""] * len(names))
    if board.missing:
        fig.text(0.01, 0.01, f"{len(board.missing)} missing cells (see the table)", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
