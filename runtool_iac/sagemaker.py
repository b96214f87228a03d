"""SageMaker's own rules for CreateTrainingJob requests.

Requests are checked against the shapes of botocore's service model
(``sagemaker_shapes``, generated from it by ``sagemaker_codegen``): what
botocore's ParamValidator checks — types, required and unknown members,
minimum lengths and values, with its messages — and what SageMaker checks
server-side beyond it: maximum lengths and values, enums, and patterns
matched against the whole value. Reading the generated module costs well
under a millisecond; importing botocore and its model costs ~0.25 s.
tests/test_sagemaker_shapes.py holds the two to each other.
"""

from __future__ import annotations

import re

from runtool_iac import patterns
from runtool_iac.errors import did_you_mean
from runtool_iac.sagemaker_shapes import ROOT, SHAPES

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

JOB_NAME_MAX = SHAPES["TrainingJobName"]["max"]
is_job_name = patterns.full_match(SHAPES["TrainingJobName"]["pattern"])
TAG_KEY_MAX = SHAPES["TagKey"]["max"]
TAG_VALUE_MAX = SHAPES["TagValue"]["max"]
MAX_TAGS = SHAPES["TagList"]["max"]
# Step Functions' .sync integration adds its own MANAGED_BY_AWS tag to every job.
MAX_USER_TAGS = MAX_TAGS - 1
HYPERPARAMETER_VALUE_MAX = SHAPES["HyperParameterValue"]["max"]
HYPERPARAMETER_KEY_MAX = SHAPES["HyperParameterKey"]["max"]
MAX_HYPERPARAMETERS = SHAPES["HyperParameters"]["max"]
ENUM_LISTED_MAX = 8  # longer enums are not spelled out in messages

# botocore's ParamValidator: the Python types each model type accepts.
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "boolean": (bool,),
    "structure": (dict,),
    "map": (dict,),
    "list": (list, tuple),
}
_compiled: dict[str, Callable[[str], bool]] = {}


def instance_types() -> tuple[str, ...]:
    return SHAPES["TrainingInstanceType"]["enum"]


def request_members() -> tuple[str, ...]:
    return tuple(SHAPES[ROOT]["members"])


def check_request(request: dict) -> list[str]:
    """Every reason SageMaker would reject this CreateTrainingJob request."""
    problems = check_value(ROOT, request)
    tags = request.get("Tags") if isinstance(request, dict) else None
    if isinstance(tags, list) and all(isinstance(t, dict) for t in tags):
        problems += tag_rules(tags)
        problems += [f"tag key {t['Key']!r} may not start with 'aws:' (reserved by AWS)" for t in tags
                     if isinstance(t.get("Key"), str) and t["Key"].startswith("aws:")]
    return problems


def check_member(member: str, value: Any, *, patterns: bool = True) -> list[str]:
    """Problems of one top-level field of a CreateTrainingJob request (worded as in a whole-request check)."""
    shape = SHAPES[ROOT]["members"].get(member)
    if shape is None:
        return [f'Unknown parameter in input: "{member}", must be one of: {", ".join(SHAPES[ROOT]["members"])}']
    return check_value(shape, value, member, patterns=patterns)


def check_value(shape: str, value: Any, name: str = "", *, patterns: bool = True) -> list[str]:
    """Problems of ``value`` as an instance of model shape ``shape`` (e.g. "TagKey", "S3Uri"),
    reported for parameter ``name``; patterns must match the whole value (unless not ``patterns``)."""
    errors: list[str] = []
    _check(value, shape, name, errors, patterns)
    return errors


def _label(name: str) -> str:
    return name or "input"


def _clip(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _matches(shape: str) -> Callable[[str], bool]:
    """Whether a value fully matches the shape's pattern (see ``patterns``)."""
    check = _compiled.get(shape)
    if check is None:
        check = _compiled[shape] = patterns.full_match(SHAPES[shape]["pattern"])
    return check


def _check(value: Any, shape_name: str, name: str, errors: list[str], patterns: bool = True) -> None:
    shape = SHAPES[shape_name]
    kind = shape["type"]
    valid = _TYPES.get(kind) or _float_types()
    # bool is an int in Python (botocore lets it through), but SageMaker's JSON API refuses `true` for a number.
    if not isinstance(value, valid) or (isinstance(value, bool) and kind != "boolean"):
        errors.append(
            f"Invalid type for parameter {_label(name)}, value: {value}, type: {type(value)}, "
            f"valid types: {', '.join(str(t) for t in valid)}"
        )
        return
    if kind == "structure":
        members = shape["members"]
        for required in shape.get("required", ()):
            if required not in value:
                errors.append(f'Missing required parameter in {_label(name)}: "{required}"')
        for key in value:
            if key not in members:
                errors.append(f'Unknown parameter in {_label(name)}: "{key}", must be one of: {", ".join(members)}')
        for key, item in value.items():
            if key in members:
                _check(item, members[key], f"{name}.{key}" if name else key, errors, patterns)
        return
    if kind == "list":
        _range(len(value), shape, name, "length", errors)
        for i, item in enumerate(value):
            _check(item, shape["member"], f"{name}[{i}]", errors, patterns)
        return
    if kind == "map":
        _range(len(value), shape, name, "length", errors, botocore_min=False)
        for key, item in value.items():
            _check(key, shape["key"], f"{name} (key: {key})", errors, patterns)
            _check(item, shape["value"], f"{name}.{key}", errors, patterns)
        return
    if kind == "boolean":
        return
    if kind != "string":
        _range(value, shape, name, "value", errors)
        return
    _range(len(value), shape, name, "length", errors)
    if "enum" in shape and value not in shape["enum"]:
        options = shape["enum"]
        allowed = (
            f"valid values: {', '.join(options)}"
            if len(options) <= ENUM_LISTED_MAX
            else f"not one of the {len(options)} values SageMaker accepts{did_you_mean(value, options)}"
        )
        errors.append(f"Invalid value for parameter {_label(name)}, value: {value!r}, {allowed}")
    if patterns and "pattern" in shape and not _matches(shape_name)(value):
        errors.append(
            f"Invalid value for parameter {_label(name)}, value: {_clip(value)}, "
            f"must match the pattern {shape['model_pattern']}"
        )


def _range(measured: Any, shape: dict, name: str, what: str, errors: list[str], botocore_min: bool = True) -> None:
    """Min and max of a length or a value, worded as botocore words its minimum check."""
    if "min" in shape and measured < shape["min"]:
        errors.append(f"Invalid {what} for parameter {_label(name)}, value: {measured}, valid min {what}: {shape['min']}")
    if "max" in shape and measured > shape["max"]:
        errors.append(f"Invalid {what} for parameter {_label(name)}, value: {measured}, valid max {what}: {shape['max']}")


def _float_types() -> tuple[type, ...]:
    import decimal  # only float/double shapes need it; CreateTrainingJob has none today

    return (float, decimal.Decimal, int)


def tag_rules(tags: list[dict]) -> list[str]:
    """The rules for a request's tags together: Step Functions adds one, keys are unique."""
    problems = []
    if len(tags) > MAX_USER_TAGS:
        problems.append(
            f"{len(tags)} tags; SageMaker allows {MAX_TAGS} and Step Functions adds one (MANAGED_BY_AWS)"
        )
    seen: set[Any] = set()
    for tag in tags:
        key = tag.get("Key", "")
        if key in seen:
            problems.append(f"tag {key!r} appears twice")
        seen.add(key)
    return problems


def tag_problems(tag: dict) -> list[str]:
    """The rules for one tag (the model's lengths and characters; no 'aws:' keys), in plain words."""
    key, value = tag.get("Key", ""), tag.get("Value", "")
    problems = []
    if check_value("TagKey", key):
        problems.append(f"tag key {key!r} is not 1-{TAG_KEY_MAX} letters, digits, spaces or _.:/=+-@")
    elif key.startswith("aws:"):
        problems.append(f"tag key {key!r} may not start with 'aws:' (reserved by AWS)")
    if check_value("TagValue", value):
        problems.append(f"tag {key!r}: value {value!r} is not 0-{TAG_VALUE_MAX} letters, digits, spaces or _.:/=+-@")
    return problems


def check_tags(tags: list[dict]) -> list[str]:
    """Tags as a user wrote them: SageMaker's rules, in plain words."""
    return tag_rules(tags) + [problem for tag in tags for problem in tag_problems(tag)]


def __getattr__(name: str) -> object:
    if name == "JOB_NAME_RE":  # compiled only if asked for: is_job_name answers without it
        # Anchored at both ends, so .match() is a full match (a trailing newline does not pass).
        return re.compile(f"(?:{SHAPES['TrainingJobName']['pattern']})\\Z")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
