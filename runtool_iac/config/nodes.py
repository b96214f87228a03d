"""Typed nodes and the experiment algebra (``+`` and ``*``).

Everything reduces to flat tuples of ``Member``s — one per variant — so an
algorithm with k ``$each`` variants behaves exactly like ``Algorithms`` of k
items, and ``algorithms * datasets`` is a plain cartesian product: the number
of jobs is (algorithm variants) × (dataset variants) × runs by construction.
"""

from __future__ import annotations

from runtool_iac.records import IdentityRecord

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any


class Member(IdentityRecord):
    """One variant of an algorithm or dataset node."""

    __slots__ = ("kind", "name", "label", "value", "path", "axes")

    def __init__(
        self,
        kind: str,  # "algorithm" | "dataset"
        name: str,  # the node's name, used in job names
        label: str,  # name plus what distinguishes this variant, used in tables
        value: Any,  # the resolved mapping (may hold Deferred trial $evals)
        path: str,  # config path, for error messages
        axes: tuple[tuple, ...] = (),  # leaf paths that differ between the node's variants
    ) -> None:
        self.kind, self.name, self.label, self.value, self.path, self.axes = kind, name, label, value, path, axes

    def __repr__(self) -> str:
        return f"<{self.kind} {self.label}>"


class _Members:
    """A flat, ordered collection of algorithm or dataset variants."""

    family: str = ""
    singular: type["_Members"]
    plural: type["_Members"]

    def __init__(self, members: tuple[Member, ...] | list[Member], name: str = "") -> None:
        self.members = tuple(members)
        self.name = name

    def __iter__(self) -> Iterator[Member]:
        return iter(self.members)

    def __len__(self) -> int:
        return len(self.members)

    def __getitem__(self, index: int) -> Member:
        return self.members[index]

    def __repr__(self) -> str:
        shown = ", ".join(m.label for m in self.members[:5])
        more = f", ... ({len(self.members)} in all)" if len(self.members) > 5 else ""
        return f"{type(self).__name__}([{shown}{more}])"

    def __add__(self, other: Any) -> Any:
        if isinstance(other, _Members) and other.family == self.family:
            return self.plural(self.members + other.members)
        raise TypeError(
            f"cannot combine {kind_name(self)} + {kind_name(other)}: '+' joins nodes of the same kind"
            + ("; use '*' to pair algorithms with datasets" if isinstance(other, _Members) else "")
        )

    def __mul__(self, other: Any) -> "Experiment":
        if isinstance(other, _Members) and {self.family, other.family} == {"algorithm", "dataset"}:
            algorithms, datasets = (self, other) if self.family == "algorithm" else (other, self)
            return Experiment(algorithms.members, datasets.members)
        _refuse_incomplete(other)
        raise TypeError(
            f"cannot combine {kind_name(self)} * {kind_name(other)}: '*' pairs algorithms with datasets"
        )

    __rmul__ = __mul__


class Algorithm(_Members):
    family = "algorithm"


class Algorithms(_Members):
    family = "algorithm"


class Dataset(_Members):
    family = "dataset"


class Datasets(_Members):
    family = "dataset"


for _one, _many in ((Algorithm, Algorithms), (Dataset, Datasets)):
    _one.singular = _many.singular = _one
    _one.plural = _many.plural = _many


class Experiment:
    """Every algorithm variant paired with every dataset variant."""

    family = "experiment"

    def __init__(self, algorithms: tuple[Member, ...], datasets: tuple[Member, ...], name: str = "") -> None:
        self.algorithms = tuple(algorithms)
        self.datasets = tuple(datasets)
        self.name = name

    @property
    def experiments(self) -> tuple["Experiment", ...]:
        return (self,)

    def trials(self) -> Iterator[tuple[Member, Member]]:
        for algorithm in self.algorithms:
            for dataset in self.datasets:
                yield algorithm, dataset

    def __len__(self) -> int:
        return len(self.algorithms) * len(self.datasets)

    def __repr__(self) -> str:
        return f"Experiment({len(self.algorithms)} algorithm variants × {len(self.datasets)} dataset variants)"

    def __add__(self, other: Any) -> "Experiments":
        if isinstance(other, (Experiment, Experiments)):
            return Experiments(self.experiments + other.experiments)
        raise TypeError(f"cannot combine {kind_name(self)} + {kind_name(other)}: '+' joins experiments with experiments")

    def __mul__(self, other: Any) -> Any:
        raise TypeError(f"cannot combine {kind_name(self)} * {kind_name(other)}: '*' pairs algorithms with datasets")

    __rmul__ = __mul__


class Experiments(Experiment):
    """Several experiments, planned one after another."""

    def __init__(self, experiments: tuple[Experiment, ...] | list[Experiment], name: str = "") -> None:
        self._experiments = tuple(experiments)
        self.name = name

    @property
    def experiments(self) -> tuple[Experiment, ...]:
        return self._experiments

    @property
    def algorithms(self) -> tuple[Member, ...]:  # type: ignore[override]
        return tuple(m for e in self._experiments for m in e.algorithms)

    @property
    def datasets(self) -> tuple[Member, ...]:  # type: ignore[override]
        return tuple(m for e in self._experiments for m in e.datasets)

    def trials(self) -> Iterator[tuple[Member, Member]]:
        for experiment in self._experiments:
            yield from experiment.trials()

    def __len__(self) -> int:
        return sum(len(e) for e in self._experiments)

    def __repr__(self) -> str:
        return f"Experiments({len(self._experiments)} experiments, {len(self)} trials)"


def incomplete_kind(value: Any) -> str | None:
    """What a mapping that looks like a half-written algorithm lacks (None if it does not).

    Only ``image`` and ``instance`` together make an algorithm, as in the
    original, so a mapping with one of them is a plain value (a ``$from``
    template); used where an algorithm is expected, this says why it is not one.
    """
    if isinstance(value, dict) and "path" not in value:
        have = [key for key in ("image", "instance") if key in value]
        if len(have) == 1:
            missing = "instance" if have[0] == "image" else "image"
            return f"has '{have[0]}' but no '{missing}' (an algorithm needs both)"
    return None


def _refuse_incomplete(value: Any) -> None:
    """A located error for ``config.half_written * config.ds``, saying what is missing."""
    from runtool_iac.config.source import loc_of
    from runtool_iac.errors import ConfigError

    lacking = incomplete_kind(value)
    if lacking:
        raise ConfigError(f"not an algorithm: it {lacking}", location=loc_of(value))


def kind_name(value: Any) -> str:
    if isinstance(value, (_Members, Experiment)):
        return type(value).__name__
    return f"{type(value).__name__} value"
