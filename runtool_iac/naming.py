"""Training job names: readable, unique, deterministic, and as the user wrote them.

A planned name is ``[<prefix>-]<base>-r<run>``. The base is a custom name
(``$sagemaker.TrainingJobName``, the original's ``job_name_expression``, or
``$job_name``) kept as written where SageMaker's pattern allows, or
``<algorithm>-<dataset>-<trial hash>``; a custom name shared by two trials gets
the trial hash too. In the cloud the state machine appends
``-<execution token>-<redrive count>``, so plan names leave room for it.
"""

from __future__ import annotations

import ast
from collections import Counter

from runtool_iac import expressions, patterns, sagemaker
from runtool_iac.config.resolve import hash_text

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

# In the cloud each job name gets "-<8-char execution token>-<redrive count>"
# appended (unique per execution, new on redrive), so plan names leave room.
CLOUD_SUFFIX_CHARS = 14
PLAN_NAME_MAX = sagemaker.JOB_NAME_MAX - CLOUD_SUFFIX_CHARS
TRIAL_HASH_CHARS = 8
# Names a job_name_expression may use besides $trial and uid (the original's locals).
JOB_NAME_EXPRESSION_NAMES = ("run", "run_configuration")


def sanitize_name(text: str) -> str:
    """``text`` as a job-name part: kept as written where SageMaker's pattern allows
    (hyphens included), other characters replaced by '-', no '-' at either end."""
    if text.isascii() and text.replace("-", "").isalnum():  # nothing to replace (most names)
        return text.strip("-")
    out: list[str] = []  # re.sub("[^a-zA-Z0-9-]+", "-", text), without compiling it (see ``patterns``)
    gap = False
    for char in text:
        if char not in _NAME_CHARS:
            gap = True
            continue
        if gap:
            out.append("-")
            gap = False
        out.append(char)
    return "".join(out).strip("-")


_NAME_CHARS = frozenset(patterns.ALNUM + "-")


def shorten(text: str, budget: int) -> str:
    """``text`` in at most ``budget`` characters, keeping its start and its end (where
    names usually carry what tells them apart) around a hash of the whole text, so
    different long names stay different."""
    if len(text) <= budget:
        return text
    digest = hash_text(text, length=TRIAL_HASH_CHARS)
    room = budget - len(digest) - 2
    if room < 2:
        return digest[:budget]
    head, tail = text[: room - room // 2].rstrip("-"), text[len(text) - room // 2 :].lstrip("-")
    return "-".join(p for p in (head, digest, tail) if p)


def fit(parts: list[str], budget: int) -> list[str]:
    """Shorten parts until they fit ``budget`` characters joined by '-', one character
    at a time from the currently longest, so long names share the room evenly."""
    parts = [p for p in parts if p]
    while parts and sum(map(len, parts)) + len(parts) - 1 > budget:
        longest = max(range(len(parts)), key=lambda i: len(parts[i]))
        parts[longest] = parts[longest][:-1].rstrip("-")
        if not parts[longest]:
            parts.pop(longest)
    return parts


class NameRequest:
    """What one trial's names are made of. (Plain classes: planning starts fast.)"""

    __slots__ = ("custom", "algorithm", "dataset", "trial_hash")

    def __init__(self, custom: list[str] | None, algorithm: str, dataset: str, trial_hash: str) -> None:
        self.custom = custom  # custom name per run (one item: the same for every run)
        self.algorithm, self.dataset, self.trial_hash = algorithm, dataset, trial_hash


def assign(trials: list[NameRequest], runs: int, prefix: str = "") -> list[list[str]]:
    """The name base of every run of every trial (without ``-r<run>``), unique per run."""
    head = f"{prefix}-" if prefix else ""
    budget = PLAN_NAME_MAX - len(f"-r{runs - 1}") - len(head)

    def per_run(trial: NameRequest) -> list[str] | None:
        if trial.custom is None:
            return None
        names = [sanitize_name(n) for n in trial.custom]
        return names * runs if len(names) == 1 else names

    custom = [per_run(t) for t in trials]
    counts = Counter((run, name) for names in custom if names for run, name in enumerate(names))
    taken: set[tuple[int, str]] = set()
    out = []
    fitted: dict[tuple[str, ...], str] = {}  # name parts -> the name's start (pairs repeat across trials)

    def start(parts: list[str]) -> str:
        key = tuple(parts)
        found = fitted.get(key)
        if found is None:
            kept = fit([sanitize_name(p) for p in parts], budget - TRIAL_HASH_CHARS - 1)
            found = fitted[key] = "".join(f"{p}-" for p in kept)
        return found

    for trial, names in zip(trials, custom):
        if names is not None and all(name and counts[(run, name)] == 1 for run, name in enumerate(names)):
            bases = [shorten(name, budget) for name in names]
        else:
            default = [trial.algorithm, trial.dataset]
            parts = [[n] if n else default for n in names] if names is not None else [default] * runs
            bases = [start(p) + trial.trial_hash for p in parts]
        unique = []
        for run, base in enumerate(bases):
            candidate, counter = base, 1
            while (run, candidate) in taken:  # identical hashes: astronomically rare, still deterministic
                counter += 1
                candidate = "-".join(fit([base], budget - len(str(counter)) - 1) + [str(counter)])
            taken.add((run, candidate))
            unique.append(head + candidate)
        out.append(unique)
    return out


class JobNameError(ValueError):
    """A job_name_expression is refused or fails."""


class JobNameExpression:
    """The original runtool's ``job_name_expression``: evaluated per job like a
    ``$job_name``, with ``$trial`` (or ``__trial__``), ``uid``, ``run`` and
    ``run_configuration``, in the same sandbox as ``$eval``."""

    __slots__ = ("source", "tree", "per_run")

    def __init__(self, source: str, tree: Any, per_run: bool) -> None:
        self.source, self.tree = source, tree
        self.per_run = per_run  # uses `run`: evaluated once per job, not once per trial

    @classmethod
    def compile(cls, text: Any) -> JobNameExpression:
        try:
            expr = expressions.compile_expression(text, extra_names=JOB_NAME_EXPRESSION_NAMES)
        except expressions.ExpressionError as exc:
            raise JobNameError(f"job_name_expression {text!r}: {exc}") from None
        if expr.root_chains:
            raise JobNameError(f"job_name_expression {text!r}: '$.' config references are not available here; use $trial")
        used = {node.id for node in ast.walk(expr.tree) if isinstance(node, ast.Name)}
        return cls(text, expr.tree, per_run="run" in used)

    def names(self, algorithm: Any, dataset: Any, uid: str, run_configuration: str, runs: int) -> list[str]:
        """The custom name per run (one item unless the expression uses ``run``)."""
        view = expressions.TrialView(algorithm, dataset)
        out = []
        for run in range(runs if self.per_run else 1):
            bound = {expressions.TRIAL_NAME: view, expressions.UID_NAME: uid, "run": run, "run_configuration": run_configuration}
            try:
                value = expressions.evaluate(self.tree, bound)
            except expressions.ExpressionError as exc:
                raise JobNameError(f"job_name_expression {self.source!r}: {exc}") from None
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise JobNameError(f"job_name_expression {self.source!r} gives {value!r}, not a name")
            out.append(value if isinstance(value, str) else str(value))
        return out
