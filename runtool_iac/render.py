"""Human views of a plan: the dry-run table, a pull-request markdown summary.

Plain text, no terminal-width dependence and no colours, so the output is the
same on every machine and can be committed, diffed and pasted into reviews.

A reviewer must be able to tell every trial apart: labels show the resolved
values of the axes that vary (``plan`` builds them), the hyperparameters
column shows in full the values that differ between trials, and what is the
same for every job is said once above the table instead of on every row.
"""

from __future__ import annotations

import json

from runtool_iac.plan import SYSTEM_TAGS, Job, Plan
from runtool_iac.records import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Iterable

COLUMNS = ("job_name", "run", "algorithm", "dataset", "instance", "image", "hyperparameters", "output_path", "tags")
# GitHub refuses comments over 65,536 characters; the rest of the plan is the JSON artefact.
MARKDOWN_MAX_CHARS = 60_000
# Columns the markdown drops (and states once) when every job has the same value.
SUMMARISABLE = ("instance", "image", "tags")


def _json(value: dict) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class _Constants(Record):
    """What every job of the plan shares: hyperparameters, and whole columns."""

    __slots__ = ("hyperparameters", "columns")

    def __init__(self, hyperparameters: dict[str, str], columns: dict[str, str]) -> None:
        self.hyperparameters, self.columns = hyperparameters, columns

    @classmethod
    def of(cls, plan: Plan) -> "_Constants":
        distinct = list({id(j.request["HyperParameters"]): j.request["HyperParameters"] for j in plan.jobs}.values())
        distinct = list({_json(d): d for d in distinct}.values())
        shared: dict[str, str] = {}
        if len(distinct) > 1:  # with one set of hyperparameters, the column shows it whole
            first = distinct[0]
            shared = {k: v for k, v in first.items() if all(d.get(k) == v for d in distinct[1:])}
        seen = {column: {_cell(job, column) for job in plan.jobs} for column in SUMMARISABLE}
        return cls(shared, {column: values.pop() for column, values in seen.items() if len(values) == 1})

    def lines(self) -> list[str]:
        if not self.hyperparameters:
            return []
        return [f"hyperparameters of every job: {_json(self.hyperparameters)}"]


def _cell(job: Job, column: str) -> str:
    request = job.request
    if column == "instance":
        return request["ResourceConfig"]["InstanceType"]
    if column == "image":
        return request["AlgorithmSpecification"]["TrainingImage"]
    return ",".join(f"{t['Key']}={t['Value']}" for t in request["Tags"] if t["Key"] not in SYSTEM_TAGS)


def _cells(job: Job, shared: dict[str, str]) -> dict[str, str]:
    request = job.request
    differing = {k: v for k, v in request["HyperParameters"].items() if k not in shared}
    return {
        "job_name": request["TrainingJobName"],
        "run": str(job.run),
        "algorithm": job.algorithm,
        "dataset": job.dataset,
        "instance": _cell(job, "instance"),
        "image": _cell(job, "image"),
        "hyperparameters": _json(differing),
        "output_path": request["OutputDataConfig"]["S3OutputPath"],
        "tags": _cell(job, "tags"),
    }


def summary_lines(plan: Plan) -> list[str]:
    lines = [f"total number of jobs: {len(plan)}"]
    if plan.trials:
        lines.append(f"trials: {plan.trials} × runs: {plan.runs}")
    if plan.duplicates_note():
        lines.append(plan.duplicates_note())
    for instance, count in plan.instance_counts().items():
        lines.append(f"  {instance}: {count}")
    lines.append(f"instance-hours upper bound (MaxRuntimeInSeconds): {plan.instance_hours_bound():,.1f}")
    return lines


def table(plan: Plan, columns: Iterable[str] = COLUMNS) -> str:
    """The original runtool's dry-run table (every cell in full), the hyperparameters
    every job shares above it, and the job counts below."""
    columns = list(columns)
    constants = _Constants.of(plan)
    rows = [[cells[c] for c in columns] for cells in (_cells(job, constants.hyperparameters) for job in plan.jobs)]
    above = "".join(line + "\n" for line in constants.lines())
    return above + text_table(columns, rows) + "\n" + "\n".join(summary_lines(plan)) + "\n"


def text_table(header: list[str], rows: list[list[str]]) -> str:
    """Left-aligned columns under a dashed rule; the one table format of every command."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return f"`{text}`" if text and "`" not in text else _md(text)


def markdown(plan: Plan, title: str | None = None, max_chars: int = MARKDOWN_MAX_CHARS) -> str:
    """A pull-request comment: counts, what every job shares, then one row per trial
    (its run-0 job name) until ``max_chars`` — whole rows only; the full plan is the
    JSON artefact (``--format json``)."""
    constants = _Constants.of(plan)
    out = [f"### {title or plan.experiment_name}: {len(plan)} training jobs", ""]
    out += ["| instance type | jobs |", "|---|---:|"]
    out += [f"| `{i}` | {n} |" for i, n in plan.instance_counts().items()]
    out += ["", f"Trials: {plan.trials} × runs: {plan.runs}. Instance-hours upper bound: {plan.instance_hours_bound():,.1f}."]
    if plan.duplicates_note():
        out.append(f"Note: {plan.duplicates_note()}.")
    same = [f"{c} {_code(v)}" for c, v in constants.columns.items() if v]
    if constants.hyperparameters:
        same.append(f"hyperparameters {_code(_json(constants.hyperparameters))}")
    if same:
        out.append("Same for every job: " + "; ".join(same) + ".")
    columns = ["job name", "algorithm", "dataset"] + [c for c in ("instance", "image") if c not in constants.columns]
    columns += ["hyperparameters"] + (["tags"] if "tags" not in constants.columns else [])
    out += ["", f"<details><summary>Trials ({plan.trials})</summary>", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    closing = ["", "</details>", ""]
    used = sum(len(line) + 1 for line in out + closing) + 200  # room for the "more trials" line
    firsts = [job for job in plan.jobs if job.run == 0]
    shown = 0
    for job in firsts:
        cells = _cells(job, constants.hyperparameters)
        cells["job name"] = cells["job_name"] + (f" (+{plan.runs - 1} runs)" if plan.runs > 1 else "")
        row = "| " + " | ".join(_code(cells[c]) if c in ("job name", "image") else _md(cells[c]) for c in columns) + " |"
        if used + len(row) + 1 > max_chars:
            break
        out.append(row)
        used += len(row) + 1
        shown += 1
    if shown < len(firsts):
        out.append(f"\n… and {len(firsts) - shown} more trials: the full plan is the JSON (`runtool-iac plan --format json`).")
    return "\n".join(out + closing)
