"""What a change to the configs does to the planned jobs (``runtool-iac diff``).

Both sides are planned the ordinary way (pure, no AWS, no CDK): the working
tree as it is, and the project as it was at a git ref, materialized into a
temporary folder with ``git archive`` (the project file plus the files its
``configs`` patterns match at that ref). The working tree is never touched.

How jobs are matched
--------------------
By (experiment, algorithm label, dataset label, run), not by TrainingJobName:
a job name embeds a hash of its trial (the algorithm's and dataset's values),
so matching by name would show any edit of a hyperparameter, image or path as
one job removed and another added. Matched this way, such an edit is one
*changed* job, listed with the request fields that changed (its name among
them). A job is *added* or *removed* when its (algorithm, dataset, run) is new
or gone: more or fewer runs, a new dataset, or a changed ``$each`` value (which
is part of the variant's label, e.g. ``autoregression[ridge=10.0]``). If a
label pair occurs twice in one plan, those jobs are matched by name instead.
"""

from __future__ import annotations

import glob
import io
import json
import os
import posixpath
import subprocess
import tarfile
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

import yaml

from runtool_iac.errors import ConfigError, Location, Problem
from runtool_iac.plan import Job, Plan
from runtool_iac.project import Project, find_project_file, load_project, PROJECT_FILE

HEAD_LABEL = "working tree"
MATCHING_NOTE = (
    "Jobs are matched by experiment, algorithm, dataset and run. A job name embeds a hash of its trial, "
    "so a job whose request changed usually has a new TrainingJobName too: it is listed as changed "
    "(with the fields that changed), not as removed + added. A changed $each value changes the variant's "
    "label and shows as removed + added."
)
LIST_MAX = 50  # jobs listed per section and experiment in the table and markdown views
CHANGES_MAX = 6  # changed values shown per job in those views
VALUE_MAX = 60


# ----------------------------------------------------------------- model


@dataclass(frozen=True)
class JobRef:
    name: str
    algorithm: str
    dataset: str
    run: int

    @classmethod
    def of(cls, job: Job) -> "JobRef":
        return cls(job.name, job.algorithm, job.dataset, job.run)

    def to_json(self) -> dict:
        return {"name": self.name, "algorithm": self.algorithm, "dataset": self.dataset, "run": self.run}


@dataclass(frozen=True)
class Change:
    """One changed value: a dotted path into the request (tags and channels keyed by name)."""

    path: str
    base: Any
    head: Any


@dataclass(frozen=True)
class ChangedJob:
    base: JobRef
    head: JobRef
    fields: tuple[str, ...]  # top-level request fields that differ
    changes: tuple[Change, ...]

    def to_json(self) -> dict:
        return {
            "algorithm": self.head.algorithm,
            "dataset": self.head.dataset,
            "run": self.head.run,
            "base_name": self.base.name,
            "head_name": self.head.name,
            "fields": list(self.fields),
            "changes": [{"path": c.path, "base": c.base, "head": c.head} for c in self.changes],
        }


@dataclass
class ExperimentDiff:
    name: str
    base_jobs: int | None  # None: the experiment is not declared on that side
    head_jobs: int | None
    added: list[JobRef] = field(default_factory=list)
    removed: list[JobRef] = field(default_factory=list)
    changed: list[ChangedJob] = field(default_factory=list)
    unchanged: int = 0

    @property
    def status(self) -> str:
        if self.base_jobs is None:
            return "new"
        if self.head_jobs is None:
            return "deleted"
        return "changed" if self.added or self.removed or self.changed else "unchanged"

    def field_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(f for job in self.changed for f in job.fields).items()))

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "status": self.status,
            "base_jobs": self.base_jobs,
            "head_jobs": self.head_jobs,
            "added": [j.to_json() for j in self.added],
            "removed": [j.to_json() for j in self.removed],
            "changed": [j.to_json() for j in self.changed],
            "unchanged": self.unchanged,
            "changed_fields": self.field_counts(),
        }


@dataclass
class PlanDiff:
    base: str  # the git ref as given
    head: str
    project_file: str  # relative to the repository root
    experiments: list[ExperimentDiff]
    base_has_project: bool = True

    def totals(self) -> dict[str, int]:
        return {
            "base_jobs": sum(e.base_jobs or 0 for e in self.experiments),
            "head_jobs": sum(e.head_jobs or 0 for e in self.experiments),
            "added": sum(len(e.added) for e in self.experiments),
            "removed": sum(len(e.removed) for e in self.experiments),
            "changed": sum(len(e.changed) for e in self.experiments),
            "unchanged": sum(e.unchanged for e in self.experiments),
        }

    def to_json(self) -> dict:
        return {
            "base": self.base,
            "head": self.head,
            "project_file": self.project_file,
            "base_has_project": self.base_has_project,
            "matched_by": ["experiment", "algorithm", "dataset", "run"],
            "note": MATCHING_NOTE,
            "totals": self.totals(),
            "experiments": [e.to_json() for e in self.experiments],
        }


# ------------------------------------------------------------ comparing


def _key(job: Job, duplicated: bool) -> tuple:
    key = (job.algorithm, job.dataset, job.run)
    return key + (job.name,) if duplicated else key


def _keyed(plan: Plan | None) -> dict[tuple, Job]:
    jobs = plan.jobs if plan is not None else []
    counts = Counter((j.algorithm, j.dataset, j.run) for j in jobs)
    return {_key(j, counts[(j.algorithm, j.dataset, j.run)] > 1): j for j in jobs}


def _by_name(items: Any, name_key: str) -> Any:
    """A list of {name_key: ..., ...} as a mapping by that name (when the names are unique)."""
    if isinstance(items, list) and all(isinstance(i, dict) and name_key in i for i in items):
        names = [i[name_key] for i in items]
        if len(set(names)) == len(names):
            return {str(i[name_key]): {k: v for k, v in i.items() if k != name_key} for i in items}
    return items


def _normalized(request: dict) -> dict:
    """Lists that are really keyed by a name become mappings, so changes read ``Tags.team``."""
    out = dict(request)
    tags = out.get("Tags")
    if isinstance(tags, list) and all(isinstance(t, dict) and "Key" in t for t in tags):
        out["Tags"] = {str(t["Key"]): t.get("Value") for t in tags}
    if "InputDataConfig" in out:
        out["InputDataConfig"] = _by_name(out["InputDataConfig"], "ChannelName")
    spec = out.get("AlgorithmSpecification")
    if isinstance(spec, dict) and "MetricDefinitions" in spec:
        out["AlgorithmSpecification"] = {**spec, "MetricDefinitions": _by_name(spec["MetricDefinitions"], "Name")}
    return out


_ABSENT = None


def _leaf_changes(base: Any, head: Any, path: str) -> Iterator[Change]:
    if base == head:
        return
    if isinstance(base, dict) and isinstance(head, dict):
        for key in [*base, *(k for k in head if k not in base)]:
            yield from _leaf_changes(base.get(key, _ABSENT), head.get(key, _ABSENT), f"{path}.{key}")
    elif isinstance(base, list) and isinstance(head, list) and len(base) == len(head):
        for i, (b, h) in enumerate(zip(base, head)):
            yield from _leaf_changes(b, h, f"{path}[{i}]")
    else:
        yield Change(path, base, head)


def compare_requests(base: dict, head: dict) -> tuple[tuple[str, ...], tuple[Change, ...]]:
    """The top-level fields that differ, and each changed value."""
    fields = tuple(k for k in [*base, *(k for k in head if k not in base)] if base.get(k) != head.get(k))
    b, h = _normalized(base), _normalized(head)
    changes = tuple(c for f in fields for c in _leaf_changes(b.get(f), h.get(f), f))
    return fields, changes


def compare_plans(name: str, base: Plan | None, head: Plan | None) -> ExperimentDiff:
    old, new = _keyed(base), _keyed(head)
    diff = ExperimentDiff(name, len(base) if base is not None else None, len(head) if head is not None else None)
    for key, job in new.items():
        before = old.get(key)
        if before is None:
            diff.added.append(JobRef.of(job))
        elif before.request == job.request:
            diff.unchanged += 1
        else:
            fields, changes = compare_requests(before.request, job.request)
            diff.changed.append(ChangedJob(JobRef.of(before), JobRef.of(job), fields, changes))
    diff.removed = [JobRef.of(job) for key, job in old.items() if key not in new]
    return diff


def diff_projects(
    base: dict[str, Plan],
    head: dict[str, Plan],
    *,
    base_label: str,
    head_label: str = HEAD_LABEL,
    project_file: str = PROJECT_FILE,
    base_has_project: bool = True,
) -> PlanDiff:
    names = [*head, *sorted(n for n in base if n not in head)]
    experiments = [compare_plans(n, base.get(n), head.get(n)) for n in names]
    return PlanDiff(base_label, head_label, project_file, experiments, base_has_project)


# ------------------------------------------------------------------ git


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, check=False)
    except FileNotFoundError:
        raise ValueError("git is not installed; runtool-iac diff compares the project with a git ref") from None


def repository_root(path: Path) -> Path:
    found = _git(path, "rev-parse", "--show-toplevel")
    if found.returncode != 0:
        raise ValueError(f"{path} is not inside a git repository; runtool-iac diff compares the project with a git ref")
    return Path(found.stdout.decode().strip())


def resolve_ref(root: Path, ref: str) -> str:
    """The commit a ref names (a branch, tag, remote branch or commit)."""
    if not ref or ref.startswith("-"):
        raise ValueError(f"invalid git ref {ref!r}")
    found = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if found.returncode != 0:
        raise ValueError(
            f"git ref {ref!r} does not exist in {root}"
            " (for a pull request's base branch, fetch it first, e.g. `git fetch origin main`"
            " and compare with origin/main)"
        )
    return found.stdout.decode().strip()


def _extract(archive: bytes, dest: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")


def materialize(root: Path, commit: str, project_rel: PurePosixPath, dest: Path) -> Path | None:
    """Write the project file at ``commit`` and the files its config patterns match into ``dest``.

    Returns the project file's path under ``dest``, or None if it does not
    exist at that commit. Patterns become git ``:(glob)`` pathspecs, which
    match at least what Python's glob matches, and ``load_project`` then
    applies the patterns itself.
    """
    shown = _git(root, "show", f"{commit}:{project_rel.as_posix()}")
    if shown.returncode != 0:
        return None
    project_file = dest / project_rel
    project_file.parent.mkdir(parents=True, exist_ok=True)
    project_file.write_bytes(shown.stdout)
    try:
        raw = yaml.safe_load(shown.stdout)
    except yaml.YAMLError:
        raw = None  # load_project reports it, with its location
    patterns = raw.get("configs") if isinstance(raw, dict) else None
    for pattern in patterns if isinstance(patterns, list) else []:
        if not isinstance(pattern, str) or os.path.isabs(pattern):
            continue
        path = posixpath.normpath(posixpath.join(project_rel.parent.as_posix(), pattern))
        if path == ".." or path.startswith("../"):
            continue  # outside the repository: load_project will say that nothing matches
        pathspec = f":(glob){path}" if glob.has_magic(pattern) else f":(literal){path}"
        archived = _git(root, "archive", "--format=tar", commit, "--", pathspec)
        if archived.returncode == 0:
            _extract(archived.stdout, dest)
        elif b"did not match any files" not in archived.stderr:
            raise ValueError(f"git archive {commit} {pathspec} failed: {archived.stderr.decode().strip()}")
    return project_file


def _relocated(error: ConfigError, tmp: Path, ref: str) -> ConfigError:
    """A base-side error, pointing at ``<ref>:<path>`` instead of the temporary folder."""
    prefix = str(tmp) + os.sep

    def where(location: Location | None) -> Location | None:
        if location is None or not location.file.startswith(prefix):
            return location
        return Location(f"{ref}:{location.file[len(prefix):]}", location.line, location.column)

    return ConfigError(problems=[Problem(p.message, where(p.location), p.path) for p in error.problems])


def _plans(project: Project, only: str | None) -> dict[str, Plan]:
    names = [n for n in project.experiments if only is None or n == only]
    return {name: project.plan(name) for name in names}


def diff_with_ref(base_ref: str, project_file: str | Path | None = None, experiment: str | None = None) -> PlanDiff:
    """Plan every declared experiment at ``base_ref`` and in the working tree, and compare."""
    file = Path(project_file) if project_file else find_project_file()
    if file.is_dir():
        file = file / PROJECT_FILE
    head_project = load_project(file)
    root = repository_root(head_project.file.resolve().parent)
    commit = resolve_ref(root, base_ref)
    project_rel = PurePosixPath(head_project.file.resolve().relative_to(root.resolve()).as_posix())

    base_experiments: dict = {}
    base_plans: dict[str, Plan] = {}
    with tempfile.TemporaryDirectory(prefix="runtool-diff-") as tmp:
        tmp_path = Path(tmp).resolve()
        base_file = materialize(root, commit, project_rel, tmp_path)
        if base_file is not None:
            try:
                base_project = load_project(base_file)
                base_experiments = base_project.experiments
                base_plans = _plans(base_project, experiment)  # configs are read here, inside tmp
            except ConfigError as error:
                raise _relocated(error, tmp_path, base_ref) from None
    if experiment is not None and experiment not in head_project.experiments and experiment not in base_experiments:
        head_project.experiment(experiment)  # raises: no such experiment (lists the declared ones)
    head_plans = _plans(head_project, experiment)
    return diff_projects(
        base_plans,
        head_plans,
        base_label=base_ref,
        project_file=project_rel.as_posix(),
        base_has_project=base_file is not None,
    )


# ------------------------------------------------------------ rendering


def _value(value: Any) -> str:
    text = "(absent)" if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= VALUE_MAX else text[: VALUE_MAX - 1] + "…"


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _rows(diff: PlanDiff) -> list[list[str]]:
    rows = [
        [e.name, _count(e.base_jobs), _count(e.head_jobs), str(len(e.added)), str(len(e.removed)), str(len(e.changed)), str(e.unchanged)]
        for e in diff.experiments
    ]
    t = diff.totals()
    rows.append(["total", *(str(t[k]) for k in ("base_jobs", "head_jobs", "added", "removed", "changed", "unchanged"))])
    return rows


HEADER = ["experiment", "base", "head", "added", "removed", "changed", "unchanged"]


def _preamble(diff: PlanDiff) -> list[str]:
    lines = []
    if not diff.base_has_project:
        lines.append(f"{diff.project_file} does not exist at {diff.base}: every job is new.")
    for e in diff.experiments:
        if e.status == "new" and diff.base_has_project:
            lines.append(f"Experiment '{e.name}' is new (not declared at {diff.base}).")
        elif e.status == "deleted":
            lines.append(f"Experiment '{e.name}' was removed from {diff.project_file}.")
    return lines


def table(diff: PlanDiff) -> str:
    out = [f"plan diff: {diff.base} → {diff.head} ({diff.project_file})", ""]
    rows = [HEADER, *_rows(diff)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    for row in rows:
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip())
    out += ["", *_preamble(diff), MATCHING_NOTE]
    for e in diff.experiments:
        if e.status == "unchanged":
            continue
        out += ["", f"{e.name}: +{len(e.added)} added, -{len(e.removed)} removed, ~{len(e.changed)} changed"]
        counts = e.field_counts()
        if counts:
            out.append("  changed fields: " + ", ".join(f"{f} ×{n}" for f, n in counts.items()))
        for job in e.changed[:LIST_MAX]:
            out.append(f"  ~ {job.head.name}  {job.head.algorithm} × {job.head.dataset}, run {job.head.run}: {', '.join(job.fields)}")
            for change in job.changes[:CHANGES_MAX]:
                out.append(f"      {change.path}: {_value(change.base)} → {_value(change.head)}")
            if len(job.changes) > CHANGES_MAX:
                out.append(f"      … {len(job.changes) - CHANGES_MAX} more changed values")
        out += _more(len(e.changed), "changed", "  ")
        for sign, jobs, what in (("+", e.added, "added"), ("-", e.removed, "removed")):
            out += [f"  {sign} {j.name}  {j.algorithm} × {j.dataset}, run {j.run}" for j in jobs[:LIST_MAX]]
            out += _more(len(jobs), what, "  ")
    if not any(e.status != "unchanged" for e in diff.experiments):
        out += ["", "no job changes"]
    return "\n".join(out) + "\n"


def _more(total: int, what: str, indent: str) -> list[str]:
    return [f"{indent}… and {total - LIST_MAX} more {what} jobs (use --format json for all)"] if total > LIST_MAX else []


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(diff: PlanDiff) -> str:
    out = [f"### Plan diff: `{diff.base}` → {diff.head}", ""]
    out += ["| " + " | ".join(HEADER) + " |", "|---|" + "---:|" * (len(HEADER) - 1)]
    for row in _rows(diff):
        name = f"**{row[0]}**" if row[0] == "total" else f"`{row[0]}`"
        out.append("| " + " | ".join([name, *row[1:]]) + " |")
    out += [""] + [f"> {line}" for line in _preamble(diff)] + ([""] if _preamble(diff) else [])
    out += [f"<sub>{MATCHING_NOTE}</sub>", ""]
    for e in diff.experiments:
        if e.status == "unchanged":
            continue
        counts = e.field_counts()
        out += [
            f"<details><summary><b>{e.name}</b>: +{len(e.added)} added, −{len(e.removed)} removed, ~{len(e.changed)} changed"
            + (" (" + ", ".join(f"{f} ×{n}" for f, n in counts.items()) + ")" if counts else "")
            + "</summary>",
            "",
            "| | job | algorithm | dataset | run | changes |",
            "|---|---|---|---|---:|---|",
        ]
        for job in e.changed[:LIST_MAX]:
            shown = [f"`{_md(c.path)}`: `{_md(_value(c.base))}` → `{_md(_value(c.head))}`" for c in job.changes[:CHANGES_MAX]]
            if len(job.changes) > CHANGES_MAX:
                shown.append(f"… {len(job.changes) - CHANGES_MAX} more")
            out.append(
                f"| ~ | `{job.head.name}` | {_md(job.head.algorithm)} | {_md(job.head.dataset)} | {job.head.run} | "
                + "<br>".join(shown)
                + " |"
            )
        for sign, jobs in (("+", e.added), ("−", e.removed)):
            out += [f"| {sign} | `{j.name}` | {_md(j.algorithm)} | {_md(j.dataset)} | {j.run} | |" for j in jobs[:LIST_MAX]]
        hidden = sum(max(len(x) - LIST_MAX, 0) for x in (e.changed, e.added, e.removed))
        if hidden:
            out.append(f"\n… and {hidden} more jobs (`runtool-iac diff {diff.base} --format json` lists all).")
        out += ["", "</details>", ""]
    if not any(e.status != "unchanged" for e in diff.experiments):
        out += ["No job changes.", ""]
    return "\n".join(out)


def to_json(diff: PlanDiff) -> str:
    return json.dumps(diff.to_json(), ensure_ascii=False, indent=2) + "\n"
