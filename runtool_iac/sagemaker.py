"""SageMaker's own rules for CreateTrainingJob requests.

botocore's ParamValidator checks types, required members and minimum sizes
from the service model; it does not check patterns and maximum lengths, so
the name and tag rules SageMaker enforces server-side are checked here too.
botocore is imported lazily: loading the SageMaker model costs ~0.2 s.
"""

from __future__ import annotations

import functools
import re
from typing import Any

JOB_NAME_MAX = 63
JOB_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
TAG_RE = re.compile(r"^[\w\s.:/=+\-@]*$")
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
MAX_TAGS = 50
# Step Functions' .sync integration adds its own MANAGED_BY_AWS tag to every job.
MAX_USER_TAGS = MAX_TAGS - 1
HYPERPARAMETER_VALUE_MAX = 2500
HYPERPARAMETER_KEY_MAX = 256
MAX_HYPERPARAMETERS = 100


@functools.cache
def _model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker")


@functools.cache
def _input_shape() -> Any:
    return _model().operation_model("CreateTrainingJob").input_shape


@functools.cache
def instance_types() -> tuple[str, ...]:
    return tuple(_model().shape_for("TrainingInstanceType").enum)


def request_members() -> tuple[str, ...]:
    return tuple(_input_shape().members)


def check_request(request: dict) -> list[str]:
    """Every reason SageMaker would reject this CreateTrainingJob request."""
    from botocore.validate import ParamValidator

    report = ParamValidator().validate(request, _input_shape())
    problems = report.generate_report().splitlines() if report.has_errors() else []
    problems = [p.strip() for p in problems if p.strip()]
    name = request.get("TrainingJobName", "")
    if isinstance(name, str) and not JOB_NAME_RE.match(name):
        problems.append(f"TrainingJobName {name!r} is not 1-63 letters, digits and hyphens")
    problems.extend(check_tags(request.get("Tags", [])))
    return problems


def check_tags(tags: list[dict]) -> list[str]:
    problems = []
    if len(tags) > MAX_USER_TAGS:
        problems.append(
            f"{len(tags)} tags; SageMaker allows {MAX_TAGS} and Step Functions adds one (MANAGED_BY_AWS)"
        )
    seen: set[str] = set()
    for tag in tags:
        key, value = tag.get("Key", ""), tag.get("Value", "")
        if key in seen:
            problems.append(f"tag {key!r} appears twice")
        seen.add(key)
        if not (1 <= len(key) <= TAG_KEY_MAX) or not TAG_RE.match(key) or key.startswith("aws:"):
            problems.append(f"tag key {key!r} is not 1-{TAG_KEY_MAX} letters, digits, spaces or _.:/=+-@ (nor 'aws:...')")
        if len(value) > TAG_VALUE_MAX or not TAG_RE.match(value):
            problems.append(f"tag {key!r}: value {value!r} is not 0-{TAG_VALUE_MAX} letters, digits, spaces or _.:/=+-@")
    return problems
