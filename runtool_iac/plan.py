"""From an experiment to the exact list of CreateTrainingJob requests.

Pure and deterministic: no clock, no randomness, no network. The same config
files and arguments give byte-identical JSON, so plans can be reviewed and
diffed in pull requests. Every request is checked against botocore's model of
CreateTrainingJob and SageMaker's name and tag rules before it is returned.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from runtool_iac import sagemaker
from runtool_iac.config import schema
from runtool_iac.config.nodes import Experiment, Member, _Members
from runtool_iac.config.resolve import canonical, hash_text, parse_path
from runtool_iac.config.source import child_loc, loc_of, to_plain
from runtool_iac.config.trial import SharedEvaluations, TrialResolver, deferred_paths, path_tree, trial_uid
from runtool_iac.errors import ConfigError, Problem

PLACEHOLDER_BUCKET = "runtool-placeholder-bucket"
PLACEHOLDER_ROLE_ARN = "arn:aws:iam::000000000000:role/runtool-placeholder-role"
DEFAULT_EXPERIMENT_NAME = "experiment"
DEFAULT_VOLUME_GB = 32
DEFAULT_MAX_RUNTIME_S = 86_400
# In the cloud each job name gets "-<8-char execution token>-<redrive count>"
# appended (unique per execution, new on redrive), so plan names leave room.
CLOUD_SUFFIX_CHARS = 14
PLAN_NAME_MAX = sagemaker.JOB_NAME_MAX - CLOUD_SUFFIX_CHARS
TRIAL_HASH_CHARS = 8
SYSTEM_TAGS = (
    "run_configuration_id",
    "started_with_runtool",
    "experiment_name",
    "repeated_runs_group_id",
    "number_of_runs",
    "run_number",
)
EXPERIMENT_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,99}$")
TARGETS = ("sagemaker", "local")
_PER_TRIAL_TAGS = ("run_configuration_id", "repeated_runs_group_id")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-_]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class Job:
    """One planned training job: the request plus what a results table needs."""

    request: dict
    algorithm: str  # label of the algorithm variant
    dataset: str  # label of the dataset variant
    run: int
    runs: int
    run_configuration_id: str
    metrics: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.request["TrainingJobName"]

    @property
    def instance_type(self) -> str:
        return self.request["ResourceConfig"]["InstanceType"]


@dataclass
class Plan:
    jobs: list[Job]
    experiment_name: str
    runs: int
    duplicate_trials: int = 0
    trials: int = 0

    def requests(self) -> list[dict]:
        return [job.request for job in self.jobs]

    def __len__(self) -> int:
        return len(self.jobs)

    def __iter__(self):
        return iter(self.jobs)

    def instance_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(job.instance_type for job in self.jobs).items()))

    def instance_hours_bound(self) -> float:
        """Upper bound on billable instance-hours: every job runs to its MaxRuntimeInSeconds."""
        seconds = sum(
            job.request["StoppingCondition"]["MaxRuntimeInSeconds"] * job.request["ResourceConfig"]["InstanceCount"]
            for job in self.jobs
        )
        return seconds / 3600

    def to_json(self) -> str:
        return dumps(self.requests())


def dumps(value: Any) -> str:
    """The one JSON encoding of plans: a list with one item per line.

    One job per line diffs well in pull requests, and avoids ``indent=``,
    which forces json's pure-Python encoder (10x slower on 100k jobs).
    """
    if isinstance(value, list):
        items = ",\n".join(json.dumps(v, ensure_ascii=False, separators=(", ", ": ")) for v in value)
        return f"[\n{items}\n]\n" if value else "[]\n"
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


def encode_value(value: Any) -> str:
    """Hyperparameter and tag values are strings; others are JSON-encoded (true, 0.1, [1,2])."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)  # what json.dumps gives, without its overhead
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_INVALID_NAME_CHARS = re.compile(r"[^a-zA-Z0-9]+")


def sanitize_name(text: str) -> str:
    return _INVALID_NAME_CHARS.sub("-", text).strip("-")


def _fit(parts: list[str], budget: int) -> list[str]:
    """Shorten parts until they fit ``budget`` characters joined by '-', one character
    at a time from the currently longest, so long names share the room evenly."""
    parts = [p for p in parts if p]
    while parts and sum(map(len, parts)) + len(parts) - 1 > budget:
        longest = max(range(len(parts)), key=lambda i: len(parts[i]))
        parts[longest] = parts[longest][:-1].rstrip("-")
        if not parts[longest]:
            parts.pop(longest)
    return parts


def plan(
    experiment: Any,
    runs: int = 1,
    experiment_name: str = DEFAULT_EXPERIMENT_NAME,
    bucket: str = PLACEHOLDER_BUCKET,
    role_arn: str = PLACEHOLDER_ROLE_ARN,
    tags: Mapping[str, Any] | None = None,
    *,
    target: str = "sagemaker",
    name_prefix: str = "",
) -> list[dict]:
    """The CreateTrainingJob requests of ``experiment``: one per (trial, run)."""
    return build_plan(
        experiment, runs, experiment_name, bucket, role_arn, tags, target=target, name_prefix=name_prefix
    ).requests()


def _trials(experiment: Any) -> Iterable[tuple[Member, Member]]:
    if isinstance(experiment, Experiment):
        return experiment.trials()
    if isinstance(experiment, _Members):
        raise TypeError(
            f"cannot plan a {type(experiment).__name__} alone: combine it with "
            + ("datasets" if experiment.family == "algorithm" else "algorithms")
            + " using '*'"
        )
    raise TypeError(f"cannot plan a {type(experiment).__name__}; expected an Experiment (algorithms * datasets)")


def build_plan(
    experiment: Any,
    runs: int = 1,
    experiment_name: str = DEFAULT_EXPERIMENT_NAME,
    bucket: str = PLACEHOLDER_BUCKET,
    role_arn: str = PLACEHOLDER_ROLE_ARN,
    tags: Mapping[str, Any] | None = None,
    *,
    target: str = "sagemaker",
    name_prefix: str = "",
) -> Plan:
    """Like ``plan``, with job metadata. ``name_prefix`` starts every job name
    (a project's prefix, which its state machine is allowed to create)."""
    if not isinstance(runs, int) or isinstance(runs, bool) or not 1 <= runs <= 1000:
        raise ValueError(f"runs must be a whole number from 1 to 1000, not {runs!r}")
    if not EXPERIMENT_NAME_RE.match(experiment_name or ""):
        raise ValueError(
            f"experiment name {experiment_name!r} must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    if not BUCKET_RE.match(bucket or ""):
        raise ValueError(f"bucket {bucket!r} is not a valid S3 bucket name")
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, not {target!r}")
    user_tags = {str(k): encode_value(v) for k, v in (tags or {}).items()}
    problems = [f"user tag: {p}" for p in sagemaker.check_tags([{"Key": k, "Value": v} for k, v in user_tags.items()])]
    if problems:
        raise ValueError("; ".join(problems))

    if name_prefix and (sanitize_name(name_prefix) != name_prefix or len(name_prefix) > 16):
        raise ValueError(f"name prefix {name_prefix!r} must be up to 16 letters, digits and '-'")
    planner = _Planner(runs, experiment_name, bucket, role_arn, user_tags, target, name_prefix)
    return planner.run(_trials(experiment))


@dataclass
class _Side:
    """What one materialized algorithm or dataset puts into its trials' requests.

    Computed once per variant when the variant has no trial ``$eval``s (most
    do), else once per trial: a 100 × 100 grid builds 200 sides, not 20,000.
    """

    member: Member
    value: Any  # the materialized mapping
    tags: dict[str, str]
    metrics: dict
    metrics_key: str
    overrides: list[str]  # its $sagemaker keys, in order
    hyperparameters: dict[str, str] = field(default_factory=dict)
    channels_key: str = ""


@dataclass
class _Trial:
    algorithm: Member
    dataset: Member
    a: Any  # materialized algorithm mapping
    d: Any  # materialized dataset mapping
    custom_name: str | None
    trial_hash: str
    template: dict = field(default_factory=dict)
    tags: dict = field(default_factory=dict)
    overrides: list = field(default_factory=list)
    name: str = ""
    parts: dict = field(default_factory=dict)  # request field -> key of its interned part


@dataclass
class _Variant:
    """Per-variant facts, computed once: its canonical text, where its trial $evals are, its side."""

    key: str
    deferred: dict  # where its trial $evals are (path_tree); empty: none
    path: tuple  # its config path, parsed
    side: _Side | None = None  # as built for its first trial


class _Planner:
    def __init__(
        self, runs: int, experiment_name: str, bucket: str, role_arn: str, user_tags: dict, target: str, name_prefix: str
    ) -> None:
        self.runs = runs
        self.name_prefix = name_prefix
        self.experiment_name = experiment_name
        self.bucket = bucket
        self.role_arn = role_arn
        self.user_tags = user_tags
        self.target = target
        self.checking = target == "sagemaker"  # local requests carry file:// channels that SageMaker would refuse
        self.problems: list[Problem] = []
        self._variants: dict[Member, _Variant] = {}
        # Request parts and tags are interned by canonical key: equal ones are one object,
        # built and checked against SageMaker's model once per plan.
        self._parts: dict[tuple, Any] = {}
        self._checked: set[tuple] = set()
        self._tags: dict[tuple[str, str], dict] = {}
        self._hyperparameters_checked: set[tuple[str, str]] = set()
        self._evaluations = SharedEvaluations()

    def _variant(self, member: Member) -> _Variant:
        found = self._variants.get(member)
        if found is None:
            found = self._variants[member] = _Variant(
                canonical(member.value), path_tree(deferred_paths(member.value)), tuple(parse_path(member.path))
            )
        return found

    def run(self, pairs: Iterable[tuple[Member, Member]]) -> Plan:
        trials: list[_Trial] = []
        seen: set[tuple[str, str]] = set()
        duplicates = 0
        for algorithm, dataset in pairs:
            av, dv = self._variant(algorithm), self._variant(dataset)
            identity = (av.key, dv.key)
            if identity in seen:
                duplicates += 1
                continue
            seen.add(identity)
            trial = self._trial(algorithm, av, dataset, dv)
            if trial is not None:
                trials.append(trial)
        if self.problems:
            raise ConfigError(problems=self.problems)
        self._name(trials)
        jobs = [job for trial in trials for job in self._jobs(trial)]
        if self.problems:
            raise ConfigError(problems=self.problems)
        return Plan(jobs, self.experiment_name, self.runs, duplicate_trials=duplicates, trials=len(trials))

    # ------------------------------------------------------------- one trial

    def _trial(self, algorithm: Member, av: _Variant, dataset: Member, dv: _Variant) -> _Trial | None:
        a, d = algorithm.value, dataset.value
        trial_hash = trial_uid(av.key, dv.key)
        if av.deferred or dv.deferred:
            # $evals that read only a side without $evals of its own give the same value in
            # every trial with that side: evaluated once, shared.
            static = {m.kind: m for m, v in ((algorithm, av), (dataset, dv)) if not v.deferred}
            resolver = TrialResolver(a, d, uid=trial_hash, shared=self._evaluations, static=static)
            evaluated: dict[str, list] = {"algorithm": [], "dataset": []}
            try:
                if av.deferred:
                    a = resolver.materialize_paths(a, av.deferred, evaluated["algorithm"])
                if dv.deferred:
                    d = resolver.materialize_paths(d, dv.deferred, evaluated["dataset"])
            except ConfigError as exc:
                self.problems.extend(exc.problems)
                return None
            # Values computed by $eval are only known now: check them where the schema constrains them.
            found = [
                problem
                for member, variant in ((algorithm, av), (dataset, dv))
                for path, value, loc in evaluated[member.kind]
                for problem in schema.value_problems(f"{member.kind}.schema.json", path, value, variant.path, loc)
            ]
            if found:
                self.problems.extend(found)
                return None
        custom = a.get("$job_name") if "$job_name" in a else d.get("$job_name")
        trial = _Trial(algorithm, dataset, a, d, str(custom) if custom is not None else None, trial_hash)
        self._template(trial, self._side(algorithm, av, a), self._side(dataset, dv, d))
        return trial

    def _fail(self, member: Member, value: Any, key: str, message: str, *subkeys: Any) -> None:
        node = value
        loc = child_loc(value, key) or loc_of(value)
        path = [key]
        for sub in subkeys:
            node = node.get(key) if isinstance(node, dict) else None
            loc = child_loc(node, sub) or loc
            key = sub
            path.append(sub)
        self.problems.append(Problem(message, loc, ".".join([member.path, *map(str, path)])))

    def _side(self, member: Member, variant: _Variant, value: Any) -> _Side:
        """The variant's side; with trial $evals, its first trial's side with the fields under them redone."""
        base = variant.side
        if base is None:
            variant.side = self._new_side(member, value)
            return variant.side
        if not variant.deferred:
            return base
        side = _Side(base.member, value, base.tags, base.metrics, base.metrics_key, base.overrides, base.hyperparameters, base.channels_key)
        changed = variant.deferred
        if "tags" in changed:
            side.tags = {str(k): encode_value(v) for k, v in (value.get("tags") or {}).items()}
        if "metrics" in changed:
            side.metrics = value.get("metrics") or {}
            side.metrics_key = canonical(side.metrics)
        if "hyperparameters" in changed:
            side.hyperparameters = self._hyperparameters(member, value, base.hyperparameters, changed["hyperparameters"])
        if "image" in changed:
            self._check_image(member, value)
        if "path" in changed:
            side.channels_key = canonical(value["path"])
        return side

    def _new_side(self, member: Member, value: Any) -> _Side:
        metrics = value.get("metrics") or {}
        side = _Side(
            member,
            value,
            tags={str(k): encode_value(v) for k, v in (value.get("tags") or {}).items()},
            metrics=metrics,
            metrics_key=canonical(metrics),
            overrides=[k for k in value if k == "$sagemaker" or k.startswith("$sagemaker.")],
        )
        if member.kind == "algorithm":
            self._check_image(member, value)
            side.hyperparameters = self._hyperparameters(member, value)
        else:
            side.channels_key = canonical(value["path"])
        return side

    def _check_image(self, member: Member, a: Any) -> None:
        if self.target == "sagemaker" and str(a["image"]).startswith("local:"):
            self._fail(member, a, "image", "a 'local:' command runs only in local mode (runtool-iac local)")

    def _hyperparameters(
        self, member: Member, a: Any, base: dict[str, str] | None = None, changed: dict | None = None
    ) -> dict[str, str]:
        """Encoded hyperparameters; with ``base``, those of another trial of the variant, only the
        ``changed`` ones (under trial $evals) are encoded again."""
        values = a.get("hyperparameters") or {}
        if base is not None and changed is not None and len(base) == len(values):
            hyperparameters = dict(base)
            items = [(key, values[key]) for key in changed]
        else:
            hyperparameters = {}
            items = list(values.items())
        for key, value in items:
            encoded = encode_value(value)
            if len(encoded) > sagemaker.HYPERPARAMETER_VALUE_MAX:
                self._fail(
                    member, a, "hyperparameters",
                    f"encoded value has {len(encoded)} characters; SageMaker allows {sagemaker.HYPERPARAMETER_VALUE_MAX}",
                    key,
                )
            elif self.checking and (key, encoded) not in self._hyperparameters_checked:
                self._hyperparameters_checked.add((key, encoded))
                for message in sagemaker.check_value("HyperParameterKey", key, f"HyperParameters (key: {key})") + (
                    sagemaker.check_value("HyperParameterValue", encoded, f"HyperParameters.{key}")
                ):
                    self._fail(member, a, "hyperparameters", f"the CreateTrainingJob request is invalid: {message}", key)
            hyperparameters[key] = encoded
        return hyperparameters

    def _template(self, trial: _Trial, alg: _Side, ds: _Side) -> None:
        tags: dict[str, str] = {**alg.tags, **ds.tags, **self.user_tags}
        clash = sorted(set(tags) & set(SYSTEM_TAGS))
        if clash:
            self._fail(trial.algorithm, trial.a, "tags", f"tag '{clash[0]}' is set by runtool_iac itself")
        run_configuration = f"{self.experiment_name}_{trial.trial_hash}"
        trial.tags = {
            **tags,
            "run_configuration_id": run_configuration,
            "started_with_runtool": "true",
            "experiment_name": self.experiment_name,
            "repeated_runs_group_id": hash_text(run_configuration, str(self.runs), length=12),
            "number_of_runs": str(self.runs),
        }
        a, d = trial.a, trial.d
        spec_key = ("spec", a["image"], alg.metrics_key, ds.metrics_key)
        channels_key = ("channels", ds.channels_key, self.target)
        resources_key = ("resources", a["instance"])
        trial.parts = {
            "AlgorithmSpecification": spec_key,
            "InputDataConfig": channels_key,
            "ResourceConfig": resources_key,
            "StoppingCondition": ("stop",),
        }
        trial.template = {
            "AlgorithmSpecification": self._shared(
                spec_key,
                lambda: {
                    "TrainingImage": a["image"],
                    "TrainingInputMode": "File",
                    "MetricDefinitions": [{"Name": n, "Regex": r} for n, r in {**alg.metrics, **ds.metrics}.items()],
                },
            ),
            "HyperParameters": alg.hyperparameters,
            "InputDataConfig": self._shared(channels_key, lambda: self._channels(trial)),
            "OutputDataConfig": {"S3OutputPath": f"s3://{self.bucket}/{self.experiment_name}/{run_configuration}"},
            "ResourceConfig": self._shared(
                resources_key,
                lambda: {"InstanceCount": 1, "InstanceType": a["instance"], "VolumeSizeInGB": DEFAULT_VOLUME_GB},
            ),
            "StoppingCondition": self._shared(("stop",), lambda: {"MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME_S}),
            "RoleArn": self.role_arn,
        }
        for side in (alg, ds):
            for key in side.overrides:
                trial.overrides.append((side.member, side.value, key))
                _set_path(trial.template, key.split(".")[1:], side.value[key])

    def _channels(self, trial: _Trial) -> list[dict]:
        return [
            {
                "ChannelName": channel,
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": self._uri(trial, channel, uri)}},
            }
            for channel, uri in trial.d["path"].items()
        ]

    def _uri(self, trial: _Trial, channel: str, uri: str) -> str:
        if uri.startswith("s3://"):
            return uri
        if self.target == "sagemaker":
            self._fail(
                trial.dataset, trial.d, "path",
                f"'{uri}' is not an s3:// URI; local paths work only in local mode (runtool-iac local)",
                channel,
            )
            return uri
        if uri.startswith("file://"):
            return uri
        loc = child_loc(trial.d.get("path"), channel) or loc_of(trial.d)
        base = Path(loc.file).parent if loc and not loc.file.startswith("<") else Path.cwd()
        return (base / uri).resolve().as_uri()

    # ----------------------------------------------------------------- names

    def _name(self, trials: list[_Trial]) -> None:
        """Readable, unique, deterministic names: custom `$job_name`s are kept as written."""
        run_chars = len(f"-r{self.runs - 1}")
        prefix = f"{self.name_prefix}-" if self.name_prefix else ""
        budget = PLAN_NAME_MAX - run_chars - len(prefix)
        custom_counts = Counter(sanitize_name(t.custom_name) for t in trials if t.custom_name is not None)
        taken: set[str] = set()
        for trial in trials:
            if trial.custom_name is not None and custom_counts[sanitize_name(trial.custom_name)] == 1:
                name = "-".join(_fit([sanitize_name(trial.custom_name) or "job"], budget))
            else:
                readable = sanitize_name(trial.custom_name) if trial.custom_name is not None else None
                parts = [readable] if readable else [sanitize_name(trial.algorithm.name), sanitize_name(trial.dataset.name)]
                name = "-".join(_fit(parts, budget - TRIAL_HASH_CHARS - 1) + [trial.trial_hash])
            candidate, counter = name, 1
            while candidate in taken:  # identical hashes: astronomically rare, still deterministic
                counter += 1
                candidate = "-".join(_fit([name], budget - len(str(counter)) - 1) + [str(counter)])
            taken.add(candidate)
            trial.name = prefix + candidate

    # ------------------------------------------------------------------ jobs

    def _jobs(self, trial: _Trial) -> list[Job]:
        jobs = []
        metrics = tuple(m["Name"] for m in trial.template["AlgorithmSpecification"]["MetricDefinitions"])
        tags = [self._tag(trial, k, v) for k, v in trial.tags.items()]
        if self.checking:
            self._check(trial, tags)
        for run in range(self.runs):
            request = dict(trial.template)
            request["TrainingJobName"] = name = f"{trial.name}-r{run}"
            request["Tags"] = [*tags, self._tag(trial, "run_number", str(run))]
            if self.checking and not sagemaker.JOB_NAME_RE.match(name):
                self._report(trial, [f"TrainingJobName {name!r} is not valid"])
            jobs.append(
                Job(
                    request=request,
                    algorithm=trial.algorithm.label,
                    dataset=trial.dataset.label,
                    run=run,
                    runs=self.runs,
                    run_configuration_id=trial.tags["run_configuration_id"],
                    metrics=metrics,
                )
            )
        return jobs

    def _tag(self, trial: _Trial, key: str, value: str) -> dict:
        """Equal tags are one shared dict (most tags repeat across all jobs of a plan), checked once.
        The two tags unique to each trial are built alike from checked parts: their first is checked."""
        tag = self._tags.get((key, value))
        if tag is None:
            tag = self._tags[(key, value)] = {"Key": key, "Value": value}
            if self.checking and (key not in _PER_TRIAL_TAGS or ("tag", key) not in self._checked):
                self._checked.add(("tag", key))
                self._report(trial, sagemaker.tag_problems(tag))
        return tag

    def _shared(self, key: tuple, build: Any) -> Any:
        value = self._parts.get(key)
        if value is None:
            value = self._parts[key] = build()
        return value

    def _check(self, trial: _Trial, tags: list[dict]) -> None:
        """SageMaker's rules for this trial's requests, checking each distinct part once.

        Interned parts (by canonical key) are checked the first time a trial
        uses them as built; fields that overrides changed are checked by their
        canonical text; hyperparameters and tags were checked as they were
        made; names are checked per job.
        """
        messages = []
        if len(tags) + 1 > sagemaker.MAX_USER_TAGS:  # + run_number; keys are unique (a dict's)
            messages += sagemaker.tag_rules([*tags, {"Key": "run_number", "Value": ""}])
        overridden = {key.split(".")[1] if "." in key else None for _, _, key in trial.overrides}
        if None in overridden:  # a whole-request $sagemaker mapping may change any field
            overridden = set(trial.template)
        for field_name, value in trial.template.items():
            if field_name in overridden:
                checked = (field_name, canonical(value))
            elif field_name in trial.parts:
                checked = trial.parts[field_name]
            elif field_name == "HyperParameters":
                continue  # each (key, value) was checked in _hyperparameters
            else:
                checked = (field_name,)  # RoleArn, OutputDataConfig: built alike for every trial
            if checked not in self._checked:
                self._checked.add(checked)
                # The role in a plan is a placeholder for display: state machines pass their own.
                messages += sagemaker.check_member(field_name, value, patterns=field_name != "RoleArn")
        self._report(trial, messages)

    def _report(self, trial: _Trial, messages: list[str]) -> None:
        for message in dict.fromkeys(messages):
            member, value, key = _blame(trial, message)
            self._fail(member, value, key, f"the CreateTrainingJob request is invalid: {message}")


def _blame(trial: _Trial, message: str) -> tuple[Member, Any, str]:
    """The config value most likely behind a request problem: an override if one set that field."""
    for member, value, key in trial.overrides:
        field_path = key.split(".", 1)[1] if "." in key else ""
        if field_path and field_path.split(".")[0] in message:
            return member, value, key
    if trial.overrides:
        return trial.overrides[0]
    if "tag" in message.lower():
        for member, value in ((trial.algorithm, trial.a), (trial.dataset, trial.d)):
            if "tags" in value:
                return member, value, "tags"
    return trial.algorithm, trial.a, "image"


def _set_path(target: dict, fields: list[str], value: Any) -> None:
    """Set (deep-merging mappings) the request field at ``fields``; [] merges at the top."""
    if not fields:
        if isinstance(value, dict):
            for key, item in value.items():
                _set_path(target, [key], item)
        return
    node = target
    for key in fields[:-1]:
        child = node.get(key)
        child = dict(child) if isinstance(child, dict) else {}
        node[key] = child
        node = child
    last = fields[-1]
    if isinstance(value, dict) and isinstance(node.get(last), dict):
        merged = dict(node[last])
        for key, item in value.items():
            _set_path(merged, [key], item)
        node[last] = merged
    else:
        node[last] = to_plain(value)
