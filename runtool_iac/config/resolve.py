"""Resolving directives: ``$from``, ``$ref``, ``$each`` and load-time ``$eval``.

A value resolves to a list of *variants*. Mappings and lists take the cartesian
product of their children's variants; ``$each`` takes the union of its
alternatives (dict alternatives are merged into the node holding the
``$each``, the alternative winning); ``$from`` merges the node onto each
variant of its base. References are resolved by path, lazily and cached, so a
``$each`` only multiplies the node that contains it and the nodes that
reference or inherit it — never the whole file (the original runtool's
defect). Trial-dependent ``$eval``s become ``Deferred`` values, evaluated per
job at plan time (see ``trial.py``).

Resolved values are shared between variants and must be treated as immutable.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re

from runtool_iac import expressions
from runtool_iac.config.source import SourceList, SourceMap, child_loc, loc_of, location_at
from runtool_iac.errors import ConfigError, Location, Problem, did_you_mean
from runtool_iac.limits import DEFAULT_LIMITS, Limits
from runtool_iac.records import IdentityRecord

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

DIRECTIVES = ("$from", "$ref", "$each", "$eval", "$job_name", "$sagemaker")
STRUCTURAL = ("$from", "$ref", "$each", "$eval")
NONE_ALTERNATIVE = "$None"
MAX_REFERENCE_DEPTH = 64


class _Omit:
    """A bare ``$each`` alternative ``$None``: the key is left out of its mapping."""

    def __repr__(self) -> str:
        return "<omitted>"


OMIT = _Omit()


class MissingPath(ConfigError):
    """A reference names a path that does not exist."""


class Deferred(IdentityRecord):
    """A trial-dependent ``$eval``: evaluated per job once the trial is known."""

    __slots__ = ("source", "tree", "bindings", "loc", "path")

    def __init__(self, source: str, tree: Any, bindings: dict[str, Any], loc: Location | None, path: str) -> None:
        self.source, self.tree, self.bindings, self.loc, self.path = source, tree, bindings, loc, path

    def key(self) -> Any:
        return {"$eval": self.source, "with": {k: canonical(v) for k, v in sorted(self.bindings.items())}}


def _json_default(value: Any) -> Any:
    if isinstance(value, Deferred):
        return value.key()
    raise TypeError(f"not serializable: {type(value).__name__}")


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)
_SCALAR_TEXT = {True: "true", False: "false", None: "null"}


def canonical(value: Any) -> str:
    """A stable text form of a resolved value (deferred expressions by their source).

    Scalars, most of what labels and keys are made of, skip the encoder's
    set-up (the same text: JSON's form of them is Python's ``repr``).
    """
    kind = type(value)
    if kind is str:
        return _encode_string(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    if kind is bool or value is None:
        return _SCALAR_TEXT[value]
    return _CANONICAL.encode(value)


_encode_string = json.encoder.encode_basestring  # what the encoder uses with ensure_ascii=False


def hash_text(*texts: str, length: int = 8) -> str:
    return _sha256()("\x1f".join(texts).encode()).hexdigest()[:length]


@functools.cache
def _sha256() -> Any:
    """SHA-256 from CPython's own C module: ``hashlib`` initialises OpenSSL (~3 ms of every
    plan's start-up) for a function whose digests are the same."""
    try:
        from _sha256 import sha256  # CPython 3.11
    except ImportError:
        try:
            from _sha2 import sha256  # CPython 3.12+
        except ImportError:
            from hashlib import sha256
    return sha256


def short_hash(*parts: Any, length: int = 8) -> str:
    return hash_text(*(canonical(p) for p in parts), length=length)


def format_path(path: Iterable[Any]) -> str:
    out = ""
    for key in path:
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            out += ("." if out else "") + str(key)
    return out


@functools.cache
def _path_token() -> re.Pattern:
    return re.compile(r"\[(\d+)\]|\[['\"]([^'\"]+)['\"]\]|([^.\[\]]+)")


def parse_path(text: str) -> tuple:
    """``a.b[0].c`` or ``a.b.0.c`` → ('a', 'b', 0, 'c')."""
    text = text.strip()
    if text.startswith("$."):
        text = text[2:]
    if "[" not in text and "]" not in text:  # dots only: what the token regex would find, without compiling it
        names = [int(name) if name.isdigit() else name for name in text.split(".") if name]
        if not names:
            raise ValueError("empty path")
        return tuple(names)
    parts: list[Any] = []
    pos = 0
    while pos < len(text):
        if text[pos] == ".":
            pos += 1
            continue
        match = _path_token().match(text, pos)
        if not match:
            raise ValueError(f"invalid path '{text}'")
        index, quoted, name = match.groups()
        if index is not None:
            parts.append(int(index))
        elif quoted is not None:
            parts.append(quoted)
        else:
            parts.append(int(name) if name.isdigit() else name)
        pos = match.end()
    if not parts:
        raise ValueError("empty path")
    return tuple(parts)


def merge(base: Any, over: Any) -> Any:
    """Deep-merge ``over`` onto ``base``; ``over`` wins on every key it sets."""
    if not (isinstance(base, dict) and isinstance(over, dict)):
        return over
    out = SourceMap(loc=loc_of(over) or loc_of(base))
    for source in (base, over):
        for key, value in source.items():
            if key in out and isinstance(out[key], dict) and isinstance(value, dict):
                value = merge(out[key], value)
            out.set(key, value, child_loc(source, key), getattr(source, "key_locs", {}).get(key))
    return out


class Resolver:
    """Resolves values of one loaded config (the merged top level of all files)."""

    def __init__(self, root: SourceMap, limits: Limits = DEFAULT_LIMITS) -> None:
        self.root = root
        self.limits = limits
        self.budget = expressions.TimeBudget(limits.eval_seconds)
        self._expanded = 0
        self._cache: dict[tuple, list[Any]] = {}
        self._active: list[tuple] = []
        self._compiled: dict[str, expressions.Expression] = {}
        self.problems: list[Problem] = []

    def _reserve(self, count: int, path: tuple, loc: Location | None) -> None:
        """Refuse, before building them, more variants than the limits allow."""
        where = format_path(path) or "<top level>"
        if count > self.limits.variants_per_node:
            raise ConfigError(
                f"this node has {count:,} variants; at most {self.limits.variants_per_node:,} per node "
                f"({Limits.hint('variants_per_node')})",
                location=loc,
                path=format_path(path),
            )
        self._expanded += count
        if self._expanded > self.limits.variants_total:
            raise ConfigError(
                f"the config expands to more than {self.limits.variants_total:,} variants in all "
                f"(reached at '{where}'; {Limits.hint('variants_total')})",
                location=loc,
                path=format_path(path),
            )

    def _product(self, options: list[list[Any]], path: tuple, loc: Location | None) -> Iterable[tuple]:
        self._reserve(math.prod(len(option) for option in options), path, loc)
        return itertools.product(*options)

    # ------------------------------------------------------------------ paths

    def resolve_path(self, path: tuple, loc: Location | None, where: str) -> list[Any]:
        """Variants of the value at ``path`` (a reference target)."""
        node: Any = self.root
        for depth, key in enumerate(path):
            if isinstance(node, SourceMap) and not _structural(node):
                if key not in node:
                    raise self._missing(path, depth, node, loc, where)
                node = node[key]
            elif isinstance(node, SourceList):
                if not isinstance(key, int) or not 0 <= key < len(node):
                    raise self._missing(path, depth, node, loc, where)
                node = node[key]
            elif isinstance(node, SourceMap):
                # A directive on the way ($from/$each/...): resolve that node, then project.
                variants = self.variants_at(path[:depth], node, loc, where)
                return self._project(variants, path, depth, loc, where)
            else:
                raise self._missing(path, depth, node, loc, where)
        return self.variants_at(path, node, loc, where)

    def _missing(self, path: tuple, depth: int, node: Any, loc: Location | None, where: str) -> MissingPath:
        shown = format_path(path)
        if depth == 0:
            hint = did_you_mean(str(path[0]), [k for k in self.root])
            return MissingPath(f"reference to '{shown}': no top-level node '{path[0]}'{hint}", location=loc, path=where)
        if isinstance(node, dict):
            hint = did_you_mean(str(path[depth]), list(node))
            return MissingPath(
                f"reference to '{shown}': '{format_path(path[:depth])}' has no key '{path[depth]}'{hint}",
                location=loc,
                path=where,
            )
        if isinstance(node, list):
            return MissingPath(
                f"reference to '{shown}': '{format_path(path[:depth])}' has no item {path[depth]!r} "
                f"(it has {len(node)} items)",
                location=loc,
                path=where,
            )
        return MissingPath(
            f"reference to '{shown}': '{format_path(path[:depth])}' is a {type(node).__name__}, not a mapping",
            location=loc,
            path=where,
        )

    def _project(self, variants: list[Any], path: tuple, depth: int, loc: Location | None, where: str) -> list[Any]:
        out: dict[str, Any] = {}
        for variant in variants:
            value = variant
            for i in range(depth, len(path)):
                key = path[i]
                if isinstance(value, Deferred):
                    raise ConfigError(
                        f"reference to '{format_path(path)}' goes through a value that depends on $trial",
                        location=loc,
                        path=where,
                    )
                ok = (isinstance(value, dict) and key in value) or (
                    isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value)
                )
                if not ok:
                    raise self._missing(path, i, value, loc, where)
                value = value[key]
            out.setdefault(canonical(value), value)
        return list(out.values())

    def variants_at(self, path: tuple, node: Any, loc: Location | None, where: str) -> list[Any]:
        cached = self._cache.get(path)
        if cached is not None:
            return cached
        if path in self._active:
            cycle = self._active[self._active.index(path):] + [path]
            raise ConfigError(
                "reference cycle: " + " -> ".join(format_path(p) for p in cycle),
                location=loc,
                path=where,
            )
        if len(self._active) >= MAX_REFERENCE_DEPTH:
            raise ConfigError(
                f"references are nested more than {MAX_REFERENCE_DEPTH} levels deep", location=loc, path=where
            )
        self._active.append(path)
        try:
            result = self.variants(node, path)
        finally:
            self._active.pop()
        self._cache[path] = result
        return result

    # --------------------------------------------------------------- variants

    def variants(self, node: Any, path: tuple) -> list[Any]:
        if isinstance(node, SourceMap):
            return self._map_variants(node, path)
        if isinstance(node, SourceList):
            return self._list_variants(node, path)
        if node == NONE_ALTERNATIVE:
            raise ConfigError(
                "'$None' is only meaningful as an alternative of $each",
                location=location_at(self.root, path),
                path=format_path(path),
            )
        return [node]

    def _children(self, items: Iterable[tuple[Any, Any]], path: tuple) -> list[list[Any]]:
        """Variants of each (key, child), reporting the problems of every child, not
        only the first (two missing references in one node are two errors)."""
        options: list[list[Any]] = []
        errors: list[ConfigError] = []
        for key, child in items:
            try:
                options.append(self.variants(child, path + (key,)))
            except ConfigError as exc:
                errors.append(exc)
        if errors:
            raise errors[0] if len(errors) == 1 else ConfigError.collect(errors)
        return options

    def _list_variants(self, node: SourceList, path: tuple) -> list[Any]:
        options = self._children(enumerate(node), path)
        for i, item_variants in enumerate(options):
            if any(v is OMIT for v in item_variants):
                raise ConfigError(
                    "'$None' cannot remove a list item", location=node.child_loc(i), path=format_path(path + (i,))
                )
        if all(len(o) == 1 and o[0] is item for o, item in zip(options, node)):
            return [node]
        out = []
        for combo in self._product(options, path, node.loc):
            copy = SourceList(combo, loc=node.loc)
            copy.item_locs = list(node.item_locs)
            out.append(copy)
        return out

    def _map_variants(self, node: SourceMap, path: tuple) -> list[Any]:
        unknown = [k for k in node if k.startswith("$") and k not in DIRECTIVES and not k.startswith("$sagemaker.")]
        if unknown:
            # Recorded, then ignored, so the rest of the node is still checked.
            for key in unknown:
                self.problems.append(
                    Problem(
                        f"unknown directive '{key}'{did_you_mean(key, DIRECTIVES)}",
                        node.key_locs.get(key, node.loc),
                        format_path(path),
                    )
                )
            node = _without(node, *unknown)
        if "$ref" in node:
            return self._ref(node, path)
        if "$eval" in node:
            return self._eval(node, path)
        if "$from" in node:
            return self._from(node, path)
        if "$each" in node:
            return self._each(node, path)
        return self._plain_map(node, path)

    def _only_key(self, node: SourceMap, directive: str, path: tuple) -> Any:
        others = [k for k in node if k != directive]
        if others:
            hint = " (use $from to inherit and override)" if directive == "$ref" else ""
            raise ConfigError(
                f"{directive} must be the only key of its mapping, found also '{others[0]}'{hint}",
                location=node.key_locs.get(others[0], node.loc),
                path=format_path(path),
            )
        return node[directive]

    def _target(self, node: SourceMap, directive: str, path: tuple) -> tuple:
        text = node[directive]
        loc = node.child_loc(directive)
        if not isinstance(text, str):
            raise ConfigError(f"{directive} takes a path string such as 'my_node.key'", location=loc, path=format_path(path))
        try:
            return parse_path(text)
        except ValueError as exc:
            raise ConfigError(f"{directive}: {exc}", location=loc, path=format_path(path)) from None

    def _ref(self, node: SourceMap, path: tuple) -> list[Any]:
        self._only_key(node, "$ref", path)
        target = self._target(node, "$ref", path)
        return self.resolve_path(target, node.child_loc("$ref"), format_path(path))

    def _from(self, node: SourceMap, path: tuple) -> list[Any]:
        target = self._target(node, "$from", path)
        loc = node.child_loc("$from")
        bases = self.resolve_path(target, loc, format_path(path))
        for base in bases:
            if not isinstance(base, dict):
                raise ConfigError(
                    f"$from '{format_path(target)}' must name a mapping, not a {type(base).__name__}",
                    location=loc,
                    path=format_path(path),
                )
        own = _without(node, "$from")
        owns = self._map_variants(own, path)
        if len(bases) * len(owns) > 1:
            self._reserve(len(bases) * len(owns), path, node.loc)
        return [merge(base, mine) for base in bases for mine in owns]

    def _each(self, node: SourceMap, path: tuple) -> list[Any]:
        where = format_path(path)
        alternatives = node["$each"]
        loc = node.child_loc("$each")
        if not isinstance(alternatives, SourceList) or not alternatives:
            raise ConfigError("$each takes a non-empty list of alternatives", location=loc, path=where)
        rest = _without(node, "$each")
        rests = self._map_variants(rest, path) if rest else [None]
        options: list[Any] = []
        for i, alternative in enumerate(alternatives):
            if alternative == NONE_ALTERNATIVE:
                options.append(NONE_ALTERNATIVE)
                continue
            for variant in self.variants(alternative, path):
                if rest and not isinstance(variant, dict):
                    raise ConfigError(
                        "next to other keys, $each alternatives must be mappings (merged into the node) or $None",
                        location=alternatives.child_loc(i),
                        path=where,
                    )
                options.append(variant)
        self._reserve(len(rests) * len(options), path, node.loc)
        out: list[Any] = []
        for base in rests:
            for option in options:
                if option == NONE_ALTERNATIVE:
                    out.append(base if rest else OMIT)
                elif rest:
                    out.append(merge(base, option))
                else:
                    out.append(option)
        return out

    def _plain_map(self, node: SourceMap, path: tuple) -> list[Any]:
        keys = list(node)
        options = self._children(((key, node[key]) for key in keys), path)
        if all(len(o) == 1 and o[0] is node[k] for o, k in zip(options, keys)):
            return [node]
        out = []
        for combo in self._product(options, path, node.loc):
            copy = SourceMap(loc=node.loc)
            for key, value in zip(keys, combo):
                if value is not OMIT:
                    copy.set(key, value, node.value_locs.get(key), node.key_locs.get(key))
            out.append(copy)
        return out

    # ------------------------------------------------------------------ $eval

    def _eval(self, node: SourceMap, path: tuple) -> list[Any]:
        text = self._only_key(node, "$eval", path)
        loc = node.child_loc("$eval")
        where = format_path(path)
        if isinstance(text, (int, float)):
            return [text]  # as in the original (which evaluated str(10)): a number is its own value
        if not isinstance(text, str):
            raise ConfigError(
                f"$eval takes an expression string (or a number), not a {'list' if isinstance(text, list) else 'mapping' if isinstance(text, dict) else 'null'}",
                location=loc,
                path=where,
            )
        try:
            expr = self._compiled.get(text) if isinstance(text, str) else None
            if expr is None:
                expr = expressions.compile_expression(text)
                self._compiled[text] = expr
        except expressions.ExpressionError as exc:
            raise ConfigError(f"$eval: {exc}", location=loc, path=where) from None
        lengths: list[int] = []
        options: list[list[Any]] = []
        for chain in expr.root_chains:
            length, variants = self._longest_prefix(tuple(chain), loc, where)
            lengths.append(length)
            options.append(variants)
        try:
            tree, names = expressions.bind_root_chains(expr, lengths)
        except expressions.ExpressionError as exc:
            raise ConfigError(f"$eval: {exc}", location=loc, path=where) from None
        out = []
        for combo in self._product(options, path, loc):
            bindings = dict(zip(names, combo))
            if expr.uses_trial or expr.uses_uid:
                out.append(Deferred(expr.source, tree, bindings, loc, where))
                continue
            try:
                out.append(expressions.evaluate(tree, bindings, settle=_refuse_deferred, budget=self.budget))
            except expressions.ExpressionError as exc:
                raise ConfigError(f"$eval '{expr.source}': {exc}", location=loc, path=where) from None
        return out

    def _longest_prefix(self, chain: tuple, loc: Location | None, where: str) -> tuple[int, list[Any]]:
        first_error: MissingPath | None = None
        for length in range(len(chain), 0, -1):
            try:
                return length, self.resolve_path(chain[:length], loc, where)
            except MissingPath as exc:
                first_error = first_error or exc
        assert first_error is not None
        raise ConfigError(f"$eval: {first_error.problems[0].message}", location=loc, path=where)


def _refuse_deferred(value: Any) -> Any:
    if isinstance(value, Deferred):
        raise expressions.ExpressionError(
            f"refers to '{value.path}', which depends on $trial; use $trial in this expression too"
        )
    return value


def _structural(node: SourceMap) -> bool:
    return any(k in node for k in STRUCTURAL)


def _without(node: SourceMap, *keys: str) -> SourceMap:
    out = SourceMap(loc=node.loc)
    for k, v in node.items():
        if k not in keys:
            out.set(k, v, node.value_locs.get(k), node.key_locs.get(k))
    return out
