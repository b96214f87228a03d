"""A dry run a reviewer can read: every grid point is told apart (issue 14, deliverable 11)."""

from __future__ import annotations

from click.testing import CliRunner

from runtool_iac import render
from runtool_iac.cli import main
from runtool_iac.plan import build_plan

from conftest import load

# 3 trial-dependent context lengths × 3 layer counts × 3 learning rates × 2 dropouts = 54 points.
GRID = """
deepar:
  image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/gluonts:deepar
  instance: ml.m5.xlarge
  hyperparameters:
    freq: {$eval: $trial.dataset.meta.freq}
    prediction_length: {$eval: $trial.dataset.meta.prediction_length}
    epochs: 100
    context_length:
      $each:
        - {$eval: "$trial.dataset.meta.prediction_length"}
        - {$eval: "2 * $trial.dataset.meta.prediction_length"}
        - {$eval: "4 * $trial.dataset.meta.prediction_length"}
    num_layers: {$each: [1, 2, 3]}
    learning_rate: {$each: [0.001, 0.003, 0.01]}
    dropout_rate: {$each: [0.1, 0.2]}
electricity:
  meta: {freq: H, prediction_length: 24}
  path: {train: s3://my-bucket/electricity/train/, test: s3://my-bucket/electricity/test/}
traffic:
  meta: {freq: H, prediction_length: 48}
  path: {train: s3://my-bucket/traffic/train/, test: s3://my-bucket/traffic/test/}
datasets: [{$ref: electricity}, {$ref: traffic}]
"""
# Set aside when telling rows apart: they are unique by construction.
UNIQUE_BY_CONSTRUCTION = ("job_name", "run", "output_path", "tags")


def parse_table(text: str) -> list[dict[str, str]]:
    """The rows of render.table's text table, sliced by the widths of its dashed rule."""
    lines = text.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("---"))
    header, widths = lines[rule - 1], [len(dash) for dash in lines[rule].split("  ")]
    starts = [sum(widths[:i]) + 2 * i for i in range(len(widths))]
    names = [header[s : s + w].strip() for s, w in zip(starts, widths)]
    rows = []
    for line in lines[rule + 1 :]:
        if not line.strip():
            break
        rows.append({n: line[s : s + w].strip() for n, s, w in zip(names, starts, widths)})
    return rows


def test_every_row_of_a_54_point_trial_dependent_grid_is_distinct_in_the_table():
    config = load(GRID)
    planned = build_plan(config.deepar * config.datasets, runs=2)
    assert len(planned) == 54 * 2 * 2
    text = render.table(planned)
    assert "$eval" not in text
    rows = parse_table(text)
    assert len(rows) == 216
    shown = {tuple(v for k, v in row.items() if k not in UNIQUE_BY_CONSTRUCTION) for row in rows if row["run"] == "0"}
    assert len(shown) == 108  # every (algorithm, dataset, hyperparameters) combination visible
    # Labels: the resolved values of the varying axes, also of the trial-dependent one.
    labels = {(row["algorithm"], row["dataset"]) for row in rows}
    assert len(labels) == 108
    point = "deepar[context_length=96,num_layers=2,learning_rate=0.003,dropout_rate=0.1]"
    assert (point, "electricity") in labels and (point, "traffic") in labels  # 4 × 24 and 2 × 48
    # Constant hyperparameters once above the table; the varying ones in full in the column.
    assert text.splitlines()[0] == 'hyperparameters of every job: {"freq":"H","epochs":"100"}'
    first = rows[0]["hyperparameters"]
    assert first == '{"prediction_length":"24","context_length":"24","num_layers":"1","learning_rate":"0.001","dropout_rate":"0.1"}'


def test_the_markdown_tells_trials_apart_and_stays_within_githubs_comment_limit():
    config = load(GRID)
    planned = build_plan(config.deepar * config.datasets, runs=3)
    text = render.markdown(planned)
    rows = [line for line in text.splitlines() if line.startswith("| `deepar-")]
    assert len(rows) == 108 and len(set(r.split(" | ", 1)[1] for r in rows)) == 108  # distinct without the job name
    assert "$eval" not in text and "Same for every job: instance `ml.m5.xlarge`" in text
    # A plan far beyond a comment: whole rows until the limit, then a pointer to the JSON.
    many = "\n".join(f"d{i}: {{meta: {{freq: H, prediction_length: {i + 1}}}, path: {{train: s3://b/{i}/}}}}" for i in range(60))
    big = load(GRID + many + "\nall: [" + ", ".join(f"{{$ref: d{i}}}" for i in range(60)) + "]\n")
    huge = build_plan(big.deepar * big.all)
    text = render.markdown(huge)
    assert len(text) <= 65_536
    assert "more trials: the full plan is the JSON" in text
    assert all(line.endswith(" |") for line in text.splitlines() if line.startswith("| "))


def test_plan_cli_table_and_markdown_show_the_grid(tmp_path):
    path = tmp_path / "grid.yml"
    path.write_text(GRID)
    for fmt in ("table", "markdown"):
        result = CliRunner().invoke(main, ["plan", str(path), "-e", "deepar * datasets", "--format", fmt])
        assert result.exit_code == 0
        assert "context_length=192" in result.stdout and "$eval" not in result.stdout
