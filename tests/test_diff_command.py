"""``runtool-iac diff BASE_REF``: jobs added, removed and changed between a git ref and the working tree.

Each test builds a small git repository whose project lives in a subfolder and
names its configs with a glob, commits it, edits the working tree, and diffs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import EXAMPLE_CONFIGS
from runtool_iac.cli import main

PROJECT = """\
project: diff-test
job_prefix: dt
configs: ["configs/*.yml"]
defaults: {create_role: true, create_bucket: true}
experiments:
  bench:
    experiment: algorithms * datasets
    runs: 2
  smoke:
    experiment: seasonal_naive * retail
"""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    project = root / "experiments"
    (project / "configs").mkdir(parents=True)
    (project / "runtool.yml").write_text(PROJECT)
    for config in EXAMPLE_CONFIGS:
        shutil.copy(config, project / "configs" / config.name)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    return root


def diff(repo: Path, *args: str, fmt: str = "json"):
    result = CliRunner().invoke(main, ["diff", *args, "--project", str(repo / "experiments"), "--format", fmt])
    return result


def as_json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def experiment(data: dict, name: str) -> dict:
    return next(e for e in data["experiments"] if e["name"] == name)


def test_no_changes(repo: Path):
    data = as_json(diff(repo, "HEAD"))
    assert data["totals"] == {"base_jobs": 19, "head_jobs": 19, "added": 0, "removed": 0, "changed": 0, "unchanged": 19}
    assert [e["status"] for e in data["experiments"]] == ["unchanged", "unchanged"]
    table = diff(repo, "HEAD", fmt="table")
    assert table.exit_code == 0 and table.stdout.rstrip().endswith("no job changes")
    assert "bench         18    18      0        0        0         18" in table.stdout  # 3 algorithm variants x 3 datasets x 2 runs


def test_edited_hyperparameter_is_a_changed_job_with_its_fields(repo: Path):
    edit(repo / "experiments/configs/algorithms.yml", "hyperparameters: {method: seasonal_naive}", "hyperparameters: {method: seasonal_naive, window: 3}")
    data = as_json(diff(repo, "main"))
    bench = experiment(data, "bench")
    assert (len(bench["added"]), len(bench["removed"]), len(bench["changed"]), bench["unchanged"]) == (0, 0, 6, 12)
    assert bench["changed_fields"] == {"HyperParameters": 6, "OutputDataConfig": 6, "Tags": 6, "TrainingJobName": 6}
    job = bench["changed"][0]
    assert (job["algorithm"], job["dataset"], job["run"]) == ("seasonal_naive", "electricity", 0)
    assert job["base_name"] != job["head_name"]  # the name embeds a hash of the trial
    assert {"path": "HyperParameters.window", "base": None, "head": "3"} in job["changes"]
    assert {c["path"] for c in job["changes"]} == {
        "HyperParameters.window",
        "OutputDataConfig.S3OutputPath",
        "TrainingJobName",
        "Tags.run_configuration_id",
        "Tags.repeated_runs_group_id",
    }
    assert experiment(data, "smoke")["changed_fields"] == {"HyperParameters": 1, "OutputDataConfig": 1, "Tags": 1, "TrainingJobName": 1}
    assert "matched by experiment, algorithm, dataset and run" in data["note"]

    table = diff(repo, "main", fmt="table").stdout
    assert "  changed fields: HyperParameters ×6, OutputDataConfig ×6, Tags ×6, TrainingJobName ×6" in table
    assert '      HyperParameters.window: (absent) → "3"' in table
    assert "A job name embeds a hash of its trial" in table


def test_runs_grid_values_and_experiments_added_and_removed(repo: Path):
    project = repo / "experiments/runtool.yml"
    edit(project, "    runs: 2\n", "    runs: 3\n")  # bench: one more run
    edit(project, "  smoke:\n    experiment: seasonal_naive * retail\n", "  retail:\n    experiment: autoregression * retail\n")
    edit(repo / "experiments/configs/algorithms.yml", "ridge: {$each: [0.0, 10.0]}", "ridge: {$each: [0.0, 20.0]}")
    data = as_json(diff(repo, "HEAD"))
    bench = experiment(data, "bench")
    # 3 datasets x (seasonal_naive, ridge 0.0, ridge 20.0) x run 2, plus ridge 20.0 x runs 0-1 (a new grid point).
    assert len(bench["added"]) == 9 + 6
    assert {(j["algorithm"], j["run"]) for j in bench["removed"]} == {("autoregression[ridge=10.0]", 0), ("autoregression[ridge=10.0]", 1)}
    assert len(bench["removed"]) == 6
    # Kept jobs only see the new number of runs in their tags.
    assert len(bench["changed"]) == 12 and bench["changed_fields"] == {"Tags": 12}
    assert {c["path"] for c in bench["changed"][0]["changes"]} == {"Tags.number_of_runs", "Tags.repeated_runs_group_id"}
    assert experiment(data, "smoke")["status"] == "deleted" and len(experiment(data, "smoke")["removed"]) == 1
    assert experiment(data, "retail")["status"] == "new" and experiment(data, "retail")["base_jobs"] is None
    assert data["totals"]["head_jobs"] == 27 + 2

    markdown = diff(repo, "HEAD", fmt="markdown").stdout
    assert markdown.startswith("### Plan diff: `HEAD` → working tree")
    assert "| `bench` | 18 | 27 | 15 | 6 | 12 | 0 |" in markdown
    assert "> Experiment 'retail' is new (not declared at HEAD)." in markdown
    assert "<details><summary><b>bench</b>: +15 added, −6 removed, ~12 changed (Tags ×12)</summary>" in markdown

    only = as_json(diff(repo, "HEAD", "--experiment", "smoke"))
    assert [e["name"] for e in only["experiments"]] == ["smoke"]


def test_project_missing_at_the_base_ref(repo: Path):
    (repo / "README").write_text("x")
    git(repo, "add", "README")
    git(repo, "rm", "-q", "-r", "--cached", "experiments")
    git(repo, "commit", "-q", "-m", "without the project")
    git(repo, "tag", "bare")
    data = as_json(diff(repo, "bare"))
    assert data["base_has_project"] is False
    assert data["totals"]["added"] == 19 and data["totals"]["base_jobs"] == 0
    assert "experiments/runtool.yml does not exist at bare: every job is new." in diff(repo, "bare", fmt="table").stdout


def test_working_tree_is_not_touched(repo: Path):
    edit(repo / "experiments/configs/datasets.yml", "prediction_length: 14", "prediction_length: 28")
    (repo / "untracked.txt").write_text("keep me")
    before = git(repo, "status", "--porcelain", "--untracked-files=all")
    files = sorted(p for p in repo.rglob("*") if ".git" not in p.parts)
    assert as_json(diff(repo, "HEAD"))["totals"]["changed"] > 0
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == before
    assert sorted(p for p in repo.rglob("*") if ".git" not in p.parts) == files


def test_errors(repo: Path, tmp_path: Path):
    result = diff(repo, "no-such-branch")
    assert result.exit_code == 1
    assert "git ref 'no-such-branch' does not exist" in result.output

    outside = tmp_path / "outside"
    shutil.copytree(repo / "experiments", outside)
    result = CliRunner().invoke(main, ["diff", "HEAD", "--project", str(outside)])
    assert result.exit_code == 1 and "is not inside a git repository" in result.output

    result = diff(repo, "HEAD", "--experiment", "nope")
    assert result.exit_code == 1 and "no experiment 'nope'" in result.output

    # A config that was broken at the base ref: located at <ref>:<path>, not in a temporary folder.
    edit(repo / "experiments/configs/datasets.yml", "season_length: 7}", "season_length: 7")
    git(repo, "commit", "-q", "-am", "broken")
    git(repo, "revert", "--no-edit", "HEAD")
    result = diff(repo, "HEAD~1")
    assert result.exit_code == 1
    assert result.stdout.startswith("HEAD~1:experiments/configs/datasets.yml:")
