"""What the created SageMaker role must reach, derived from the planned requests.

Pure (no aws_cdk): the stack turns a ``DataAccess`` into IAM statements
(``constructs/roles.py``). Every request field that makes SageMaker touch
something on the role's behalf is covered here — channels, checkpoints,
debugger/profiler/TensorBoard outputs, KMS keys, VPC networking — and a field
whose access cannot be derived from the config (an alias instead of a key, a
manifest file listing objects anywhere, a file-system channel) is a located
config error when the project creates the role, instead of a job failing in the
cloud.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from runtool_iac.config.source import SourceList, SourceMap, read_yaml_file
from runtool_iac.errors import ConfigError, Location, Problem

KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")
KMS_KEY_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$|^mrk-[0-9a-f]{32}$")
# Request fields SageMaker writes to (besides OutputDataConfig, which the state machine sets).
S3_OUTPUT_FIELDS = (
    ("DebugHookConfig", "S3OutputPath"),
    ("TensorBoardOutputConfig", "S3OutputPath"),
    ("ProfilerConfig", "S3OutputPath"),
)
KMS_FIELDS = (("OutputDataConfig", "KmsKeyId"), ("ResourceConfig", "VolumeKmsKeyId"))


@dataclass(frozen=True)
class DataAccess:
    """What the jobs of a project touch, collected from their requests."""

    read_prefixes: tuple[tuple[str, str], ...]  # (bucket, key prefix): channels
    outputs: tuple[str, ...]  # object patterns in the output bucket (e.g. "bench/bench_*")
    images: tuple[str, ...]
    write_prefixes: tuple[tuple[str, str], ...] = ()  # (bucket, key prefix): debugger/profiler/TensorBoard outputs
    checkpoint_prefixes: tuple[tuple[str, str], ...] = ()  # (bucket, key prefix): read and written (spot resumes)
    kms_keys: tuple[str, ...] = ()  # key ARNs (or "key/<id>" in the stack's account and region)
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    # Object patterns in the output bucket holding checkpoints below the jobs' own output
    # prefixes (spot: true): read back when a job resumes (writes are covered by ``outputs``).
    output_checkpoints: tuple[str, ...] = ()

    @classmethod
    def from_requests(cls, requests: list[dict], outputs: list[str], *,
                      locate: Callable[[str], tuple[Location, str] | None] | None = None,
                      extra_kms_keys: Iterable[str] = ()) -> "DataAccess":
        """Raises ConfigError (located through ``locate(field path)``) for access it cannot derive."""
        reads: set[tuple[str, str]] = set()
        writes: set[tuple[str, str]] = set()
        checkpoints: set[tuple[str, str]] = set()
        images: set[str] = set()
        keys: set[str] = set(extra_kms_keys)
        subnets: set[str] = set()
        groups: set[str] = set()
        problems: dict[tuple[str, str], Problem] = {}
        own_checkpoints: set[str] = set()

        def problem(path: str, message: str, job: str) -> None:
            found = locate(path) if locate else None
            location, config_path = found if found else (None, f"$sagemaker.{path}")
            problems.setdefault((path, message), Problem(f"{message} (job {job}); the created SageMaker role cannot be "
                                                         "given this access: set defaults.role_arn to a role that has it",
                                                         location, config_path))

        for request in requests:
            job = request.get("TrainingJobName", "?")
            spec = request["AlgorithmSpecification"]
            images.add(spec["TrainingImage"])
            if spec.get("TrainingImageConfig", {}).get("TrainingRepositoryAuthConfig"):
                problem("AlgorithmSpecification.TrainingImageConfig", "a private Docker registry's credentials provider", job)
            for channel in request["InputDataConfig"]:
                source = channel["DataSource"]
                if "S3DataSource" not in source:
                    problem("InputDataConfig", f"channel {channel.get('ChannelName')}: a {next(iter(source), 'non-S3')} source", job)
                    continue
                s3 = source["S3DataSource"]
                if s3.get("S3DataType", "S3Prefix") != "S3Prefix":
                    problem("InputDataConfig", f"channel {channel.get('ChannelName')}: S3DataType {s3['S3DataType']} "
                            "(the objects it lists are not in the config)", job)
                    continue
                reads.add(_split(s3["S3Uri"]))
            checkpoint = request.get("CheckpointConfig", {}).get("S3Uri")
            output = request.get("OutputDataConfig", {}).get("S3OutputPath", "")
            if checkpoint and output and checkpoint.startswith(output.rstrip("/") + "/"):
                experiment = _split(output)[1].split("/")[0]
                own_checkpoints.add(f"{experiment}/{experiment}_*/checkpoints/*")
            elif checkpoint:
                checkpoints.add(_split(checkpoint))
            for field, key in S3_OUTPUT_FIELDS:
                uri = request.get(field, {}).get(key)
                if uri:
                    writes.add(_split(uri))
            for field, key in KMS_FIELDS:
                value = request.get(field, {}).get(key)
                if value:
                    if KMS_KEY_ARN.match(value):
                        keys.add(value)
                    elif KMS_KEY_ID.match(value):
                        keys.add(f"key/{value}")
                    else:
                        problem(f"{field}.{key}", f"KMS key '{value}' is not a key ARN or key id (IAM cannot grant "
                                "use of a key through its alias)", job)
            vpc = request.get("VpcConfig")
            if vpc:
                subnets.update(vpc.get("Subnets", []))
                groups.update(vpc.get("SecurityGroupIds", []))
        if problems:
            raise ConfigError(problems=list(problems.values()))
        return cls(
            read_prefixes=_minimal(reads),
            outputs=tuple(sorted(set(outputs))),
            images=tuple(sorted(images)),
            write_prefixes=_minimal(writes),
            checkpoint_prefixes=_minimal(checkpoints),
            kms_keys=tuple(sorted(keys)),
            subnets=tuple(sorted(subnets)),
            security_groups=tuple(sorted(groups)),
            output_checkpoints=tuple(sorted(own_checkpoints)),
        )


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _minimal(prefixes: set[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Drop prefixes already covered by a shorter one in the same bucket."""
    out: list[tuple[str, str]] = []
    for bucket, key in sorted(prefixes):
        if not any(b == bucket and key.startswith(k) for b, k in out):
            out.append((bucket, key))
    return tuple(out)


def sagemaker_locations(files: Iterable[Path]) -> Callable[[str], tuple[Location, str] | None]:
    """``locate(field path)``: where a config sets that ``$sagemaker.*`` field (or its closest
    parent or child), and the config path of that key (``node.$sagemaker.Field``)."""
    found: list[tuple[str, Location, str]] = []  # (field path, location, config path)

    def walk(node: Any, prefix: str | None, config_path: str) -> None:
        if isinstance(node, SourceMap):
            for key, value in node.items():
                key = str(key)
                here = f"{config_path}.{key}" if config_path else key
                if prefix is not None:
                    path = f"{prefix}.{key}" if prefix else key
                elif key == "$sagemaker" or key.startswith("$sagemaker."):
                    path = key.removeprefix("$sagemaker").lstrip(".")
                else:
                    path = None
                if path is not None and node.key_locs.get(key):
                    found.append((path, node.key_locs[key], here))
                walk(value, path, here)
        elif isinstance(node, SourceList):
            for index, item in enumerate(node):
                walk(item, prefix, f"{config_path}[{index}]")

    for file in files:
        try:
            walk(read_yaml_file(file), None, "")
        except ConfigError:
            continue  # reported when the configs load

    def locate(path: str) -> tuple[Location, str] | None:
        matches = [m for m in found if m[0] and (path.startswith(m[0]) or m[0].startswith(path))]
        if not matches:
            return None
        _, location, config_path = min(matches, key=lambda m: (abs(len(m[0]) - len(path)), m[1].file, m[1].line))
        return location, config_path

    return locate
