"""Plan-time evaluation of trial-dependent ``$eval`` values.

Once a job's algorithm and dataset variants are known, every ``Deferred`` in
them is evaluated with ``$trial`` bound to that pair. Evaluation is lazy and
recursive — a hyperparameter may read another ``$eval`` hyperparameter of the
same trial — with per-trial caching and cycle detection.
"""

from __future__ import annotations

from typing import Any

from runtool_iac import expressions
from runtool_iac.config.resolve import Deferred, canonical, hash_text
from runtool_iac.config.source import SourceList, SourceMap
from runtool_iac.errors import ConfigError


def trial_uid(algorithm_key: str, dataset_key: str) -> str:
    """`uid`: a stable short hash of the trial as written (``canonical`` texts of
    both sides, trial ``$eval``s by their source), so it is the same on every
    machine and run, and `$job_name` can use it without depending on itself."""
    return hash_text(algorithm_key, dataset_key)


class TrialResolver:
    def __init__(self, algorithm: Any, dataset: Any, uid: str | None = None) -> None:
        self.algorithm = algorithm
        self.dataset = dataset
        self.uid = uid or trial_uid(canonical(algorithm), canonical(dataset))
        self._view = expressions.TrialView(algorithm, dataset)
        self._done: dict[int, Any] = {}
        self._active: list[Deferred] = []

    def settle(self, value: Any) -> Any:
        if not isinstance(value, Deferred):
            return value
        key = id(value)
        if key in self._done:
            return self._done[key]
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
                result = expressions.evaluate(value.tree, names, settle=self.settle)
            except expressions.ExpressionError as exc:
                raise ConfigError(f"$eval '{value.source}': {exc}", location=value.loc, path=value.path) from None
        finally:
            self._active.pop()
        self._done[key] = result
        return result

    def materialize_paths(self, value: Any, paths: list[tuple], evaluated: list | None = None) -> Any:
        """Like ``materialize``, rebuilding only the containers on ``paths`` (the
        Deferreds' positions, computed once per variant by ``deferred_paths``)."""
        return self._rebuild(value, (), [p for p in paths], evaluated)

    def _rebuild(self, value: Any, path: tuple, paths: list[tuple], evaluated: list | None) -> Any:
        if any(len(p) == len(path) for p in paths):
            return self.materialize(value, path, evaluated)
        children: dict[Any, list[tuple]] = {}
        for p in paths:
            children.setdefault(p[len(path)], []).append(p)
        if isinstance(value, dict):
            out = SourceMap(loc=getattr(value, "loc", None))
            value_locs, key_locs = getattr(value, "value_locs", {}), getattr(value, "key_locs", {})
            for k, v in value.items():
                if k in children:
                    v = self._rebuild(v, path + (k,), children[k], evaluated)
                out.set(k, v, value_locs.get(k), key_locs.get(k))
            return out
        items = SourceList(
            [self._rebuild(v, path + (i,), children[i], evaluated) if i in children else v for i, v in enumerate(value)],
            loc=getattr(value, "loc", None),
        )
        items.item_locs = list(getattr(value, "item_locs", [None] * len(items)))
        return items

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


def deferred_paths(value: Any, path: tuple = ()) -> list[tuple]:
    """Where the Deferreds are in a resolved value (once per variant, not per job)."""
    if isinstance(value, Deferred):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in deferred_paths(v, path + (k,))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in deferred_paths(v, path + (i,))]
    return []
