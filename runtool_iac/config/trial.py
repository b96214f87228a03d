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
