"""Labels that tell variants apart: ``deepar[context_length=48,num_layers=2]``.

A node's *axes* are the leaves whose written values differ between its
variants (its ``$each`` choices). A label shows each axis with its *resolved*
value, so a trial-dependent ``$eval`` axis reads ``context_length=48`` once the
trial is known, never ``$eval``.
"""

from __future__ import annotations

from runtool_iac.config.resolve import Deferred, canonical, hash_text

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

# One axis value longer than this is shortened, with a hash keeping labels distinct.
AXIS_VALUE_MAX = 40
_MISSING = object()
# Keys that name a variant rather than vary it.
NAMING_KEYS = ("$job_name", "name")


def axes(variants: list[Any]) -> tuple[tuple, ...]:
    """Leaf paths whose value differs between ``variants`` (or is missing from some)."""
    if len(variants) < 2:
        return ()
    seen: dict[tuple, set[str]] = {}
    for variant in variants:
        for path, leaf in _leaves(variant):
            seen.setdefault(path, set()).add(canonical(leaf))
    return tuple(
        path
        for path, values in seen.items()
        if len(values) > 1 or any(_get(v, path) is _MISSING for v in variants)
    )


def label(base: str, axis_paths: tuple[tuple, ...], value: Any) -> str:
    if not axis_paths:
        return base
    return f"{base}[{','.join(f'{_axis_name(p)}={value_text(_get(value, p))}' for p in axis_paths)}]"


def value_text(value: Any) -> str:
    """How a value reads in a label or table: strings as written, others as JSON."""
    if value is _MISSING:
        return "-"
    if isinstance(value, Deferred):
        return "$eval"
    text = value if isinstance(value, str) else canonical(value)
    if len(text) > AXIS_VALUE_MAX:
        text = text[: AXIS_VALUE_MAX - 10] + "…" + hash_text(text)
    return text


def _leaves(value: Any, prefix: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    if isinstance(value, dict) and value:
        for key, child in value.items():
            if not prefix and key in NAMING_KEYS:
                continue
            yield from _leaves(child, prefix + (key,))
    else:
        yield prefix, value


def _get(value: Any, path: tuple) -> Any:
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _axis_name(path: tuple) -> str:
    return str(path[-1]) if path else "value"
