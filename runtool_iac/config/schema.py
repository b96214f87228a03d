"""JSON Schema validation that reports every problem at its source location.

The schemas live in the repository's ``schemas/`` folder (Draft 2020-12) so
editors can use them too. jsonschema's messages are rephrased where they would
be unhelpful (an unknown directive, an unknown instance type, a list of 225
allowed values). jsonschema is imported only when a value is invalid: a
compiled yes/no check (``schema_check``) answers for valid ones.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

from runtool_iac.config import schema_check
from runtool_iac.config.resolve import DIRECTIVES, format_path
from runtool_iac.config.source import location_at, loc_of
from runtool_iac.errors import Location, Problem, did_you_mean

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any
    import jsonschema
    from referencing import Registry

# runtool_iac/schemas is a link to the repository's schemas/ folder, so the
# same files serve editors, the docs and installed wheels.
SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"


def schema_dir() -> Path:
    return SCHEMA_DIR


@functools.cache
def load_schema(name: str) -> dict:
    return json.loads((schema_dir() / name).read_text())


@functools.cache
def _registry() -> Registry:
    from referencing import Registry, Resource

    resources = [
        (path.name, Resource.from_contents(json.loads(path.read_text())))
        for path in sorted(schema_dir().glob("*.schema.json"))
    ]
    return Registry().with_resources(resources)


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict) -> Any:
    import jsonschema

    if validator.is_type(instance, "string") and not schema_check.ecma_pattern(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


@functools.cache
def _validator_class() -> type:
    """Draft 2020-12 with ECMA-262's end of text for ``pattern`` (as the JSON Schema spec says)."""
    import jsonschema

    return jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _pattern})


@functools.cache
def validator(name: str) -> jsonschema.Draft202012Validator:
    import jsonschema

    return _validator_class()(
        load_schema(name),
        registry=_registry(),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


@functools.cache
def _compiler(skip: type | None) -> schema_check.Compiler:
    return schema_check.Compiler(load_schema, wildcard=skip)


@functools.cache
def quick_check(name: str, pointer: str = "", skip: type | None = None) -> schema_check.Check | None:
    """True/False for "jsonschema finds no problem" (values of type ``skip`` pass anything), or
    None if the schema uses keywords the quick check does not implement."""
    try:
        return _compiler(skip).at(name, pointer)
    except schema_check.Unsupported:
        return None


def _resolve_ref(name: str, node: dict) -> tuple[str, dict]:
    while isinstance(node, dict) and "$ref" in node:
        target, _, pointer = node["$ref"].partition("#")
        name = target or name
        node = load_schema(name)
        for part in filter(None, pointer.split("/")):
            node = node[part]
    return name, node


@functools.cache
def _subschema(name: str, path: tuple) -> tuple[str, str] | None:
    """(schema file, JSON pointer) of the schema that applies at ``path``, or None if unconstrained."""
    node_name, node = _resolve_ref(name, load_schema(name))
    pointer = ""
    for key in path:
        if isinstance(key, int):
            child = node.get("items")
        else:
            child = node.get("properties", {}).get(key)
            if child is None:
                child = next((v for p, v in node.get("patternProperties", {}).items() if re.search(p, key)), None)
            if child is None:
                child = node.get("additionalProperties")
        if not isinstance(child, dict):
            return None  # anything goes here (or nothing does: the load-time check reported it)
        node_name, node = _resolve_ref(node_name, child)
        pointer = _pointer_of(node_name, node)
    if set(node) <= {"description", "type"} and set(node.get("type", [])) >= {"string", "number", "boolean", "null", "array", "object"}:
        return None
    return node_name, pointer


def _pointer_of(name: str, target: dict) -> str:
    def walk(node: Any, pointer: str) -> str | None:
        if node is target:
            return pointer
        if isinstance(node, dict):
            for key, value in node.items():
                found = walk(value, f"{pointer}/{key}")
                if found is not None:
                    return found
        return None

    return walk(load_schema(name), "") or ""


@functools.cache
def _sub_validator(name: str, pointer: str) -> jsonschema.Draft202012Validator:
    return validator(name).evolve(schema={"$ref": f"{name}#{pointer}"})


def value_problems(schema_name: str, path: tuple, value: Any, base_path: tuple, location: Location | None) -> list[Problem]:
    """Problems of one value placed at ``path`` of a node (used for values computed at plan time)."""
    where = _subschema(schema_name, tuple(path))
    if where is None:
        return []
    check = quick_check(*where)
    if check is not None and check(value):
        return []
    return [
        Problem(_message(e), location, format_path(base_path + tuple(path) + tuple(e.absolute_path)))
        for e in _sub_validator(*where).iter_errors(value)
    ]


def _message(error: jsonschema.ValidationError) -> str:
    keyword = error.validator
    instance = error.instance
    if keyword == "additionalProperties" and isinstance(instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = [k for k in instance if k not in allowed and k.startswith("$") and not k.startswith("$sagemaker.")]
        if extra:
            return f"unknown directive '{extra[0]}'{did_you_mean(extra[0], DIRECTIVES)}"
        if "" in instance and "" not in allowed:
            return "empty key: give it a name"
    if keyword == "enum":
        options = error.validator_value
        if all(isinstance(o, int) for o in options):
            return f"expected one of {', '.join(map(str, options))}; got {instance!r}"
        if len(options) > 8:
            return f"unknown value {instance!r}{did_you_mean(str(instance), [str(o) for o in options])}"
    if keyword == "pattern" and instance == "" and error.schema.get("pattern") == "^[^$]":
        return "empty key: give it a name"
    if keyword == "minLength" and instance == "":
        return "empty key: give it a name"
    if keyword == "pattern" and error.schema.get("pattern") == "^[^$]":
        return f"'{instance}' starts with '$' but is not a directive{did_you_mean(str(instance), DIRECTIVES)}"
    if keyword == "not" and error.validator_value == {"pattern": "^aws:"}:
        return f"tag key {instance!r} may not start with 'aws:' (reserved by AWS)"
    if keyword == "pattern" and isinstance(instance, str):
        expected = error.schema.get("description")
        return f"{instance!r} is not {expected}" if expected else f"{instance!r} does not match {error.validator_value!r}"
    if keyword == "format" and error.validator_value == "regex":
        return f"invalid regular expression {instance!r}"
    if keyword == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"expected {expected}, got {_json_type(instance)} {instance!r}"
    if keyword == "required":
        return error.message.replace("is a required property", "is required")
    return error.message


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "array"
    return "object"


def problems(
    schema_name: str,
    instance: Any,
    base_path: tuple = (),
    fallback: Location | None = None,
    skip: type | None = None,
    pointer: str = "",
) -> list[Problem]:
    """All schema problems of ``instance``, located through its Source containers.

    Errors about values of type ``skip`` (not-yet-evaluated trial ``$eval``s)
    are ignored here: those values are validated once evaluated, at plan time.
    ``pointer`` validates against a part of the schema (``#/$defs/value``).
    """
    check = quick_check(schema_name, pointer, skip)
    if check is not None and check(instance):
        return []
    out: list[Problem] = []
    checker = _sub_validator(schema_name, pointer) if pointer else validator(schema_name)
    for error in checker.iter_errors(instance):
        if skip is not None and _touches(error, skip):
            continue
        if error.validator == "enum" and not isinstance(error.instance, str) and not _of_type(error):
            continue  # the type error at the same place says it better
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            # Point at the offending key, as the resolver does for unknown directives.
            extra = [
                k for k in error.instance
                if k not in error.schema.get("properties", {}) and (k.startswith("$") or not k) and not k.startswith("$sagemaker.")
            ]
            key_locs = getattr(error.instance, "key_locs", {})
            loc = key_locs.get(extra[0]) if extra else None
            out.append(Problem(_message(error), loc or location_at(instance, path, fallback), format_path(base_path + path)))
            continue
        if "propertyNames" in error.absolute_schema_path:
            # jsonschema reports key problems at the mapping; point at the key itself.
            key = error.instance if isinstance(error.instance, str) else None
            container = _at(instance, path)
            loc = (getattr(container, "key_locs", {}) or {}).get(key) if key else None
            loc = loc or location_at(instance, path, fallback)
            out.append(Problem(_message(error), loc, format_path(base_path + path + ((key,) if key else ()))))
            continue
        out.append(Problem(_message(error), location_at(instance, path, fallback) or loc_of(instance), format_path(base_path + path)))
    return out


def _of_type(error: jsonschema.ValidationError) -> bool:
    """Whether the instance has the type its schema asks for (so no type error is reported)."""
    expected = error.schema.get("type")
    if expected is None:
        return True
    import jsonschema

    types = expected if isinstance(expected, list) else [expected]
    checker = jsonschema.Draft202012Validator.TYPE_CHECKER
    return any(checker.is_type(error.instance, t) for t in types)


def _at(root: Any, path: tuple) -> Any:
    node = root
    for key in path:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _touches(error: jsonschema.ValidationError, skip: type) -> bool:
    if isinstance(error.instance, skip):
        return True
    if isinstance(error.instance, (dict, list)) and error.validator != "required":
        return _contains(error.instance, skip)
    return False


def _contains(value: Any, skip: type) -> bool:
    if isinstance(value, skip):
        return True
    if isinstance(value, dict):
        return any(_contains(v, skip) for v in value.values())
    if isinstance(value, list):
        return any(_contains(v, skip) for v in value)
    return False
