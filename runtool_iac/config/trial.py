"""Plan-time evaluation of trial-dependent ``$eval`` values.

Once a job's algorithm and dataset variants are known, every ``Deferred`` in
them is evaluated with ``$trial`` bound to that pair. Evaluation is lazy and
recursive — a hyperparameter may read another ``$eval`` hyperparameter of the
same trial — with per-trial caching and cycle detection.
"""

from __future__ import annotations

import ast

from runtool_iac import expressions
from runtool_iac.config.resolve import Deferred, canonical, hash_text
from runtool_iac.config.source import SourceList, SourceMap
from runtool_iac.errors import ConfigError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any


def trial_uid(algorithm_key: str, dataset_key: str) -> str:
    """`uid`: a stable short hash of the trial as written (``canonical`` texts of
    both sides, trial ``$eval``s by their source), so it is the same on every
    machine and run, and `$job_name` can use it without depending on itself."""
    return hash_text(algorithm_key, dataset_key)


_SIDES = ("algorithm", "dataset")
_MISSING = object()


def sides_read(deferred: Deferred) -> tuple[str, ...] | None:
    """Which of ``$trial.algorithm``/``$trial.dataset`` an expression reads, or None when its
    value may depend on the whole trial (``uid``, ``$trial[...]``, ``$trial`` alone, or
    ``$.path`` values that hold trial ``$eval``s themselves)."""
    if deferred_paths(deferred.bindings):
        return None
    sides: set[str] = set()
    through_attribute: set[int] = set()
    names: list[ast.Name] = []
    for node in ast.walk(deferred.tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == expressions.TRIAL_NAME:
            if node.attr in _SIDES:
                sides.add(node.attr)
                through_attribute.add(id(node.value))
        elif isinstance(node, ast.Name):
            if node.id == expressions.UID_NAME:
                return None
            if node.id == expressions.TRIAL_NAME:
                names.append(node)
    if any(id(name) not in through_attribute for name in names):
        return None
    return tuple(sorted(sides))


class SharedEvaluations:
    """Results of trial ``$eval``s that read only sides without ``$eval``s of their own.

    Such a value is the same in every trial with those sides: a hyperparameter
    ``$trial.dataset.meta.freq`` of a 100-variant grid, or written out in 60
    algorithms, is evaluated once per dataset, not once per job. Keyed by the
    expression as written (source, tree and ``$.path`` values: what ``canonical``
    shows of it) and by the side Members themselves (the dict keeps them alive),
    for one plan.
    """

    def __init__(self) -> None:
        self._known: dict[Deferred, tuple[str, tuple[str, ...]] | None] = {}
        self.results: dict[tuple, Any] = {}

    def key(self, deferred: Deferred, static: dict[str, Any]) -> tuple | None:
        known = self._known.get(deferred, _MISSING)
        if known is _MISSING:
            sides = sides_read(deferred)
            known = self._known[deferred] = (
                None if sides is None else (canonical(deferred) + ast.dump(deferred.tree), sides)
            )
        if known is None:
            return None
        text, sides = known
        if not all(side in static for side in sides):
            return None
        return (text, *(static[side] for side in sides))


class TrialResolver:
    def __init__(
        self,
        algorithm: Any,
        dataset: Any,
        uid: str | None = None,
        shared: SharedEvaluations | None = None,
        static: dict[str, Any] | None = None,
        budget: expressions.TimeBudget | None = None,
    ) -> None:
        """``static`` names the sides (by kind) without ``$eval``s, each by an object that
        identifies it in ``shared`` (its Member)."""
        self.algorithm = algorithm
        self.budget = budget
        self.dataset = dataset
        self.uid = uid or trial_uid(canonical(algorithm), canonical(dataset))
        self._view = expressions.TrialView(algorithm, dataset)
        self._done: dict[int, Any] = {}
        self._active: list[Deferred] = []
        self._shared = shared
        self._static = static or {}

    def settle(self, value: Any) -> Any:
        if not isinstance(value, Deferred):
            return value
        key = id(value)
        if key in self._done:
            return self._done[key]
        shared_key = self._shared.key(value, self._static) if self._shared is not None else None
        if shared_key is not None:
            found = self._shared.results.get(shared_key, _MISSING)
            if found is not _MISSING:
                self._done[key] = found
                return found
        if value in self._active:
            cycle = self._active[self._active.index(value):] + [value]
            raise ConfigError(
                "$eval cycle: " + " -> ".join(d.path for d in cycle),
                location=value.loc,
                path=value.path,
            )
        self._active.append(value)
        try:
            names = dict(value.bindings)
            names[expressions.TRIAL_NAME] = self._view
            names[expressions.UID_NAME] = self.uid
            try:
                result = expressions.evaluate(value.tree, names, settle=self.settle, budget=self.budget)
            except expressions.ExpressionError as exc:
                raise ConfigError(f"$eval '{value.source}': {exc}", location=value.loc, path=value.path) from None
        finally:
            self._active.pop()
        self._done[key] = result
        if shared_key is not None:
            self._shared.results[shared_key] = result
        return result

    def materialize_paths(self, value: Any, tree: dict, evaluated: list | None = None) -> Any:
        """Like ``materialize``, rebuilding only the containers on the way to the Deferreds
        (``tree``: their positions, from ``path_tree(deferred_paths(value))``, once per variant)."""
        return self._rebuild(value, (), tree, evaluated)

    def _rebuild(self, value: Any, path: tuple, tree: dict, evaluated: list | None) -> Any:
        # A copy at C speed; only the tree's keys change, so the locations are the original's
        # (shared: nothing sets locations on a materialized value).
        if isinstance(value, dict):
            out = SourceMap(value, loc=getattr(value, "loc", None))
            out.value_locs = getattr(value, "value_locs", out.value_locs)
            out.key_locs = getattr(value, "key_locs", out.key_locs)
        else:
            out = SourceList(value, loc=getattr(value, "loc", None))
            out.item_locs = getattr(value, "item_locs", out.item_locs)
        for key, subtree in tree.items():
            child = value[key]
            if subtree is not None:
                out[key] = self._rebuild(child, path + (key,), subtree, evaluated)
            elif isinstance(child, Deferred):  # most positions: one $eval (materialize's first case)
                out[key] = result = self.settle(child)
                if evaluated is not None:
                    evaluated.append((path + (key,), result, child.loc))
            else:
                out[key] = self.materialize(child, path + (key,), evaluated)
        return out

    def materialize(self, value: Any, path: tuple = (), evaluated: list | None = None) -> Any:
        """``value`` with every Deferred evaluated; untouched parts are shared, not copied.

        Each evaluated position is appended to ``evaluated`` as (path, value,
        location) so exactly those values can be validated afterwards.
        """
        if isinstance(value, Deferred):
            result = self.settle(value)
            if evaluated is not None:
                evaluated.append((path, result, value.loc))
            return result
        if isinstance(value, dict):
            changed = {k: self.materialize(v, path + (k,), evaluated) for k, v in value.items()}
            if all(changed[k] is value[k] for k in value):
                return value
            out = SourceMap(loc=getattr(value, "loc", None))
            for k, v in changed.items():
                out.set(k, v, getattr(value, "value_locs", {}).get(k), getattr(value, "key_locs", {}).get(k))
            return out
        if isinstance(value, list):
            items = [self.materialize(v, path + (i,), evaluated) for i, v in enumerate(value)]
            if all(a is b for a, b in zip(items, value)):
                return value
            out_list = SourceList(items, loc=getattr(value, "loc", None))
            out_list.item_locs = list(getattr(value, "item_locs", [None] * len(items)))
            return out_list
        return value


def path_tree(paths: list[tuple]) -> dict:
    """Paths as a nested mapping: key -> subtree, or None where a Deferred is."""
    tree: dict = {}
    for path in paths:
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = None
    return tree


def deferred_paths(value: Any, path: tuple = ()) -> list[tuple]:
    """Where the Deferreds are in a resolved value (once per variant, not per job)."""
    if isinstance(value, Deferred):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in deferred_paths(v, path + (k,))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in deferred_paths(v, path + (i,))]
    return []
