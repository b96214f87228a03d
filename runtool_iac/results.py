"""Job results in Step Functions' ResultWriter format, read back into tables.

A Distributed Map with a ResultWriter leaves, per map run,
``<prefix>/<map-run-id>/manifest.json`` and ``SUCCEEDED_n.json`` /
``FAILED_n.json`` / ``PENDING_n.json``: JSON arrays of child executions, each
with the item ``Input`` and the ``Output`` (succeeded) or ``Error``/``Cause``
(failed). Local mode writes the same files, so one reader serves both, and
``runtool-iac results --pivot`` works on a cloud execution or a local folder.

What the state machine puts in them (see constructs/experiment.py):
- ``Output``: ``{"job": <manifest job>, "result": <trimmed DescribeTrainingJob>}``
- ``Cause`` of a failed item: ``{"job": <manifest job>, "error": ..., "cause": ...}``
  where ``cause`` is the task's own Cause (for a failed training job, the
  DescribeTrainingJob JSON with ``FailureReason``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import stat
import statistics
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from runtool_iac.render import text_table

RESULT_KINDS = ("SUCCEEDED", "FAILED", "PENDING")
COLUMNS = (
    "job_name", "algorithm", "dataset", "run", "status", "duration_s", "billable_s", "failure_reason", "metrics",
)


@dataclass
class JobResult:
    job_name: str
    algorithm: str
    dataset: str
    run: int
    status: str  # Completed | Failed | Stopped | Aborted | Pending
    failure_reason: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    training_seconds: float | None = None
    billable_seconds: float | None = None
    model_artifacts: str | None = None
    instance_type: str = ""
    run_configuration_id: str = ""
    key: str = ""  # the job key (jobkey.py): equal keys computed the same thing
    execution: str = ""  # set when results of several executions are combined

    def row(self) -> dict[str, Any]:
        return {
            "job_name": self.job_name,
            "algorithm": self.algorithm,
            "dataset": self.dataset,
            "run": self.run,
            "status": self.status,
            "duration_s": _num(self.training_seconds),
            "billable_s": _num(self.billable_seconds),
            "failure_reason": self.failure_reason,
            "metrics": ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(self.metrics.items())),
            "execution": self.execution,
        }


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _fmt(value: float) -> str:
    return f"{value:.4g}"


# ----------------------------------------------------------------- writing


def succeeded_entry(job_input: dict, result: dict, name: str) -> dict:
    """A SUCCEEDED_n.json entry as a Distributed Map writes it (fields we read)."""
    return {
        "Name": name,
        "Status": "SUCCEEDED",
        "Input": json.dumps(job_input, separators=(",", ":")),
        "Output": json.dumps({"job": job_input["job"], "result": result}, separators=(",", ":")),
    }


def failed_entry(job_input: dict, error: str, cause: str, name: str, status: str = "FAILED") -> dict:
    return {
        "Name": name,
        "Status": status,
        "Input": json.dumps(job_input, separators=(",", ":")),
        "Error": "TrainingJobFailed",
        "Cause": json.dumps({"job": job_input["job"], "error": error, "cause": cause}, separators=(",", ":")),
    }


def write_result_files(folder: Path, entries: Iterable[dict], generation: int = 0) -> Path:
    """Write ResultWriter-style files for ``entries`` into ``folder`` (created).

    Files are named ``<KIND>_<generation>.json``; each is written atomically
    and ``manifest.json`` last, then result files of other generations are
    removed. So a folder rewritten with a new generation as jobs end (local
    mode does) always holds one consistent set, whenever the writer is killed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    by_kind: dict[str, list[dict]] = {kind: [] for kind in RESULT_KINDS}
    for entry in entries:
        kind = "SUCCEEDED" if entry["Status"] == "SUCCEEDED" else ("PENDING" if entry["Status"] == "PENDING" else "FAILED")
        by_kind[kind].append(entry)
    files: dict[str, list[dict]] = {}
    for kind, items in by_kind.items():
        files[kind] = []
        if items:
            name = f"{kind}_{generation}.json"
            text = json.dumps(items, indent=1)
            _atomic_write(folder / name, text)
            files[kind].append({"Key": name, "Size": len(text)})
    manifest = {"DestinationBucket": None, "MapRunArn": None, "ResultFiles": files}
    _atomic_write(folder / "manifest.json", json.dumps(manifest, indent=1))
    kept = {ref["Key"] for refs in files.values() for ref in refs}
    for stale in folder.iterdir():
        if _RESULT_FILE.match(stale.name) and stale.name not in kept:
            stale.unlink(missing_ok=True)
    return folder


_RESULT_FILE = re.compile(r"^(?:SUCCEEDED|FAILED|PENDING)_[0-9]+\.json$")


def _atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step: a reader sees the old or the new file, never a part."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


# ----------------------------------------------------------------- reading


def parse_entries(kind: str, entries: Any, source: str = "", skipped: list[str] | None = None) -> list[JobResult]:
    """Job results of ResultWriter entries; items skipped for fewer runs are not jobs.

    An entry that cannot be read is noted in ``skipped`` (``source: entry N: why``)
    and left out; without ``skipped`` it raises ``Unreadable``.
    """
    if not isinstance(entries, list):
        raise Unreadable(source, f"expected a JSON array of entries, found {_json_type(entries)}")
    found = []
    for index, entry in enumerate(entries):
        try:
            if not isinstance(entry, dict):
                raise ValueError(f"expected a JSON object, found {_json_type(entry)}")
            if not _skipped(entry):
                found.append(_checked(_parse(kind, entry)))
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            problem = Unreadable(source, f"entry {index}: {_reason(exc)}")
            if skipped is None:
                raise problem from None
            skipped.append(str(problem))
    return found


def _skipped(entry: dict) -> bool:
    output = _loads(entry.get("Output")) if entry.get("Output") else None
    return isinstance(output, dict) and output.get("skipped") is True


def _loads(text: Any) -> Any:
    if isinstance(text, str):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


def _parse(kind: str, entry: dict) -> JobResult:
    job_input = _loads(entry.get("Input")) or {}
    job = job_input.get("job", {}) if isinstance(job_input, dict) else {}
    base = JobResult(
        job_name=job.get("name", entry.get("Name", "")),
        algorithm=job.get("algorithm", ""),
        dataset=job.get("dataset", ""),
        run=int(job.get("run", 0)),
        status="Pending",
        instance_type=job.get("instance_type", ""),
        run_configuration_id=job.get("run_configuration_id", ""),
        key=_key(job, job_input),
    )
    if kind == "SUCCEEDED":
        output = _loads(entry.get("Output")) or {}
        result = output.get("result", {}) if isinstance(output, dict) else {}
        base.job_name = result.get("TrainingJobName", base.job_name)
        base.status = result.get("TrainingJobStatus", "Completed")
        base.metrics = _metrics(result.get("FinalMetricDataList"))
        base.training_seconds = result.get("TrainingTimeInSeconds")
        base.billable_seconds = result.get("BillableTimeInSeconds")
        base.model_artifacts = result.get("ModelArtifacts")
        return base
    if kind == "PENDING":
        return base
    cause = _loads(entry.get("Cause")) or {}
    inner = _loads(cause.get("cause")) if isinstance(cause, dict) else cause
    error = cause.get("error", entry.get("Error", "")) if isinstance(cause, dict) else entry.get("Error", "")
    base.status = "Aborted" if entry.get("Status") == "ABORTED" else "Failed"
    if isinstance(inner, dict):
        # A training job that ran and failed: SageMaker's description of it.
        base.job_name = inner.get("TrainingJobName", base.job_name)
        base.status = inner.get("TrainingJobStatus", base.status)
        base.failure_reason = inner.get("FailureReason", "") or error
        base.metrics = _metrics(inner.get("FinalMetricDataList"))
        base.training_seconds = inner.get("TrainingTimeInSeconds")
        base.billable_seconds = inner.get("BillableTimeInSeconds")
    else:
        base.failure_reason = f"{error}: {inner}" if inner else error
    return base


def _key(job: dict, job_input: Any) -> str:
    """The item's job key; items written before keys existed get it from their request."""
    if isinstance(job.get("key"), str):
        return job["key"]
    request = job_input.get("request") if isinstance(job_input, dict) else None
    if isinstance(request, dict):
        from runtool_iac.jobkey import job_key

        return job_key(request, int(job.get("run", 0)))
    return ""


def _metrics(data: Any) -> dict[str, float]:
    """FinalMetricDataList as {name: value}, whatever the nesting of lists around it."""
    out: dict[str, float] = {}

    def walk(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict) and "MetricName" in value:
            try:
                out[value["MetricName"]] = float(value["Value"])
            except (TypeError, ValueError):
                pass

    walk(data)
    return out


def read_local(folder: str | Path, skipped: list[str] | None = None) -> list[JobResult]:
    """Results below a local folder: every ``_results/**/manifest.json`` (one per run).

    Only files under a ``_results`` folder count: job folders next to them may
    hold an algorithm's own ``manifest.json``. A file that is damaged, missing
    or not a regular file is noted in ``skipped`` (its path and why; a
    ``ResultsSkipped`` warning without ``skipped``) and the rest is read.
    """
    notes: list[str] = [] if skipped is None else skipped
    manifests = _local_manifests(Path(folder), notes)
    found = collect(
        manifests,
        fetch=lambda location: read_json_file(Path(location)),
        sibling=lambda manifest, key: str(Path(manifest).parent / _file_name(key)),
        skipped=notes,
    )
    if skipped is None:
        for note in notes:
            warnings.warn(f"skipped {note}", ResultsSkipped, stacklevel=2)
    return found


class ResultsSkipped(UserWarning):
    """Some result files or entries could not be read and were left out."""


def collect(
    manifests: Iterable[str], fetch: Callable[[str], Any], sibling: Callable[[str, str], str], skipped: list[str],
) -> list[JobResult]:
    """Job results of ResultWriter manifests, wherever they are stored.

    ``fetch(location)`` returns a file's JSON or raises ``Unreadable``;
    ``sibling(manifest, key)`` is where a manifest's ``ResultFiles`` key is.
    Every problem is one line in ``skipped``; what can be read is returned.
    """
    results: list[JobResult] = []
    for location in manifests:
        try:
            refs = _result_refs(fetch(location), location, skipped)
        except Unreadable as problem:
            skipped.append(str(problem))
            continue
        for kind, key in refs:
            target = sibling(location, key)
            try:
                results += parse_entries(kind, fetch(target), target, skipped)
            except Unreadable as problem:
                skipped.append(f"{problem} (listed in {location})")
    return sort_results(results)


def _result_refs(manifest: Any, location: str, skipped: list[str]) -> list[tuple[str, str]]:
    """(kind, key) of every result file a manifest lists; malformed references are noted."""
    if not isinstance(manifest, dict):
        raise Unreadable(location, f"expected a JSON object, found {_json_type(manifest)}")
    if "ResultFiles" not in manifest:
        raise Unreadable(location, "no ResultFiles")
    files = manifest["ResultFiles"]
    if not isinstance(files, dict):
        raise Unreadable(location, f"ResultFiles: expected an object of SUCCEEDED/FAILED/PENDING lists, found {_json_type(files)}")
    refs = []
    for kind in RESULT_KINDS:
        listed = files.get(kind, [])
        if not isinstance(listed, list):
            skipped.append(str(Unreadable(location, f"ResultFiles.{kind}: expected a list, found {_json_type(listed)}")))
            continue
        for index, ref in enumerate(listed):
            key = ref.get("Key") if isinstance(ref, dict) else None
            if not isinstance(key, str) or not _file_name(key):
                skipped.append(str(Unreadable(location, f"ResultFiles.{kind}[{index}]: no file Key")))
                continue
            refs.append((kind, key))
    return refs


def _file_name(key: str) -> str:
    """The last segment of a ResultWriter key: local result files sit beside their manifest."""
    name = key.replace("\\", "/").rsplit("/", 1)[-1]
    return "" if name in ("", ".", "..") else name


def _local_manifests(folder: Path, skipped: list[str]) -> list[str]:
    """``manifest.json`` files under a ``_results`` folder below ``folder`` (no symlinked folders followed)."""
    if not folder.is_dir():
        skipped.append(str(Unreadable(str(folder), "not a folder")))
        return []
    found: list[str] = []
    todo = [(folder, 0, RESULTS_FOLDER_NAME in folder.resolve().parts)]
    while todo:
        current, depth, under_results = todo.pop()
        try:
            with os.scandir(current) as listing:
                entries = list(listing)
        except OSError as exc:
            skipped.append(str(Unreadable(str(current), f"cannot list the folder ({exc.strerror})")))
            continue
        names = {entry.name for entry in entries}
        if under_results and "manifest.json" not in names and any(_RESULT_FILE.match(name) for name in names):
            skipped.append(str(Unreadable(str(current), "result files without a manifest.json")))
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir and under_results and entry.name == "manifest.json":
                skipped.append(str(Unreadable(entry.path, "not a regular file (a folder)")))
            elif is_dir and depth < MAX_FOLDER_DEPTH:
                todo.append((Path(entry.path), depth + 1, under_results or entry.name == RESULTS_FOLDER_NAME))
            elif not is_dir and under_results and entry.name == "manifest.json":
                found.append(entry.path)
    return sorted(found)


# ----------------------------------------------------------------- reading files safely

RESULTS_FOLDER_NAME = "_results"
MAX_FOLDER_DEPTH = 32
# ResultWriter splits results into files of at most 5 GB; one that big does not fit a table anyway.
MAX_RESULT_FILE_BYTES = 512 * 1024 * 1024
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class Unreadable(Exception):
    """A results file (or entry) that cannot be used: ``str()`` is ``location: why``."""

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"{location}: {reason}")
        self.location = location
        self.reason = reason


def read_json_file(path: Path, limit: int | None = None) -> Any:
    """A JSON file's value; ``Unreadable`` for anything else (never blocks on a FIFO, never reads past ``limit``)."""
    limit = MAX_RESULT_FILE_BYTES if limit is None else limit
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise Unreadable(str(path), "no such file") from None
    except OSError as exc:
        raise Unreadable(str(path), f"cannot open ({exc.strerror})") from None
    except ValueError:  # a NUL byte in a manifest's Key
        raise Unreadable(str(path).replace("\0", "\\0"), "not a valid file name") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise Unreadable(str(path), f"not a regular file ({_file_kind(info.st_mode)})")
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > limit:
            raise Unreadable(str(path), f"{info.st_size} bytes: more than the {limit} bytes a results file may have")
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise Unreadable(str(path), f"cannot read ({exc.strerror})") from None
    if len(data) > limit:
        raise Unreadable(str(path), f"more than the {limit} bytes a results file may have (it grew while read)")
    return load_json(data, str(path))


def load_json(data: bytes | str, location: str) -> Any:
    """``json.loads`` that fails only with ``Unreadable`` naming ``location`` and what is wrong."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise Unreadable(location, f"not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise Unreadable(location, "empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Unreadable(location, f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); truncated or damaged?") from None
    except RecursionError:
        raise Unreadable(location, "JSON nested too deeply to read") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise Unreadable(location, f"not usable JSON ({exc})") from None


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a file"


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply to read"
    return str(exc) or type(exc).__name__


def _checked(result: JobResult) -> JobResult:
    """A parsed result whose fields have the types tables, CSV and pivots rely on (else ``ValueError``)."""
    for name in ("job_name", "algorithm", "dataset", "status", "failure_reason", "instance_type", "run_configuration_id", "key"):
        if not isinstance(getattr(result, name), str):
            raise ValueError(f"{name} is {_json_type(getattr(result, name))}, not a string")
    if isinstance(result.run, bool) or not isinstance(result.run, int):
        raise ValueError(f"run is {_json_type(result.run)}, not a whole number")
    for name in ("training_seconds", "billable_seconds"):
        value = getattr(result, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"{name} is {_json_type(value)}, not a number")
    if result.model_artifacts is not None and not isinstance(result.model_artifacts, str):
        raise ValueError(f"model_artifacts is {_json_type(result.model_artifacts)}, not a string")
    if not all(isinstance(k, str) and isinstance(v, float) for k, v in result.metrics.items()):
        raise ValueError("FinalMetricDataList has a metric without a name")
    return result


def sort_results(results: list[JobResult]) -> list[JobResult]:
    return sorted(results, key=lambda r: (r.algorithm, r.dataset, r.run, r.job_name))


# ------------------------------------------------------------------ tables


def to_json(results: list[JobResult]) -> str:
    return json.dumps([asdict(r) for r in results], indent=2) + "\n"


def _columns(results: list[JobResult]) -> list[str]:
    """The table columns; ``execution`` when the rows come from several executions."""
    return [*COLUMNS, "execution"] if any(r.execution for r in results) else list(COLUMNS)


def to_csv(results: list[JobResult]) -> str:
    buffer = io.StringIO()
    metric_names = sorted({m for r in results for m in r.metrics})
    columns = [c for c in _columns(results) if c != "metrics"]
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns + metric_names)
    for r in results:
        row = r.row()
        writer.writerow([row[c] for c in columns] + [_fmt(r.metrics[m]) if m in r.metrics else "" for m in metric_names])
    return buffer.getvalue()


def to_table(results: list[JobResult]) -> str:
    columns = _columns(results)
    rows = [[str(r.row()[c]) for c in columns] for r in results]
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    return text_table(columns, rows) + f"\n{len(results)} jobs ({summary})\n" + saving_line(results)


def saving_line(results: list[JobResult]) -> str:
    """Managed spot training's saving: billed seconds against trained seconds (jobs that report both)."""
    timed = [r for r in results if r.training_seconds is not None and r.billable_seconds is not None]
    trained = sum(r.training_seconds for r in timed)
    billed = sum(r.billable_seconds for r in timed)
    if not timed or not trained or billed >= trained:
        return ""
    return f"billable {billed:,.0f} s of {trained:,.0f} s trained: {1 - billed / trained:.0%} saved (managed spot)\n"


@dataclass
class Pivot:
    metric: str
    algorithms: list[str]
    datasets: list[str]
    cells: dict[tuple[str, str], list[float]]

    def mean(self, algorithm: str, dataset: str) -> float | None:
        values = self.cells.get((algorithm, dataset))
        return statistics.fmean(values) if values else None

    def std(self, algorithm: str, dataset: str) -> float | None:
        values = self.cells.get((algorithm, dataset))
        if not values:
            return None
        return statistics.stdev(values) if len(values) > 1 else 0.0

    def cell_text(self, algorithm: str, dataset: str) -> str:
        values = self.cells.get((algorithm, dataset))
        if not values:
            return "-"
        return f"{self.mean(algorithm, dataset):.3f} ± {self.std(algorithm, dataset):.3f} (n={len(values)})"

    def to_table(self) -> str:
        header = [f"{self.metric} (mean ± std)"] + self.datasets
        rows = [[a] + [self.cell_text(a, d) for d in self.datasets] for a in self.algorithms]
        return text_table(header, rows)

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["algorithm"] + [f"{d} mean" for d in self.datasets] + [f"{d} std" for d in self.datasets])
        for a in self.algorithms:
            means = [self.mean(a, d) for d in self.datasets]
            stds = [self.std(a, d) for d in self.datasets]
            writer.writerow([a] + ["" if m is None else _fmt(m) for m in means] + ["" if s is None else _fmt(s) for s in stds])
        return buffer.getvalue()

    def to_json(self) -> str:
        return json.dumps(
            {
                "metric": self.metric,
                "rows": [
                    {"algorithm": a, "dataset": d, "mean": self.mean(a, d), "std": self.std(a, d), "n": len(self.cells.get((a, d), []))}
                    for a in self.algorithms
                    for d in self.datasets
                ],
            },
            indent=2,
        ) + "\n"


def pivot(results: list[JobResult], metric: str) -> Pivot:
    """Algorithm × dataset matrix of ``metric`` over completed runs."""
    available = sorted({m for r in results for m in r.metrics})
    if metric not in available:
        raise ValueError(f"no job reported metric '{metric}' (available: {', '.join(available) or 'none'})")
    cells: dict[tuple[str, str], list[float]] = {}
    for r in results:
        value = r.metrics.get(metric)
        if r.status == "Completed" and value is not None and math.isfinite(value):
            cells.setdefault((r.algorithm, r.dataset), []).append(value)
    algorithms = sorted({r.algorithm for r in results})
    datasets = sorted({r.dataset for r in results})
    return Pivot(metric, algorithms, datasets, cells)


def plot(p: Pivot, path: str | Path) -> Path:
    """The pivot as an annotated heatmap PNG (matplotlib, headless)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = [[p.mean(a, d) if p.mean(a, d) is not None else math.nan for d in p.datasets] for a in p.algorithms]
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(p.datasets), 1.2 + 0.6 * len(p.algorithms)))
    image = ax.imshow(data, cmap="viridis_r", aspect="auto")
    ax.set_xticks(range(len(p.datasets)), p.datasets, rotation=30, ha="right")
    ax.set_yticks(range(len(p.algorithms)), p.algorithms)
    for i, a in enumerate(p.algorithms):
        for j, d in enumerate(p.datasets):
            mean = p.mean(a, d)
            text = "-" if mean is None else f"{_fmt(mean)}\n± {_fmt(p.std(a, d) or 0.0)}"
            ax.text(j, i, text, ha="center", va="center", color="white", fontsize=8)
    fig.colorbar(image, ax=ax, label=p.metric)
    ax.set_title(f"{p.metric}: mean ± std over runs")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
