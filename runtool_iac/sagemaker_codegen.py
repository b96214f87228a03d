"""Writes runtool_iac/sagemaker_shapes.py from botocore's model of CreateTrainingJob.

Planning checks every request against the shapes of CreateTrainingJob.
Loading them from botocore at run time costs ~0.25 s (botocore's imports and
its 1 MB SageMaker model); the few shapes one request can reach are instead
written out once, here, as a small Python module. Run after upgrading
botocore:

    python -m runtool_iac.sagemaker_codegen

tests/test_sagemaker_shapes.py fails while the module and the installed
botocore disagree. SageMaker's patterns are Java regular expressions matched
against the whole value; they are translated to Python ones with the same
meaning (ASCII ``\\d``/``\\s``/``\\w``, ``.`` excluding line terminators,
``\\p{...}`` classes) to be used with ``re.fullmatch``.
"""

from __future__ import annotations

import functools
import pprint
import re
import unicodedata
from pathlib import Path
from typing import Any

OPERATION = "CreateTrainingJob"
TARGET = Path(__file__).with_name("sagemaker_shapes.py")
SCALAR_TYPES = ("string", "integer", "long", "boolean", "float", "double")
CONSTRAINTS = ("required", "min", "max", "enum", "pattern")

# Java's predefined classes (ASCII unless UNICODE_CHARACTER_CLASS, which SageMaker does not set).
_JAVA_SPACE = r" \t\n\x0b\f\r"
_JAVA_LINE_TERMINATORS = r"\n\r\x85\u2028\u2029"
_IN_CLASS = {"d": "0-9", "s": _JAVA_SPACE, "w": "a-zA-Z0-9_"}
_POSIX = {"Alnum": "a-zA-Z0-9", "Alpha": "a-zA-Z", "Digit": "0-9", "Upper": "A-Z", "Lower": "a-z"}
_LITERAL_ESCAPES = set(".-\\/[](){}*+?^$|")


def _unicode_category_chars(prefix: str) -> str:
    """An explicit class body for a (small) Unicode general category, e.g. Z (separators)."""
    chars = [chr(cp) for cp in range(0x110000) if unicodedata.category(chr(cp)).startswith(prefix)]
    if len(chars) > 64:
        raise ValueError(f"\\p{{{prefix}}} is too large to write out")
    return "".join(f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}" for c in chars)


@functools.cache
def _word_is_letters_and_numbers() -> bool:
    """Python's Unicode \\w is exactly \\p{L}, \\p{N} and '_' (true for CPython's unicodedata)."""
    word = re.compile(r"\w")
    return all(
        bool(word.match(c)) == (c == "_" or unicodedata.category(c)[0] in "LN")
        for c in map(chr, range(0x110000))
    )


def python_pattern(java: str) -> str:
    """A Python regex that fully matches exactly the strings the Java regex ``java`` fully matches."""
    out: list[str] = []
    i = 0
    in_class = False
    while i < len(java):
        c = java[i]
        if c == "[" and not in_class:
            end = _class_end(java, i)
            body = java[i + 1 : end]
            out.append(_class(body))
            i = end + 1
            continue
        if c == "\\":
            nxt = java[i + 1]
            if nxt in "dsw":
                out.append(f"[{_IN_CLASS[nxt]}]")
            elif nxt == "S":
                out.append(f"[^{_JAVA_SPACE}]")
            elif nxt in _LITERAL_ESCAPES:
                out.append("\\" + nxt)
            else:
                raise ValueError(f"unsupported escape \\{nxt} in {java!r}")
            i += 2
            continue
        if c == ".":
            out.append(f"[^{_JAVA_LINE_TERMINATORS}]")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _class_end(java: str, start: int) -> int:
    i = start + 1
    while i < len(java):
        if java[i] == "\\":
            i += 2
            continue
        if java[i] == "[":
            raise ValueError(f"nested character class in {java!r}")
        if java[i] == "]":
            return i
        i += 1
    raise ValueError(f"unterminated character class in {java!r}")


def _class(body: str) -> str:
    """One Java character class ``[body]`` as a Python one."""
    negated = body.startswith("^")
    if negated:
        body = body[1:]
        if "\\S" in body:
            raise ValueError(f"negated class with \\S [^{body}] is not supported")
    elif body in (r"\S\s", r"\s\S"):
        return r"[\s\S]"  # any character, in both languages
    elif body == r"\S":
        return f"[^{_JAVA_SPACE}]"
    tokens = re.findall(r"\\p\{\w+\}|\\.|.", body)
    props = {t[3:-1] for t in tokens if t.startswith("\\p{")}
    parts: list[str] = []
    if {"L", "N"} <= props and "_" in tokens:
        if not _word_is_letters_and_numbers():
            raise ValueError("this Python's \\w is not \\p{L}\\p{N}_; write the classes out")
        parts.append(r"\w")
        props -= {"L", "N"}
    for token in tokens:
        if token.startswith("\\p{"):
            name = token[3:-1]
            if name not in props:
                continue
            if name in _POSIX:
                parts.append(_POSIX[name])
            elif name in ("Z", "Zs", "Zl", "Zp"):
                parts.append(_unicode_category_chars(name))
            else:
                raise ValueError(f"unsupported class \\p{{{name}}}")
        elif token.startswith("\\"):
            nxt = token[1]
            if nxt in _IN_CLASS:
                parts.append(_IN_CLASS[nxt])
            elif nxt in _LITERAL_ESCAPES:
                parts.append(token)
            else:
                raise ValueError(f"unsupported escape {token} in class [{body}]")
        else:
            parts.append(token)
    return "[" + "^" * negated + "".join(parts) + "]"


def shapes() -> tuple[str, dict[str, dict[str, Any]]]:
    """(root shape name, every shape a CreateTrainingJob request can reach, in model order)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    root = model.operation_model(OPERATION).input_shape
    found: dict[str, dict[str, Any]] = {}

    def visit(shape: Any) -> None:
        if shape.name in found:
            return
        kind = shape.type_name
        if getattr(shape, "is_document_type", False) or getattr(shape, "is_tagged_union", False):
            raise ValueError(f"{shape.name}: document and union shapes are not supported")
        if kind not in (*SCALAR_TYPES, "structure", "list", "map"):
            raise ValueError(f"{shape.name}: type {kind} is not supported")
        if shape.serialization.get("hostLabel"):
            raise ValueError(f"{shape.name}: host labels are not supported")
        entry: dict[str, Any] = {"type": kind}
        found[shape.name] = entry
        for key in CONSTRAINTS:
            if key in shape.metadata:
                value = shape.metadata[key]
                entry[key] = tuple(value) if isinstance(value, list) else value
        if "pattern" in entry:
            entry["model_pattern"] = entry["pattern"]
            entry["pattern"] = python_pattern(entry["pattern"])
        if kind == "structure":
            entry["members"] = {name: member.name for name, member in shape.members.items()}
            for member in shape.members.values():
                visit(member)
        elif kind == "list":
            entry["member"] = shape.member.name
            visit(shape.member)
        elif kind == "map":
            entry["key"], entry["value"] = shape.key.name, shape.value.name
            visit(shape.key)
            visit(shape.value)

    visit(root)
    return root.name, found


def render() -> str:
    import botocore

    root, found = shapes()
    lines = [
        '"""Shapes of SageMaker\'s CreateTrainingJob request, from botocore\'s service model.',
        "",
        "GENERATED by `python -m runtool_iac.sagemaker_codegen`; do not edit. Patterns are",
        "translated to Python regexes for re.fullmatch (model_pattern is the original).",
        '"""',
        "",
        f"BOTOCORE_VERSION = {botocore.__version__!r}",
        f"OPERATION = {OPERATION!r}",
        f"ROOT = {root!r}",
        "",
        "SHAPES = {",
    ]
    for name, entry in found.items():
        text = pprint.pformat(entry, width=96, sort_dicts=False)
        body = text.replace("\n", "\n    ")
        lines.append(f"    {name!r}: {body},")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> None:
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
