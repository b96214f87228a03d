"""The compact CreateTrainingJob validator (sagemaker.py + the generated sagemaker_shapes.py)
against the installed botocore: same shapes, same answers as ParamValidator where
ParamValidator checks, and SageMaker's server-side rules (maximums, enums, whole-value
patterns) beyond it."""

from __future__ import annotations

import copy
import json

import botocore.session
import pytest
from botocore.validate import ParamValidator
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from runtool_iac import sagemaker, sagemaker_codegen
from runtool_iac.sagemaker_shapes import BOTOCORE_VERSION, ROOT, SHAPES

from conftest import ROOT as REPO

GOLDEN = REPO / "tests" / "golden"
INPUT = botocore.session.get_session().get_service_model("sagemaker").operation_model("CreateTrainingJob").input_shape


def botocore_problems(request: dict) -> list[str]:
    report = ParamValidator().validate(request, INPUT)
    return [line.strip() for line in report.generate_report().splitlines() if line.strip()] if report.has_errors() else []


def test_generated_module_is_current():
    """Fails after a botocore upgrade until `python -m runtool_iac.sagemaker_codegen` is run."""
    assert sagemaker_codegen.TARGET.read_text() == sagemaker_codegen.render(), (
        f"runtool_iac/sagemaker_shapes.py was generated from botocore {BOTOCORE_VERSION}; regenerate it"
    )


def _planned_requests() -> list[dict]:
    return [r for name in ("forecasting.plan.json", "features.plan.json") for r in json.loads((GOLDEN / name).read_text())]


def test_every_golden_request_passes_both():
    for request in _planned_requests():
        assert botocore_problems(request) == []
        assert sagemaker.check_request(request) == []


# ---------------------------------------------------------------- generated requests


def valid(shape_name: str, depth: int = 0) -> st.SearchStrategy:
    """Values of a shape that satisfy every rule of the model (patterns via hypothesis' from_regex)."""
    shape = SHAPES[shape_name]
    kind = shape["type"]
    if kind == "structure":
        members = shape["members"]
        required = set(shape.get("required", ()))
        optional = [m for m in members if m not in required] if depth < 2 else []
        return st.fixed_dictionaries(
            {m: valid(members[m], depth + 1) for m in members if m in required},
            optional={m: valid(members[m], depth + 1) for m in optional},
        )
    if shape_name == "TagList":  # plus the rules beyond the model: unique keys, none 'aws:...'
        tags = valid(shape["member"], depth + 1).filter(lambda t: not t["Key"].startswith("aws:"))
        return st.lists(tags, max_size=3, unique_by=lambda t: t["Key"])
    if kind == "list":
        size = st.integers(shape.get("min", 0), min(shape.get("max", 3), max(shape.get("min", 0), 3)))
        return size.flatmap(lambda n: st.lists(valid(shape["member"], depth + 1), min_size=n, max_size=n))
    if kind == "map":
        return st.dictionaries(valid(shape["key"], depth + 1), valid(shape["value"], depth + 1), max_size=3)
    if kind == "boolean":
        return st.booleans()
    if kind in ("integer", "long"):
        return st.integers(shape.get("min", -(2**31)), shape.get("max", 2**31))
    if "enum" in shape:
        return st.sampled_from(shape["enum"])
    low, high = shape.get("min", 0), shape.get("max", 64)
    if "pattern" in shape:
        strings = st.from_regex(shape["pattern"], fullmatch=True)
    else:
        strings = st.text(max_size=min(high, 20))
    return strings.filter(lambda s: low <= len(s) <= high)


# No shrinking: on these large values it takes minutes; a failure is shown as found.
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.reuse, Phase.generate])


@SETTINGS
@given(request=valid(ROOT))
def test_valid_requests_pass_both(request):
    assert botocore_problems(request) == []
    assert sagemaker.check_request(request) == []


def _positions(value, path=()):
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _positions(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _positions(item, path + (i,))


def _replace(root, path, new):
    if not path:
        return new
    out = copy.deepcopy(root)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = new
    return out


BOTOCORE_KINDS = ("type", "unknown", "missing", "min")


@SETTINGS
@given(request=valid(ROOT), data=st.data())
def test_broken_requests_get_botocores_messages_and_more(request, data):
    """Whatever ParamValidator reports is reported word for word; what it does not check
    (maximums, enums, patterns) is reported on top."""
    positions = list(_positions(request))
    path, value = data.draw(st.sampled_from(positions))
    kind = data.draw(st.sampled_from(BOTOCORE_KINDS + ("max", "enum", "pattern")))
    if kind == "type":
        new = data.draw(st.sampled_from([None, 1.5, "text", 7, True, [], {}]))
        broken = _replace(request, path, new)
    elif kind == "unknown" and isinstance(value, dict):
        broken = _replace(request, path, {**value, "NotAField": 1})
    elif kind == "missing" and isinstance(value, dict) and value:
        key = data.draw(st.sampled_from(sorted(value)))
        broken = _replace(request, path, {k: v for k, v in value.items() if k != key})
    elif kind == "min" and isinstance(value, (str, list)):
        broken = _replace(request, path, value[:0])
    elif kind == "max" and isinstance(value, str):
        broken = _replace(request, path, value + "x" * 3000)
    elif kind == "enum" and isinstance(value, str):
        broken = _replace(request, path, "not-an-enum-value")
    elif kind == "pattern" and isinstance(value, str):
        broken = _replace(request, path, value + "\n")
    else:
        return
    ours, theirs = sagemaker.check_request(broken), botocore_problems(broken)
    assert set(theirs) <= set(ours), (theirs, ours)
    extra = set(ours) - set(theirs)
    assert all(("valid max" in m or "valid values" in m or "SageMaker accepts" in m or "must match the pattern" in m
                or "tag" in m) for m in extra), extra


# ---------------------------------------------------------------- rules botocore leaves to the server


@pytest.mark.parametrize(
    "shape,value,ok",
    [
        ("TrainingJobName", "abc-1", True),
        ("TrainingJobName", "a" * 63, True),
        ("TrainingJobName", "a" * 64, False),
        ("TrainingJobName", "abc\n", False),  # re.match("...$") would accept this
        ("TrainingJobName", "-abc", False),
        ("TrainingJobName", "abc-", False),
        ("TrainingJobName", "ab_c", False),
        ("TagKey", "team", True),
        ("TagKey", "caf\u00e9 \u00a0x:/=+-@_.", True),  # Unicode letters and separators: \p{L}, \p{Z}
        ("TagKey", "tab\there", False),  # \t is not \p{Z}
        ("TagKey", "line\n", False),
        ("TagKey", "", False),
        ("TagKey", "k" * 129, False),
        ("TagValue", "", True),
        ("TagValue", "\u0663", True),  # an Arabic-Indic digit is \p{N}
        ("TagValue", "a;b", False),
        ("HyperParameterValue", '{"a": 1}', True),
        ("HyperParameterValue", "two\nlines", False),  # Java's '.' stops at line terminators
        ("HyperParameterValue", "x" * 2501, False),
        ("RoleArn", "arn:aws:iam::123456789012:role/sm", True),
        ("RoleArn", "arn:aws:iam::0123456789:role/sm", False),  # account ids have 12 digits
        ("RoleArn", "arn:aws:iam::12345678901\u0663:role/sm", False),  # \d is ASCII in Java
        ("S3Uri", "s3://bucket/prefix/", True),
        ("S3Uri", "s3://bucket/prefix/\n", False),
        ("S3Uri", "gs://bucket/", False),
        ("ChannelName", "train", True),
        ("ChannelName", "tr ain", False),
        ("TrainingInstanceType", "ml.m5.xlarge", True),
        ("TrainingInstanceType", "ml.m5.huge", False),
        ("MaxRuntimeInSeconds", 0, False),
        ("MaxRuntimeInSeconds", 1, True),
        ("KeepAlivePeriodInSeconds", 21601, False),
        ("TrainingEnvironmentValue", "multi\nline ok", True),  # [\S\s]* is anything
    ],
)
def test_server_side_rules(shape, value, ok):
    assert (sagemaker.check_value(shape, value, shape) == []) is ok


def test_messages_name_the_parameter_and_the_rule():
    assert sagemaker.check_value("TrainingJobName", "a_b", "TrainingJobName") == [
        "Invalid value for parameter TrainingJobName, value: 'a_b', must match the pattern [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
    ]
    (message,) = sagemaker.check_value("TrainingInstanceType", "ml.m5.xlarg", "ResourceConfig.InstanceType")
    assert "not one of the" in message and "did you mean 'ml.m5.xlarge'" in message
    assert sagemaker.check_value("StoppingCondition", {"MaxRuntimeInSeconds": "1"}, "StoppingCondition") == [
        "Invalid type for parameter StoppingCondition.MaxRuntimeInSeconds, value: 1, type: <class 'str'>, valid types: <class 'int'>"
    ]


def test_job_name_re_is_a_full_match():
    assert sagemaker.JOB_NAME_RE.match("abc-1")
    assert not sagemaker.JOB_NAME_RE.match("abc-1\n")
    assert not sagemaker.JOB_NAME_RE.match("abc-1-")
    for name in ("abc-1", "abc-1\n", "abc-1-", "", "-a", "a--b", "a" * 63, "a" * 64, "a-" * 62 + "b"):
        assert sagemaker.is_job_name(name) == bool(sagemaker.JOB_NAME_RE.match(name)), name


def test_patterns_translate_java_semantics():
    t = sagemaker_codegen.python_pattern
    assert t(r"\d{12}") == "[0-9]{12}"
    assert t(".*") == "[^\\n\\r\\x85\\u2028\\u2029]*"
    assert t(r"[\S\s]*") == r"[\s\S]*"
    assert t(r"[\p{Alnum}\-]+") == r"[a-zA-Z0-9\-]+"
    with pytest.raises(ValueError):
        t(r"\p{Lu}x")


def test_limits_come_from_the_model():
    assert (sagemaker.JOB_NAME_MAX, sagemaker.MAX_TAGS, sagemaker.TAG_KEY_MAX, sagemaker.TAG_VALUE_MAX) == (63, 50, 128, 256)
    assert sagemaker.HYPERPARAMETER_VALUE_MAX == 2500
    assert set(sagemaker.request_members()) == set(INPUT.members)
