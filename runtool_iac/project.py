"""The project file ``runtool.yml``: which configs, which experiments, which infrastructure.

Pure: reading and validating the file and planning its experiments touch no
AWS. The CDK app, the runner and local mode all start from a ``Project``.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

from runtool_iac import spot
from runtool_iac.config import Config, load_config
from runtool_iac.config import schema
from runtool_iac.config.source import SourceMap, read_yaml_file
from runtool_iac.errors import ConfigError, Location, did_you_mean
from runtool_iac.experiment_expr import parse_experiment
from runtool_iac.naming import sanitize_name
from runtool_iac.plan import LOCAL_INSTANCE, PLACEHOLDER_BUCKET, PLACEHOLDER_ROLE_ARN, Plan, build_plan

PROJECT_FILE = "runtool.yml"
DEFAULT_MAX_CONCURRENCY = 10
DEFAULT_TOLERATED_FAILURE_PERCENTAGE = 0.0
DEFAULT_LOG_RETENTION_DAYS = 90
JOB_PREFIX_MAX = 12


@dataclass(frozen=True)
class Settings:
    """Infrastructure settings of the project (``defaults``)."""

    role_arn: str | None = None
    bucket: str | None = None
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    instance_limits: dict[str, int] = field(default_factory=dict)
    tolerated_failure_percentage: float = DEFAULT_TOLERATED_FAILURE_PERCENTAGE
    tags: dict[str, str] = field(default_factory=dict)
    notification_email: str | None = None
    notification_topic_arn: str | None = None
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS
    bucket_kms_key_arn: str | None = None  # the existing bucket's default-encryption key
    bucket_region: str | None = None  # the existing bucket's region (from its key when not given)
    spot: bool = False

    @property
    def create_role(self) -> bool:
        return self.role_arn is None

    @property
    def create_bucket(self) -> bool:
        return self.bucket is None


@dataclass(frozen=True)
class ExperimentSpec:
    name: str
    expression: str
    runs: int
    max_concurrency: int
    instance_limits: dict[str, int]
    tolerated_failure_percentage: float
    tags: dict[str, str]
    description: str = ""
    location: Location | None = None
    spot: bool = False

    def concurrency_for(self, instance_type: str) -> int:
        return self.instance_limits.get(instance_type, self.max_concurrency)


@dataclass(frozen=True)
class LocalSettings:
    images: dict[str, str] = field(default_factory=dict)
    data: dict[str, Path] = field(default_factory=dict)
    output_dir: Path | None = None
    max_parallel: int = 2


@dataclass
class Project:
    name: str
    root: Path
    file: Path
    config_files: list[Path]
    settings: Settings
    experiments: dict[str, ExperimentSpec]
    local: LocalSettings
    job_prefix: str
    _config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(*self.config_files)
        return self._config

    def experiment(self, name: str) -> ExperimentSpec:
        try:
            return self.experiments[name]
        except KeyError:
            raise ConfigError(
                f"no experiment '{name}' in {self.file.name}{did_you_mean(name, self.experiments)}"
                f" (declared: {', '.join(self.experiments)})",
                location=Location(str(self.file), 1, 1),
            ) from None

    def plan(self, name: str, runs: int | None = None, target: str = "sagemaker") -> Plan:
        """The jobs of a declared experiment, named with the project's job prefix."""
        spec = self.experiment(name)
        experiment = parse_experiment(spec.expression, self.config, location=spec.location, path=f"experiments.{name}.experiment")
        plan = build_plan(
            experiment,
            runs=runs or spec.runs,
            experiment_name=name,
            bucket=self.settings.bucket or PLACEHOLDER_BUCKET,
            role_arn=self.settings.role_arn or PLACEHOLDER_ROLE_ARN,
            tags=spec.tags,
            target=target,
            name_prefix=self.job_prefix,
        )
        return spot.managed_spot(plan) if spec.spot and target == "sagemaker" else plan

    def local_only(self, name: str) -> bool:
        """Whether the experiment has an algorithm with ``instance: local`` (the original's
        mark for local mode): it runs with `runtool-iac local` only, never on SageMaker."""
        spec = self.experiment(name)
        experiment = parse_experiment(spec.expression, self.config, location=spec.location, path=f"experiments.{name}.experiment")
        return any(isinstance(m.value, dict) and m.value.get("instance") == LOCAL_INSTANCE for m in experiment.algorithms)

    def stack_name(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("-")) + "Runtool"


def _key_region(arn: str | None) -> str | None:
    return arn.split(":")[3] if arn else None


def find_project_file(start: str | Path = ".") -> Path:
    """``runtool.yml`` in ``start`` or its parents (as git finds its repository)."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        candidate = folder / PROJECT_FILE
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"no {PROJECT_FILE} here or in any parent folder; run `runtool-iac init` to create a project",
        location=Location(str(Path(start) / PROJECT_FILE), 1, 1),
    )


def load_project(path: str | Path | None = None) -> Project:
    file = Path(path) if path else find_project_file()
    if file.is_dir():
        file = file / PROJECT_FILE
    raw = read_yaml_file(file)
    name = str(file)
    if not isinstance(raw, SourceMap):
        raise ConfigError("the project file must be a mapping", location=Location(name, 1, 1))
    problems = schema.problems("project.schema.json", raw, fallback=Location(name, 1, 1))
    if problems:
        raise ConfigError(problems=problems)
    root = file.resolve().parent
    defaults = raw.get("defaults") or {}
    errors: list[ConfigError] = []
    if "role_arn" in defaults and defaults.get("create_role"):
        errors.append(ConfigError("set either role_arn or create_role: true, not both", location=defaults.key_locs.get("create_role"), path="defaults.create_role"))
    if "bucket" in defaults and defaults.get("create_bucket"):
        errors.append(ConfigError("set either bucket or create_bucket: true, not both", location=defaults.key_locs.get("create_bucket"), path="defaults.create_bucket"))
    if "role_arn" not in defaults and defaults.get("create_role") is False:
        errors.append(ConfigError("create_role: false needs role_arn", location=defaults.key_locs.get("create_role"), path="defaults.create_role"))
    for key in ("bucket_kms_key_arn", "bucket_region"):
        if key in defaults and "bucket" not in defaults:
            errors.append(ConfigError(f"{key} describes an existing bucket: set bucket too", location=defaults.key_locs.get(key), path=f"defaults.{key}"))
    key_region = _key_region(defaults.get("bucket_kms_key_arn"))
    if key_region and defaults.get("bucket_region") not in (None, key_region):
        errors.append(ConfigError(
            f"bucket_region {defaults['bucket_region']} differs from the region of bucket_kms_key_arn ({key_region}); "
            "S3 uses keys of the bucket's own region", location=defaults.key_locs.get("bucket_region"), path="defaults.bucket_region"))
    if "bucket" not in defaults and defaults.get("create_bucket") is False:
        errors.append(ConfigError("create_bucket: false needs bucket", location=defaults.key_locs.get("create_bucket"), path="defaults.create_bucket"))

    config_files: list[Path] = []
    for i, pattern in enumerate(raw["configs"]):
        matches = sorted(glob.glob(str(root / pattern), recursive=True)) if glob.has_magic(pattern) else [str(root / pattern)]
        if not matches:
            errors.append(ConfigError(f"no files match '{pattern}'", location=raw["configs"].child_loc(i), path=f"configs[{i}]"))
        config_files += [Path(m) for m in matches if Path(m) not in config_files]
    if errors:
        raise ConfigError.collect(errors)

    settings = Settings(
        role_arn=defaults.get("role_arn"),
        bucket=defaults.get("bucket"),
        max_concurrency=defaults.get("max_concurrency", DEFAULT_MAX_CONCURRENCY),
        instance_limits=dict(defaults.get("instance_limits") or {}),
        tolerated_failure_percentage=defaults.get("tolerated_failure_percentage", DEFAULT_TOLERATED_FAILURE_PERCENTAGE),
        tags={str(k): str(v) for k, v in (defaults.get("tags") or {}).items()},
        notification_email=defaults.get("notification_email"),
        notification_topic_arn=defaults.get("notification_topic_arn"),
        log_retention_days=defaults.get("log_retention_days", DEFAULT_LOG_RETENTION_DAYS),
        bucket_kms_key_arn=defaults.get("bucket_kms_key_arn"),
        bucket_region=defaults.get("bucket_region") or _key_region(defaults.get("bucket_kms_key_arn")),
        spot=defaults.get("spot", False),
    )
    experiments = {}
    for exp_name, spec in raw["experiments"].items():
        experiments[exp_name] = ExperimentSpec(
            name=exp_name,
            expression=spec["experiment"],
            runs=spec.get("runs", 1),
            max_concurrency=spec.get("max_concurrency", settings.max_concurrency),
            instance_limits={**settings.instance_limits, **(spec.get("instance_limits") or {})},
            tolerated_failure_percentage=spec.get("tolerated_failure_percentage", settings.tolerated_failure_percentage),
            tags={**settings.tags, **{str(k): str(v) for k, v in (spec.get("tags") or {}).items()}},
            description=spec.get("description", ""),
            location=spec.child_loc("experiment"),
            spot=spec.get("spot", settings.spot),
        )
    local_raw = raw.get("local") or {}
    local = LocalSettings(
        images=dict(local_raw.get("images") or {}),
        data={prefix.rstrip("/"): (root / folder).resolve() for prefix, folder in (local_raw.get("data") or {}).items()},
        output_dir=(root / local_raw["output_dir"]) if "output_dir" in local_raw else None,
        max_parallel=local_raw.get("max_parallel", 2),
    )
    job_prefix = raw.get("job_prefix") or sanitize_name(raw["project"]).lower()[:JOB_PREFIX_MAX].rstrip("-")
    return Project(
        name=raw["project"],
        root=root,
        file=file,
        config_files=config_files,
        settings=settings,
        experiments=experiments,
        local=local,
        job_prefix=job_prefix,
    )
