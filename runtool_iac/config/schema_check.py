"""A yes/no JSON Schema check, compiled once from our schemas into closures.

Importing jsonschema costs more than loading, resolving and planning a small
project together (~0.15 s: referencing, attrs, its metaschemas). Valid
configs are the common case, and for them a yes is all we need; only when
this check says no does ``schema.problems`` import jsonschema to produce the
located messages. The check is exact for the keywords it knows (the subset of
Draft 2020-12 our schemas use, with jsonschema's type and equality rules,
and ``pattern`` as a search with ECMA-262's end of text, as schema.validator does); a schema with any other
keyword compiles to None and is always checked by jsonschema.
tests/test_schema_check.py holds it to jsonschema's answers.
"""

from __future__ import annotations

import functools
import re

from runtool_iac import patterns

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Check = Callable[[Any], bool]

# Keywords that never affect validity.
ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "$defs", "title", "description", "default", "examples", "deprecated",
     "readOnly", "writeOnly", "markdownDescription"}
)


class Unsupported(Exception):
    """The schema uses a keyword this checker does not implement."""


def is_type(value: Any, name: str) -> bool:
    """jsonschema's Draft 2020-12 type checker (bool is not a number; 1.0 is an integer)."""
    if name == "string":
        return isinstance(value, str)
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if isinstance(value, bool):
        return False
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, (int, float))
    raise Unsupported(f"type {name!r}")


def equal(one: Any, two: Any) -> bool:
    """jsonschema's equality for enum/const: True is not 1, containers compare item by item."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return one == two
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(equal(a, b) for a, b in zip(one, two))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(equal(one[k], two[k]) for k in one)
    if isinstance(one, bool) != isinstance(two, bool):
        return False
    return one == two


class Compiler:
    """Compiles schemas (by file name and JSON pointer) sharing one cache, so recursive $refs terminate."""

    def __init__(self, load: Callable[[str], dict], wildcard: type | None = None) -> None:
        self.load = load
        self.wildcard = wildcard  # values of this type pass every check (jsonschema's problems() skips them)
        self.compiled: dict[tuple[str, str], Check] = {}
        self.pending: list[tuple[str, str]] = []  # $ref targets not compiled yet

    def at(self, name: str, pointer: str = "") -> Check:
        """The check of the schema at ``pointer`` in file ``name``, with every $ref it reaches compiled."""
        check = self._at(name, pointer)
        while self.pending:
            self._at(*self.pending.pop())
        return check

    def _at(self, name: str, pointer: str) -> Check:
        key = (name, pointer)
        if key not in self.compiled:
            node: Any = self.load(name)
            for part in filter(None, pointer.split("/")):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            self.compiled[key] = self.node(name, node)
        return self.compiled[key]

    def node(self, name: str, schema: Any) -> Check:
        if schema is True:
            return lambda value: True
        if schema is False:
            return lambda value: False
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r}")
        checks: list[Check] = []
        unknown = set(schema) - ANNOTATIONS - set(_KEYWORDS)
        if unknown:
            raise Unsupported(", ".join(sorted(unknown)))
        for keyword, build in _KEYWORDS.items():
            if keyword in schema:
                check = build(self, name, schema)
                if check is not None:
                    checks.append(check)
        if len(checks) == 1:
            (one,) = checks
        else:
            def one(value: Any) -> bool:
                for check in checks:
                    if not check(value):
                        return False
                return True
        wildcard = self.wildcard
        if wildcard is None:
            return one
        return lambda value: isinstance(value, wildcard) or one(value)

    def ref(self, name: str, target: str) -> Check:
        file, _, pointer = target.partition("#")
        key = (file or name, pointer)
        if key not in self.compiled:
            self.pending.append(key)
        compiled = self.compiled
        return lambda value: compiled[key](value)  # looked up at check time: refs may be recursive


def _type(c: Compiler, name: str, s: dict) -> Check:
    names = s["type"] if isinstance(s["type"], list) else [s["type"]]
    for n in names:
        is_type(None, n)  # unknown type names are Unsupported now, not at check time
    return lambda value: any(is_type(value, n) for n in names)


def _enum(c: Compiler, name: str, s: dict) -> Check:
    options = s["enum"]
    strings = frozenset(o for o in options if isinstance(o, str))
    others = [o for o in options if not isinstance(o, str)]
    return lambda value: (value in strings) if isinstance(value, str) else any(equal(o, value) for o in others)


def _const(c: Compiler, name: str, s: dict) -> Check:
    expected = s["const"]
    return lambda value: equal(expected, value)


@functools.cache
def ecma_pattern(pattern: str) -> re.Pattern:
    """A schema ``pattern`` with ECMA-262's meaning of a final ``$`` (the end of the
    text, as JSON Schema specifies), which Python's ``$`` is not: it also matches
    before a final newline, so ``'name\\n'`` would pass ``^[a-z]+$``."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _pattern(c: Compiler, name: str, s: dict) -> Check:
    # Compiled when first needed (most fields of a schema are absent from a config), or never (patterns).
    matches = patterns.matcher(s["pattern"], patterns.SEARCH, _ecma_search)
    return lambda value: not isinstance(value, str) or matches(value)


def _ecma_search(pattern: str) -> Callable[[str], bool]:
    search = ecma_pattern(pattern).search
    return lambda value: search(value) is not None


@functools.cache
def _search(pattern: str) -> Callable[[str], Any]:
    return re.compile(pattern).search


def _format(c: Compiler, name: str, s: dict) -> Check:
    if s["format"] != "regex":
        raise Unsupported(f"format {s['format']!r}")

    def check(value: Any) -> bool:
        if not isinstance(value, str):
            return True
        try:
            re.compile(value)
        except re.error:
            return False
        return True

    return check


def _bound(keyword: str, kind: str, measure: Callable[[Any], Any], compare: Callable[[Any, Any], bool]):
    def build(c: Compiler, name: str, s: dict) -> Check:
        limit = s[keyword]
        return lambda value: not is_type(value, kind) or compare(measure(value), limit)

    return build


def _ident(value: Any) -> Any:
    return value


def _properties(c: Compiler, name: str, s: dict) -> Check:
    checks = {key: c.node(name, sub) for key, sub in s["properties"].items()}

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        return all(check(value[key]) for key, check in checks.items() if key in value)

    return check


def _pattern_properties(c: Compiler, name: str, s: dict) -> Check:
    checks = [(p, c.node(name, sub)) for p, sub in s["patternProperties"].items()]

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        return all(check(v) for p, check in checks for k, v in value.items() if _search(p)(k))

    return check


def _extras(s: dict) -> Callable[[dict], list[str]]:
    """The keys additionalProperties applies to (neither in properties nor matching patternProperties)."""
    known = set(s.get("properties", {}))
    keys = list(s.get("patternProperties", {}))
    return lambda value: [k for k in value if k not in known and not any(_search(p)(k) for p in keys)]


def _additional_properties(c: Compiler, name: str, s: dict) -> Check:
    extras = _extras(s)
    sub = c.node(name, s["additionalProperties"])

    def check(value: Any) -> bool:
        return not isinstance(value, dict) or all(sub(value[k]) for k in extras(value))

    return check


def _unevaluated_properties(c: Compiler, name: str, s: dict) -> Check:
    """Only in the form our project schema uses it: next to properties/patternProperties and one
    local $ref to a schema of properties, where it means "no keys but those"."""
    if s["unevaluatedProperties"] is not False or set(s) - ANNOTATIONS - {
        "type", "properties", "patternProperties", "$ref", "unevaluatedProperties"
    }:
        raise Unsupported("unevaluatedProperties in this form")
    evaluated = [_extras(s)]
    if "$ref" in s:
        file, _, pointer = s["$ref"].partition("#")
        target: Any = c.load(file or name)
        for part in filter(None, pointer.split("/")):
            target = target[part]
        if not isinstance(target, dict) or set(target) - ANNOTATIONS - {"properties", "patternProperties", "type", "required"}:
            raise Unsupported("unevaluatedProperties next to this $ref")
        evaluated.append(_extras(target))

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        left = set(value)
        for extras in evaluated:
            left &= set(extras(value))
        return not left

    return check


def _required(c: Compiler, name: str, s: dict) -> Check:
    keys = list(s["required"])
    return lambda value: not isinstance(value, dict) or all(k in value for k in keys)


def _property_names(c: Compiler, name: str, s: dict) -> Check:
    sub = c.node(name, s["propertyNames"])
    return lambda value: not isinstance(value, dict) or all(sub(k) for k in value)


def _items(c: Compiler, name: str, s: dict) -> Check:
    if "prefixItems" in s:
        raise Unsupported("prefixItems")
    sub = c.node(name, s["items"])
    return lambda value: not isinstance(value, list) or all(sub(v) for v in value)


def _not(c: Compiler, name: str, s: dict) -> Check:
    sub = c.node(name, s["not"])
    return lambda value: not sub(value)


def _all_of(c: Compiler, name: str, s: dict) -> Check:
    subs = [c.node(name, sub) for sub in s["allOf"]]
    return lambda value: all(sub(value) for sub in subs)


def _any_of(c: Compiler, name: str, s: dict) -> Check:
    subs = [c.node(name, sub) for sub in s["anyOf"]]
    return lambda value: any(sub(value) for sub in subs)


def _one_of(c: Compiler, name: str, s: dict) -> Check:
    subs = [c.node(name, sub) for sub in s["oneOf"]]
    return lambda value: sum(1 for sub in subs if sub(value)) == 1


def _ref(c: Compiler, name: str, s: dict) -> Check:
    return c.ref(name, s["$ref"])


_KEYWORDS: dict[str, Callable[[Compiler, str, dict], Check | None]] = {
    "type": _type,
    "enum": _enum,
    "const": _const,
    "pattern": _pattern,
    "format": _format,
    "minLength": _bound("minLength", "string", len, lambda n, limit: n >= limit),
    "maxLength": _bound("maxLength", "string", len, lambda n, limit: n <= limit),
    "minimum": _bound("minimum", "number", _ident, lambda n, limit: n >= limit),
    "maximum": _bound("maximum", "number", _ident, lambda n, limit: n <= limit),
    "exclusiveMinimum": _bound("exclusiveMinimum", "number", _ident, lambda n, limit: n > limit),
    "exclusiveMaximum": _bound("exclusiveMaximum", "number", _ident, lambda n, limit: n < limit),
    "minItems": _bound("minItems", "array", len, lambda n, limit: n >= limit),
    "maxItems": _bound("maxItems", "array", len, lambda n, limit: n <= limit),
    "minProperties": _bound("minProperties", "object", len, lambda n, limit: n >= limit),
    "maxProperties": _bound("maxProperties", "object", len, lambda n, limit: n <= limit),
    "required": _required,
    "properties": _properties,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
    "unevaluatedProperties": _unevaluated_properties,
    "propertyNames": _property_names,
    "items": _items,
    "not": _not,
    "allOf": _all_of,
    "anyOf": _any_of,
    "oneOf": _one_of,
    "$ref": _ref,
}
