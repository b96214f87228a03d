"""Incremental experiments with `runtool-iac local`, and the leaderboard of the bundled example.

The leaderboard is checked against values computed here from the raw
ResultWriter files with NumPy, not through runtool_iac's results reader.
"""

import json
import math
import subprocess

import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from runtool_iac.cli import main

from conftest import ROOT

sys.path.insert(0, str(Path(__file__).parent / "support"))

from example_project import add_algorithm, algorithms_file, copy_example_project  # noqa: E402


@pytest.fixture
def project(tmp_path):
    return copy_example_project(tmp_path)


def invoke(project, *args):
    return CliRunner().invoke(main, [*args, "--project", str(project / "runtool.yml")])


def local(project, *args):
    result = invoke(project, "local", "bench", "--skip-completed", "--quiet", *args)
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def git(repo, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", *args],
                   cwd=repo, check=True, capture_output=True)


def test_local_skip_completed_runs_only_new_jobs(project, monkeypatch):
    first = local(project, "--runs", "1")
    assert first[0] == "9 to run, 0 already completed (in 0 earlier executions)"
    assert "9 jobs (Completed: 9)" in first
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "runtool.yml", "examples")
    git(project, "commit", "-q", "-m", "base")

    add_algorithm(project)
    # The pull request's review: 9 added jobs (3 runs) in the diff, of which the runs=1 results cover none...
    reviewed = json.loads(invoke(project, "diff", "HEAD", "--against-results", "--local", "--format", "json").output)
    assert reviewed["totals"]["added"] == 9
    bench = reviewed["against_results"]["bench"]
    # ...and of the 36 jobs the merge declares (3 runs), the 9 run-0 jobs completed locally.
    assert (bench["to_run"], bench["completed"]) == (27, 9)
    assert reviewed["against_results"]["smoke"]["to_run"] == 1  # smoke never ran
    text = invoke(project, "diff", "HEAD", "--against-results", "--local").output
    assert "against the results (local):\nbench: 27 to run, 9 already completed (in 1 earlier execution)\n" in text
    monkeypatch.chdir(project)
    planned = json.loads(CliRunner().invoke(main, [
        "plan", "examples/forecasting/configs/datasets.yml", "examples/forecasting/configs/algorithms.yml",
        "-e", "algorithms * datasets", "--experiment-name", "bench", "--local", "--against-results", "--format", "json"]).output)
    assert (planned["to_run"], planned["completed"]) == (3, 9) and {j["algorithm"] for j in planned["new"]} == {"drift"}

    second = local(project, "--runs", "1")
    assert second[0] == "3 to run, 9 already completed (in 1 earlier execution)"
    assert "3 jobs (Completed: 3)" in second and sum(" drift " in line for line in second) == 3

    rows = json.loads(invoke(project, "results", "--experiment", "bench", "--local", "--format", "json").output)
    runs = sorted(p.name for p in (project / "runtool-output" / "bench" / "_results").iterdir())
    assert len(rows) == 12 and len(runs) == 2
    assert sorted(r["algorithm"] for r in rows if r["execution"] == runs[1]) == ["drift"] * 3
    assert sum(r["execution"] == runs[0] for r in rows) == 9

    assert local(project, "--runs", "1") == ["0 to run, 12 already completed (in 2 earlier executions)", "nothing to run"]

    algorithms_file(project).write_text(algorithms_file(project).read_text().replace("lags: 3,", "lags: 4,"))
    changed = local(project, "--runs", "1")
    assert changed[0] == "3 to run, 9 already completed (in 2 earlier executions)"
    job_folders = [p for p in (project / "runtool-output" / "bench").glob("*/forecast-drift-*") if p.is_dir()]
    assert len(job_folders) == 6
    hyperparameters = [json.loads((p / "input" / "config" / "hyperparameters.json").read_text()) for p in job_folders]
    assert sorted(h["lags"] for h in hyperparameters) == ["3"] * 3 + ["4"] * 3


def _raw_values(results_dir):
    """(algorithm, dataset) -> {run: MASE}, straight from the SUCCEEDED files."""
    values = {}
    for path in results_dir.glob("*/SUCCEEDED_*.json"):
        for entry in json.loads(path.read_text()):
            job = json.loads(entry["Input"])["job"]
            metrics = json.loads(entry["Output"])["result"]["FinalMetricDataList"]
            mase = next(m["Value"] for m in metrics if m["MetricName"] == "MASE")
            values.setdefault((job["algorithm"], job["dataset"]), {})[job["run"]] = mase
    return values


def _expected(cells, algorithms, datasets, baseline):
    """Mean rank, geometric-mean relative score and win rate, by NumPy."""
    table = np.array([[cells[(a, d)] for d in datasets] for a in algorithms])  # algorithms × datasets
    ranks = table.argsort(axis=0).argsort(axis=0) + 1.0  # no ties in real metrics
    b = algorithms.index(baseline)
    relative = np.exp(np.log(table / table[b]).mean(axis=1))
    wins = (table < table[b]).mean(axis=1)
    return ranks.mean(axis=1), relative, wins


def test_leaderboard_of_the_bundled_example_matches_an_independent_computation(project, tmp_path):
    lines = local(project)
    assert lines[0] == "27 to run, 0 already completed (in 0 earlier executions)"
    raw = _raw_values(project / "runtool-output" / "bench" / "_results")
    algorithms = sorted({a for a, _ in raw})
    datasets = sorted({d for _, d in raw})
    assert len(algorithms) == 3 and len(datasets) == 3 and all(len(v) == 3 for v in raw.values())

    result = invoke(project, "results", "--experiment", "bench", "--local", "--leaderboard", "MASE",
                    "--baseline", "seasonal_naive", "--format", "json")
    assert result.exit_code == 0, result.output
    board = json.loads(result.output)
    entries = {e["algorithm"]: e for e in board["entries"]}

    means = {cell: np.mean(list(runs.values())) for cell, runs in raw.items()}
    mean_rank, relative, wins = _expected(means, algorithms, datasets, "seasonal_naive")
    per_run = [_expected({c: v[run] for c, v in raw.items()}, algorithms, datasets, "seasonal_naive") for run in range(3)]
    for i, a in enumerate(algorithms):
        assert entries[a]["mean_rank"] == pytest.approx(mean_rank[i])
        assert entries[a]["relative"] == pytest.approx(relative[i])
        assert entries[a]["mean_rank_spread"] == pytest.approx(np.std([r[0][i] for r in per_run], ddof=1))
        assert entries[a]["relative_spread"] == pytest.approx(np.std([r[1][i] for r in per_run], ddof=1))
        assert entries[a]["datasets"] == 3
        if a != "seasonal_naive":
            assert entries[a]["win_rate"] == pytest.approx(wins[i]) and entries[a]["win_datasets"] == 3
    assert [e["algorithm"] for e in board["entries"]] == [algorithms[i] for i in np.argsort(mean_rank, kind="stable")]
    assert board["missing"] == []

    table = invoke(project, "results", "--experiment", "bench", "--local", "--leaderboard", "MASE",
                   "--baseline", "seasonal_naive", "--plot", str(tmp_path / "board.png"))
    assert table.exit_code == 0 and (tmp_path / "board.png").stat().st_size > 1000
    assert table.output.splitlines()[0].startswith("leaderboard: MASE (lower is better), 3 algorithms × 3 datasets")
    best = board["entries"][0]
    assert any(line.split()[:2] == ["1", best["algorithm"]] for line in table.output.splitlines())
    assert math.isfinite(best["mean_rank"])

    # docs/incremental.md: add the algorithm it shows, run only its 9 jobs, get its leaderboard.
    doc = (ROOT / "docs" / "incremental.md").read_text()
    added = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    algorithms_file(project).write_text(algorithms_file(project).read_text().replace(
        "algorithms: [{$ref: seasonal_naive}, {$ref: autoregression}]\n", added))
    assert local(project)[0] == "9 to run, 27 already completed (in 1 earlier execution)"
    shown = doc.split("<!-- leaderboard:start -->\n```text\n", 1)[1].split("```", 1)[0]
    command, expected = shown.split("\n", 1)
    args = command.removeprefix("$ runtool-iac ").split()
    assert invoke(project, *args).output == expected
