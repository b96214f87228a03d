"""Human views of a plan: the dry-run table, a pull-request markdown summary.

Plain text, no terminal-width dependence and no colours, so the output is the
same on every machine and can be committed, diffed and pasted into reviews.
"""

from __future__ import annotations

import json
from typing import Iterable

from runtool_iac.plan import SYSTEM_TAGS, Job, Plan

COLUMNS = ("job_name", "run", "algorithm", "dataset", "instance", "image", "hyperparameters", "output_path", "tags")
MARKDOWN_MAX_ROWS = 200
CELL_MAX = 80


def _cells(job: Job) -> dict[str, str]:
    request = job.request
    user_tags = {t["Key"]: t["Value"] for t in request["Tags"] if t["Key"] not in SYSTEM_TAGS}
    return {
        "job_name": request["TrainingJobName"],
        "run": str(job.run),
        "algorithm": job.algorithm,
        "dataset": job.dataset,
        "instance": request["ResourceConfig"]["InstanceType"],
        "image": request["AlgorithmSpecification"]["TrainingImage"],
        "hyperparameters": json.dumps(request["HyperParameters"], separators=(",", ":"), ensure_ascii=False),
        "output_path": request["OutputDataConfig"]["S3OutputPath"],
        "tags": ",".join(f"{k}={v}" for k, v in user_tags.items()),
    }


def _clip(text: str, width: int = CELL_MAX) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def summary_lines(plan: Plan) -> list[str]:
    lines = [f"total number of jobs: {len(plan)}"]
    if plan.trials:
        lines.append(f"trials: {plan.trials} × runs: {plan.runs}")
    if plan.duplicate_trials:
        lines.append(f"duplicate trials skipped: {plan.duplicate_trials}")
    for instance, count in plan.instance_counts().items():
        lines.append(f"  {instance}: {count}")
    lines.append(f"instance-hours upper bound (MaxRuntimeInSeconds): {plan.instance_hours_bound():,.1f}")
    return lines


def table(plan: Plan, columns: Iterable[str] = COLUMNS) -> str:
    """The original runtool's dry-run table, followed by the job counts."""
    columns = list(columns)
    rows = [[_clip(_cells(job)[c]) for c in columns] for job in plan.jobs]
    return text_table(columns, rows) + "\n" + "\n".join(summary_lines(plan)) + "\n"


def text_table(header: list[str], rows: list[list[str]]) -> str:
    """Left-aligned columns under a dashed rule; the one table format of every command."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(plan: Plan, title: str | None = None) -> str:
    """A pull-request comment: counts first, then the jobs (capped for comment size limits)."""
    out = [f"### {title or plan.experiment_name}: {len(plan)} training jobs", ""]
    out += ["| instance type | jobs |", "|---|---:|"]
    out += [f"| `{i}` | {n} |" for i, n in plan.instance_counts().items()]
    out += [
        "",
        f"Trials: {plan.trials} × runs: {plan.runs}. "
        f"Instance-hours upper bound: {plan.instance_hours_bound():,.1f}.",
        "",
        "<details><summary>Jobs</summary>",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for job in plan.jobs[:MARKDOWN_MAX_ROWS]:
        cells = _cells(job)
        out.append("| " + " | ".join(_md_escape(_clip(cells[c])) for c in COLUMNS) + " |")
    if len(plan) > MARKDOWN_MAX_ROWS:
        out.append(f"\n… and {len(plan) - MARKDOWN_MAX_ROWS} more jobs (see the .plan.json file).")
    out += ["", "</details>", ""]
    return "\n".join(out)
