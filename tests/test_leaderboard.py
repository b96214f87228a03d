"""Leaderboard scores on small hand-made tables (values worked out by hand in the comments)."""

import json
import math

import pytest
from click.testing import CliRunner

from runtool_iac.cli import main
from runtool_iac.leaderboard import leaderboard
from runtool_iac.results import JobResult


def results_of(table: dict, status: str = "Completed") -> list[JobResult]:
    """{(algorithm, dataset): [value per run]} -> one completed JobResult per run."""
    return [
        JobResult(f"{a}-{d}-{run}", a, d, run, status, metrics={"MASE": value})
        for (a, d), values in table.items()
        for run, value in enumerate(values)
    ]


TABLE = {
    ("base", "x"): [1.0, 1.0], ("base", "y"): [2.0, 2.0], ("base", "z"): [4.0, 4.0],
    ("good", "x"): [0.5, 0.7], ("good", "y"): [1.0, 1.0], ("good", "z"): [8.0, 8.0],
    ("tie", "x"): [1.0, 1.0], ("tie", "y"): [3.0, 3.0],  # no result on z
}


def test_scores_by_hand():
    board = leaderboard(results_of(TABLE), "MASE", baseline="base")
    e = {entry.algorithm: entry for entry in board.entries}
    # x: good 0.6 (1), base = tie 1.0 (2.5 each); y: good 1 (1), base 2 (2), tie 3 (3); z: base (1), good (2)
    assert e["good"].mean_rank == pytest.approx((1 + 1 + 2) / 3)
    assert e["base"].mean_rank == pytest.approx((2.5 + 2 + 1) / 3)
    assert e["tie"].mean_rank == pytest.approx((2.5 + 3) / 2) and e["tie"].datasets == 2
    # relative: good = (0.6 * 0.5 * 2) ** (1/3); tie = (1 * 1.5) ** (1/2)
    assert e["good"].relative == pytest.approx((0.6 * 0.5 * 2.0) ** (1 / 3))
    assert e["tie"].relative == pytest.approx(1.5 ** 0.5) and e["tie"].relative_datasets == 2
    assert e["base"].relative == pytest.approx(1.0) and e["base"].win_rate is None
    # wins against base: good wins x, y, loses z; tie ties x (half), loses y
    assert e["good"].win_rate == pytest.approx(2 / 3) and e["tie"].win_rate == pytest.approx(0.25)
    assert [entry.algorithm for entry in board.entries] == ["good", "base", "tie"]
    assert board.missing == [("tie", "z")]
    # spread over runs: run 0 has good x = 0.5, run 1 0.7; ranks do not move, the relative score does
    assert e["good"].mean_rank_spread == pytest.approx(0.0)
    per_run = [(0.5 * 0.5 * 2.0) ** (1 / 3), (0.7 * 0.5 * 2.0) ** (1 / 3)]
    assert e["good"].relative_spread == pytest.approx(abs(per_run[0] - per_run[1]) / math.sqrt(2))


def test_missing_cells_are_shown_in_the_table():
    text = leaderboard(results_of(TABLE), "MASE", baseline="base").to_table()
    assert "missing cells (1): no completed MASE for\n  tie × z\n" in text
    assert any(line.split()[:2] == ["3", "tie"] and "2/3" in line for line in text.splitlines())


def test_higher_is_better_reverses_ranks_and_wins():
    board = leaderboard(results_of(TABLE), "MASE", baseline="base", higher_is_better=True)
    e = {entry.algorithm: entry for entry in board.entries}
    assert e["good"].mean_rank == pytest.approx((3 + 3 + 1) / 3)
    assert e["good"].win_rate == pytest.approx(1 / 3)
    assert board.to_table().startswith("leaderboard: MASE (higher is better)")


def test_failed_and_non_positive_values_and_no_baseline():
    rows = results_of({("a", "x"): [0.0], ("b", "x"): [1.0], ("a", "y"): [1.0], ("b", "y"): [2.0]})
    rows += results_of({("c", "x"): [0.1]}, status="Failed")
    board = leaderboard(rows, "MASE", baseline="b")
    e = {entry.algorithm: entry for entry in board.entries}
    assert e["a"].relative == pytest.approx(0.5) and e["a"].relative_datasets == 1  # x: 0 / 1 has no log
    assert e["c"].mean_rank is None and board.entries[-1].algorithm == "c"
    assert sorted(board.missing) == [("c", "x"), ("c", "y")]
    plain = leaderboard(rows, "MASE")
    assert plain.baseline is None and "relative" not in plain.to_table()


def test_errors_name_what_exists():
    with pytest.raises(ValueError, match=r"baseline 'bas' .*did you mean 'base'"):
        leaderboard(results_of(TABLE), "MASE", baseline="bas")
    with pytest.raises(ValueError, match=r"no job reported metric 'mase'"):
        leaderboard(results_of(TABLE), "mase")


def test_csv_and_json_views():
    board = leaderboard(results_of(TABLE), "MASE", baseline="base")
    rows = board.to_csv().splitlines()
    assert rows[0].startswith("position,algorithm,datasets,mean_rank") and rows[1].startswith("1,good,3,")
    data = json.loads(board.to_json())
    assert data["baseline"] == "base" and data["missing"] == [{"algorithm": "tie", "dataset": "z"}]
    assert [e["algorithm"] for e in data["entries"]] == ["good", "base", "tie"]


@pytest.mark.parametrize("args, message", [
    (["--baseline", "a"], "--baseline and --higher-is-better go with --leaderboard"),
    (["--leaderboard", "MASE", "--pivot", "MASE"], "--pivot and --leaderboard exclude each other"),
    (["--plot", "x.png"], "--plot needs --pivot METRIC or --leaderboard METRIC"),
])
def test_results_usage_errors(tmp_path, args, message):
    result = CliRunner().invoke(main, ["results", str(tmp_path), *args])
    assert result.exit_code == 2 and message in result.output


def test_results_needs_an_execution_or_an_experiment(tmp_path):
    assert "give an EXECUTION" in CliRunner().invoke(main, ["results"]).output
    assert "--local and --output-dir go with --experiment" in CliRunner().invoke(main, ["results", str(tmp_path), "--local"]).output
    missing = CliRunner().invoke(main, ["results", "--experiment", "nothing", "--local", "--output-dir", str(tmp_path)])
    assert missing.exit_code == 1 and "no completed results of experiment nothing locally yet" in missing.output
