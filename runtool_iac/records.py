"""Value classes for the modules every command imports, without ``dataclasses``.

``import dataclasses`` imports ``inspect`` (and with it ``ast``, ``dis`` and
``tokenize``), and each ``@dataclass`` compiles its methods with ``exec``:
together about a fifth of ``runtool-iac validate``'s whole run (issue 11).
A ``Record`` gets equality, hashing, ``repr`` and ``replace`` from its
``__slots__``; its ``__init__`` is written out, which also documents the
fields. Modules off the start-up path (results, runner, local mode) keep
using dataclasses.
"""

from __future__ import annotations


class Record:
    __slots__ = ()

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def replace(self, **changes: object) -> Record:
        """A copy with some fields changed (``dataclasses.replace``)."""
        values = {name: getattr(self, name) for name in self.__slots__}
        unknown = set(changes) - set(values)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        return type(self)(**{**values, **changes})


class IdentityRecord(Record):
    """A record compared and hashed by identity (``@dataclass(eq=False)``)."""

    __slots__ = ()
    __eq__ = object.__eq__  # type: ignore[assignment]
    __hash__ = object.__hash__  # type: ignore[assignment]
