"""From an experiment to the exact list of CreateTrainingJob requests.

Pure and deterministic: no clock, no randomness, no network. The same config
files and arguments give byte-identical JSON, so plans can be reviewed and
diffed in pull requests. Every request is checked against botocore's model of
CreateTrainingJob and SageMaker's name and tag rules before it is returned.
"""

from __future__ import annotations

import gc
import json
from collections import Counter
from pathlib import Path

from runtool_iac import aws_names, naming, patterns, sagemaker
from runtool_iac.config import labels, schema
from runtool_iac.config.nodes import Experiment, Member, _Members
from runtool_iac.config.resolve import canonical, hash_text, parse_path
from runtool_iac.config.source import child_loc, loc_of, to_plain
from runtool_iac.config.trial import SharedEvaluations, TrialResolver, deferred_paths, path_tree, trial_uid
from runtool_iac.errors import ConfigError, Location, Problem
from runtool_iac.expressions import TimeBudget
from runtool_iac.limits import DEFAULT_LIMITS, Limits
from runtool_iac.naming import CLOUD_SUFFIX_CHARS, PLAN_NAME_MAX, TRIAL_HASH_CHARS, sanitize_name  # noqa: F401 (re-exported)
from runtool_iac.records import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

PLACEHOLDER_BUCKET = "runtool-placeholder-bucket"
PLACEHOLDER_ROLE_ARN = "arn:aws:iam::000000000000:role/runtool-placeholder-role"
DEFAULT_EXPERIMENT_NAME = "experiment"
DEFAULT_VOLUME_GB = 32
DEFAULT_MAX_RUNTIME_S = 86_400
SYSTEM_TAGS = (
    "run_configuration_id",
    "started_with_runtool",
    "experiment_name",
    "repeated_runs_group_id",
    "number_of_runs",
    "run_number",
)
TARGETS = ("sagemaker", "local")
_PER_TRIAL_TAGS = ("run_configuration_id", "repeated_runs_group_id")
_STOP_KEY = ("stop",)
# An IAM role ARN, loosely: the original's own docs plan with "arn:aws:iam::0123456789:role/...",
# and `run` uses the deployed stack's role anyway. Length 20-2048 as botocore's RoleArn shape.
ROLE_ARN = r"^arn:aws[a-z\-]*:iam::[^:]*:role/.+$"
_is_role_arn = patterns.full_match(ROLE_ARN)
# The instance value of an algorithm that runs only in local mode (as in the original).
LOCAL_INSTANCE = "local"
# Request fields the deployed state machine sets itself, so $sagemaker cannot.
DEPLOYMENT_FIELDS = {
    ("RoleArn",): "jobs run with the deployed stack's role (runtool.yml defaults.role_arn, or Client(role=...))",
    ("OutputDataConfig", "S3OutputPath"): "outputs go to the project's bucket (runtool.yml defaults.bucket, or Client(bucket=...))",
}


class PlanArgumentError(ValueError):
    """An argument of the plan (not a config value) is wrong; ``argument`` names it."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(message)
        self.argument = argument


class Job(Record):
    """One planned training job: the request plus what a results table needs."""

    __slots__ = ("request", "algorithm", "dataset", "run", "runs", "run_configuration_id", "metrics")

    def __init__(
        self,
        request: dict,
        algorithm: str,  # label of the algorithm variant
        dataset: str,  # label of the dataset variant
        run: int,
        runs: int,
        run_configuration_id: str,
        metrics: tuple[str, ...] = (),
    ) -> None:
        self.request, self.algorithm, self.dataset = request, algorithm, dataset
        self.run, self.runs, self.run_configuration_id, self.metrics = run, runs, run_configuration_id, metrics

    @property
    def name(self) -> str:
        return self.request["TrainingJobName"]

    @property
    def instance_type(self) -> str:
        return self.request["ResourceConfig"]["InstanceType"]


class Plan(Record):
    __slots__ = ("jobs", "experiment_name", "runs", "duplicate_trials", "trials")
    __hash__ = None  # type: ignore[assignment]  (mutable, as the dataclass was)

    def __init__(
        self, jobs: list[Job], experiment_name: str, runs: int, duplicate_trials: int = 0, trials: int = 0
    ) -> None:
        self.jobs, self.experiment_name, self.runs = jobs, experiment_name, runs
        self.duplicate_trials, self.trials = duplicate_trials, trials

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

    def duplicates_note(self) -> str | None:
        if not self.duplicate_trials:
            return None
        n = self.duplicate_trials
        return f"{n} duplicate trial{'s' if n != 1 else ''} (the same node listed twice) planned once"


_LINE = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "))  # one encoder, not one per item


def dumps(value: Any) -> str:
    """The one JSON encoding of plans: a list with one item per line.

    One job per line diffs well in pull requests, and avoids ``indent=``,
    which forces json's pure-Python encoder (10x slower on 100k jobs).
    """
    if isinstance(value, list):
        items = ",\n".join(map(_LINE.encode, value))
        return f"[\n{items}\n]\n" if value else "[]\n"
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


def _has_space_or_control(text: str) -> bool:
    r"""[\s\x00-\x1f\x7f] anywhere; printable ASCII without a space has none (most images)."""
    if text.isascii() and text.isprintable():
        return " " in text
    return any(c.isspace() or c < " " or c == "\x7f" for c in text)


def _is_experiment_name(name: object) -> bool:
    """[a-zA-Z0-9][a-zA-Z0-9._-]{0,99} (sets, not a regex: see ``patterns``)"""
    return isinstance(name, str) and patterns.made_of(name, patterns.ALNUM + "._-", 1, 100, first=patterns.ALNUM)


def encode_value(value: Any) -> str:
    """Hyperparameter and tag values are strings; others are JSON-encoded (true, 0.1, [1,2])."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)  # what json.dumps gives, without its overhead
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


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
    job_name_expression: str | None = None,
) -> list[dict]:
    """The CreateTrainingJob requests of ``experiment``: one per (trial, run)."""
    return build_plan(
        experiment, runs, experiment_name, bucket, role_arn, tags,
        target=target, name_prefix=name_prefix, job_name_expression=job_name_expression,
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
    job_name_expression: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Plan:
    """Like ``plan``, with job metadata. ``name_prefix`` starts every job name
    (a project's prefix, which its state machine is allowed to create).
    ``job_name_expression`` (the original's) is an expression evaluated per job
    like a ``$job_name``, with ``$trial``/``__trial__``, ``uid``, ``run`` and
    ``run_configuration``. Wrong arguments raise ``PlanArgumentError``."""
    user_tags = check_arguments(runs, experiment_name, bucket, role_arn, tags, target, name_prefix)
    try:
        job_names = naming.JobNameExpression.compile(job_name_expression) if job_name_expression is not None else None
    except naming.JobNameError as exc:
        raise PlanArgumentError("job_name_expression", str(exc)) from None
    trials = _trials(experiment)
    check_job_count(experiment, runs, limits, Location("<experiment>", 1, 1))
    planner = _Planner(runs, experiment_name, bucket, role_arn, user_tags, target, name_prefix, job_names)
    planner.budget = TimeBudget(limits.eval_seconds)
    # Planning makes millions of small containers and no reference cycles: the cyclic
    # collector would walk them again and again to free nothing (a sixth of a large
    # plan's time). Paused for the plan only, and resumed as the caller had it.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return planner.run(trials)
    finally:
        if collecting:
            gc.enable()


def check_job_count(
    experiment: Any, runs: int, limits: Limits = DEFAULT_LIMITS, location: Location | None = None, path: str | None = None
) -> None:
    """Refuse, before planning any, more jobs than ``limits.jobs_per_plan``."""
    if not isinstance(experiment, Experiment):
        return
    jobs = len(experiment) * runs
    if jobs > limits.jobs_per_plan:
        raise ConfigError(
            f"the experiment has {jobs:,} jobs ({len(experiment):,} trials x {runs} run{'s' if runs != 1 else ''}); "
            f"at most {limits.jobs_per_plan:,} per plan ({Limits.hint('jobs_per_plan')})",
            location=location,
            path=path,
        )


def check_arguments(
    runs: Any,
    experiment_name: Any,
    bucket: Any,
    role_arn: Any,
    tags: Mapping[str, Any] | None,
    target: str = "sagemaker",
    name_prefix: str = "",
) -> dict[str, str]:
    """Every rule on the plan's arguments (not config values); returns the encoded user tags."""
    if not isinstance(runs, int) or isinstance(runs, bool) or not 1 <= runs <= 1000:
        raise PlanArgumentError("runs", f"runs must be a whole number from 1 to 1000, not {runs!r}")
    if not _is_experiment_name(experiment_name):
        raise PlanArgumentError(
            "experiment_name",
            f"experiment name {experiment_name!r} must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    bucket_problem = aws_names.bucket_problem(bucket)
    if bucket_problem:
        raise PlanArgumentError("bucket", f"bucket {bucket!r} is not a valid S3 bucket name: it {bucket_problem}")
    if not isinstance(role_arn, str) or not 20 <= len(role_arn) <= 2048 or not _is_role_arn(role_arn):
        raise PlanArgumentError(
            "role_arn", f"role {role_arn!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)"
        )
    if target not in TARGETS:
        raise PlanArgumentError("target", f"target must be one of {TARGETS}, not {target!r}")
    user_tags = {str(k): encode_value(v) for k, v in (tags or {}).items()}
    problems = [f"tag '{k}' is set by runtool_iac itself" for k in user_tags if k in SYSTEM_TAGS]
    problems += sagemaker.check_tags([{"Key": k, "Value": v} for k, v in user_tags.items()])
    if problems:
        raise PlanArgumentError("tags", "; ".join(problems))
    if name_prefix and (sanitize_name(name_prefix) != name_prefix or len(name_prefix) > 16):
        raise PlanArgumentError("name_prefix", f"name prefix {name_prefix!r} must be up to 16 letters, digits and '-'")
    return user_tags


class _Side:
    """What one materialized algorithm or dataset puts into its trials' requests.

    Computed once per variant when the variant has no trial ``$eval``s (most
    do), else once per trial: a 100 × 100 grid builds 200 sides, not 20,000.
    (Plain classes here: see ``records``.)
    """

    __slots__ = ("member", "value", "tags", "metrics", "metrics_key", "overrides", "hyperparameters", "channels_key")

    def __init__(
        self,
        member: Member,
        value: Any,  # the materialized mapping
        tags: dict[str, str],
        metrics: dict,
        metrics_key: str,
        overrides: list[str],  # its $sagemaker keys, in order
        hyperparameters: dict[str, str] | None = None,
        channels_key: str = "",
    ) -> None:
        self.member, self.value, self.tags, self.metrics = member, value, tags, metrics
        self.metrics_key, self.overrides, self.channels_key = metrics_key, overrides, channels_key
        self.hyperparameters = hyperparameters if hyperparameters is not None else {}


class _Trial:
    __slots__ = (
        "algorithm", "dataset", "a", "d", "trial_hash", "run_configuration", "custom_names", "template", "tags",
        "overrides", "names", "parts", "tag_list", "algorithm_name", "dataset_name", "algorithm_label", "dataset_label",
    )

    def __init__(
        self,
        algorithm: Member,
        dataset: Member,
        a: Any,  # materialized algorithm mapping
        d: Any,  # materialized dataset mapping
        trial_hash: str,
        run_configuration: str,
    ) -> None:
        self.algorithm, self.dataset, self.a, self.d = algorithm, dataset, a, d
        self.trial_hash, self.run_configuration = trial_hash, run_configuration
        # The custom name base, per run (one item when it does not depend on the run).
        self.custom_names: list[str] | None = None
        self.template: dict = {}
        self.tags: dict = {}
        self.overrides: list = []
        self.names: list[str] = []  # the job name base of each run
        self.parts: dict = {}  # request field -> key of its interned part
        self.tag_list: list[dict] = []  # the request's Tags, but for run_number
        self.algorithm_name = self.dataset_name = self.algorithm_label = self.dataset_label = ""


class _Variant:
    """Per-variant facts, computed once: its canonical text, where its trial $evals are, its side."""

    __slots__ = ("key", "deferred", "path", "side", "named_as_written")

    def __init__(self, key: str, deferred: dict, path: tuple, axes: tuple[tuple, ...]) -> None:
        self.key = key
        self.deferred = deferred  # where its trial $evals are (path_tree); empty: none
        self.path = path  # its config path, parsed
        self.side: _Side | None = None  # as built for its first trial
        # No trial $eval under its `name` or its label's axes: every trial's name and label are the node's.
        self.named_as_written = not any(_under(path, deferred) for path in (*axes, ("name",)))


def _under(path: tuple, tree: dict) -> bool:
    """Whether ``path`` leads to, into or through a position of ``tree`` (a ``path_tree``)."""
    node: dict | None = tree
    for key in path:
        if node is None or key not in node:
            return node is None
        node = node[key]
    return True


class _Planner:
    def __init__(
        self,
        runs: int,
        experiment_name: str,
        bucket: str,
        role_arn: str,
        user_tags: dict,
        target: str,
        name_prefix: str,
        job_names: naming.JobNameExpression | None = None,
    ) -> None:
        self.runs = runs
        self.job_names = job_names
        self.name_prefix = name_prefix
        self.experiment_name = experiment_name
        self.bucket = bucket
        self.role_arn = role_arn
        self.user_tags = user_tags
        self.target = target
        self.checking = target == "sagemaker"  # local requests carry file:// channels that SageMaker would refuse
        self.problems: list[Problem] = []
        self.budget: TimeBudget | None = None
        self._variants: dict[Member, _Variant] = {}
        # Request parts and tags are interned by canonical key: equal ones are one object,
        # built and checked against SageMaker's model once per plan.
        self._parts: dict[tuple, Any] = {_STOP_KEY: {"MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME_S}}
        self._checked: set[tuple] = set()
        self._tags: dict[tuple[str, str], dict] = {}
        self._tag_lists: dict[tuple, tuple[list[dict], list[tuple[int, str]]]] = {}
        self._hyperparameters_checked: set[tuple[str, str]] = set()
        self._valid_evaluated: set[tuple] = set()  # (kind, path, type, value) of $eval results that passed
        self._evaluations = SharedEvaluations()

    def _variant(self, member: Member) -> _Variant:
        found = self._variants.get(member)
        if found is None:
            found = self._variants[member] = _Variant(
                canonical(member.value), path_tree(deferred_paths(member.value)), tuple(parse_path(member.path)), member.axes
            )
        return found

    def run(self, pairs: Iterable[tuple[Member, Member]]) -> Plan:
        trials: list[_Trial] = []
        seen: set[tuple] = set()
        duplicates = 0
        for algorithm, dataset in pairs:
            av, dv = self._variant(algorithm), self._variant(dataset)
            # Only the very same variant of the very same node listed twice is one
            # trial; nodes that merely look alike (placeholders) each give their jobs.
            identity = (algorithm.path, id(algorithm.value), dataset.path, id(dataset.value))
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
            resolver = TrialResolver(a, d, uid=trial_hash, shared=self._evaluations, static=static, budget=self.budget)
            evaluated: dict[str, list] = {"algorithm": [], "dataset": []}
            try:
                if av.deferred:
                    a = resolver.materialize_paths(a, av.deferred, evaluated["algorithm"])
                if dv.deferred:
                    d = resolver.materialize_paths(d, dv.deferred, evaluated["dataset"])
            except ConfigError as exc:
                self.problems.extend(exc.problems)
                return None
            found = self._evaluated_problems(((algorithm, av), (dataset, dv)), evaluated)
            if found:
                self.problems.extend(found)
                return None
        trial = _Trial(algorithm, dataset, a, d, trial_hash, f"{self.experiment_name}_{trial_hash}")
        trial.algorithm_name, trial.algorithm_label = self._naming_of(algorithm, av, a)
        trial.dataset_name, trial.dataset_label = self._naming_of(dataset, dv, d)
        self._template(trial, self._side(algorithm, av, a), self._side(dataset, dv, d))
        if trial.custom_names is None:
            trial.custom_names = self._custom_names(trial)
        return trial

    @staticmethod
    def _naming_of(member: Member, variant: _Variant, value: Any) -> tuple[str, str]:
        """Name and label from the trial's resolved values: a `name` computed from
        $trial replaces the node's key, and axes show their resolved values."""
        if variant.named_as_written:
            value = member.value
        own = value.get("name") if isinstance(value, dict) else None
        base = own if isinstance(own, str) and own else member.name
        if base == member.name and (value is member.value or not member.axes):
            return base, member.label
        return base, labels.label(base, member.axes, value)

    def _custom_names(self, trial: _Trial) -> list[str] | None:
        """job_name_expression, else the algorithm's `$job_name`, else the dataset's."""
        if self.job_names is None:
            custom = trial.a.get("$job_name") if "$job_name" in trial.a else trial.d.get("$job_name")
            return None if custom is None else [encode_value(custom)]
        try:
            return self.job_names.names(trial.a, trial.d, trial.trial_hash, trial.run_configuration, self.runs)
        except naming.JobNameError as exc:
            raise PlanArgumentError("job_name_expression", f"{exc} (for {trial.algorithm_label} × {trial.dataset_label})") from None

    def _evaluated_problems(self, sides: tuple, evaluated: dict[str, list]) -> list[Problem]:
        """Values computed by $eval are only known now: check them where the schema constrains them
        (a scalar that passed at a path passes there again)."""
        found = []
        for member, variant in sides:
            for path, value, loc in evaluated[member.kind]:
                scalar = value is None or isinstance(value, (str, int, float))
                key = (member.kind, path, type(value), value) if scalar else None
                if key in self._valid_evaluated:
                    continue
                problems = schema.value_problems(f"{member.kind}.schema.json", path, value, variant.path, loc)
                if problems:
                    found += problems
                elif key is not None:
                    self._valid_evaluated.add(key)
        return found

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
            self._check_tags(side)
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
        self._check_tags(side)
        if member.kind == "algorithm":
            self._check_image(member, value)
            side.hyperparameters = self._hyperparameters(member, value)
        else:
            side.channels_key = canonical(value["path"])
        return side

    def _check_image(self, member: Member, a: Any) -> None:
        if self.target == "sagemaker" and str(a["image"]).startswith("local:"):
            self._fail(member, a, "image", "a 'local:' command runs only in local mode (runtool-iac local)")
        elif self.target == "sagemaker" and _has_space_or_control(str(a["image"])):
            # botocore's model says only `.*`; a registry path (a Docker reference) has no spaces.
            self._fail(member, a, "image", f"image {a['image']!r} has a space or control character; SageMaker needs a registry path")
        if self.target == "sagemaker" and a["instance"] == LOCAL_INSTANCE:
            self._fail(
                member, a, "instance",
                "instance 'local' runs only in local mode: `runtool-iac local` (or Client.local_run), not on SageMaker",
            )

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

    def _check_tags(self, side: _Side) -> None:
        for key in sorted(set(side.tags) & set(SYSTEM_TAGS)):
            self._fail(side.member, side.value, "tags", f"tag '{key}' is set by runtool_iac itself", key)

    def _template(self, trial: _Trial, alg: _Side, ds: _Side) -> None:
        overrides, override_tags = self._overrides(trial, alg, ds) if alg.overrides or ds.overrides else ((), None)
        run_configuration = trial.run_configuration
        trial.tags = {
            **alg.tags,
            **ds.tags,
            **(override_tags or {}),
            **self.user_tags,
            "run_configuration_id": run_configuration,
            "started_with_runtool": "true",
            "experiment_name": self.experiment_name,
            "repeated_runs_group_id": hash_text(run_configuration, str(self.runs), length=12),
            "number_of_runs": str(self.runs),
        }
        trial.tag_list = self._tag_list(trial, None if override_tags else (alg.tags, ds.tags))
        a = trial.a
        # Parts equal by canonical key are one object, built (and checked) once per plan.
        parts = self._parts
        spec_key = ("spec", a["image"], alg.metrics_key, ds.metrics_key)
        spec = parts.get(spec_key)
        if spec is None:
            spec = parts[spec_key] = {
                "TrainingImage": a["image"],
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": n, "Regex": r} for n, r in {**alg.metrics, **ds.metrics}.items()],
            }
        channels_key = ("channels", ds.channels_key, self.target)
        channels = parts.get(channels_key)
        if channels is None:
            channels = parts[channels_key] = self._channels(trial)
        resources_key = ("resources", a["instance"])
        resources = parts.get(resources_key)
        if resources is None:
            resources = parts[resources_key] = {
                "InstanceCount": 1, "InstanceType": a["instance"], "VolumeSizeInGB": DEFAULT_VOLUME_GB,
            }
        trial.parts = {
            "AlgorithmSpecification": spec_key,
            "InputDataConfig": channels_key,
            "ResourceConfig": resources_key,
            "StoppingCondition": _STOP_KEY,
        }
        trial.template = {
            "AlgorithmSpecification": spec,
            "HyperParameters": alg.hyperparameters,
            "InputDataConfig": channels,
            "OutputDataConfig": {"S3OutputPath": f"s3://{self.bucket}/{self.experiment_name}/{run_configuration}"},
            "ResourceConfig": resources,
            "StoppingCondition": parts[_STOP_KEY],
            "RoleArn": self.role_arn,
        }
        for fields, override in overrides:
            _set_path(trial.template, list(fields), override)

    def _overrides(self, trial: _Trial, alg: _Side, ds: _Side) -> tuple[list[tuple[tuple, Any]], dict[str, str]]:
        """The trial's ``$sagemaker`` fields as (request path, value), the dataset's
        after the algorithm's (so it wins), and the tags they set. None is dropped
        silently: ``TrainingJobName`` becomes the trial's custom name base, ``Tags``
        merge with the other tags, and fields the deployed state machine sets are
        located errors."""
        out: list[tuple[tuple, Any]] = []
        tags: dict[str, str] = {}
        for side in (alg, ds):
            member, value = side.member, side.value
            for key in side.overrides:
                trial.overrides.append((member, value, key))
                fields = tuple(key.split(".")[1:])
                items = value[key].items() if not fields and isinstance(value[key], dict) else [((), value[key])]
                for sub, item in items:
                    path = fields + ((sub,) if sub != () else ())
                    self._override(trial, member, value, key, path, item, out, tags)
        return out, tags

    def _override(
        self, trial: _Trial, member: Member, value: Any, key: str, path: tuple, item: Any, out: list, tags: dict
    ) -> None:
        def fail(message: str) -> None:
            self._fail(member, value, key, message)

        deployed = _deployment_field(path, item)
        if not path:
            fail("$sagemaker takes a mapping of CreateTrainingJob fields")
        elif deployed:
            fail(f"$sagemaker cannot set {deployed[0]}: {deployed[1]}")
        elif path[0] == "TrainingJobName":
            if len(path) > 1 or not isinstance(item, (str, int)) or isinstance(item, bool):
                fail("$sagemaker.TrainingJobName takes a name (it becomes the start of every job name of the trial)")
            else:
                trial.custom_names = [encode_value(item)]
        elif path[0] == "Tags":
            given = _tag_mapping(item) if len(path) == 1 else None
            if given is None:
                fail("$sagemaker.Tags takes a list of {Key: ..., Value: ...} (or a mapping of key: value)")
                return
            for tag_key in given:
                if tag_key in SYSTEM_TAGS:
                    fail(f"tag '{tag_key}' is set by runtool_iac itself")
            tags.update(given)
        else:
            out.append((path, item))


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
        requests = [naming.NameRequest(t.custom_names, t.algorithm_name, t.dataset_name, t.trial_hash) for t in trials]
        for trial, names in zip(trials, naming.assign(requests, self.runs, self.name_prefix)):
            trial.names = names

    # ------------------------------------------------------------------ jobs

    def _jobs(self, trial: _Trial) -> list[Job]:
        jobs = []
        template = trial.template
        metrics = tuple(m["Name"] for m in template["AlgorithmSpecification"]["MetricDefinitions"])
        tags = trial.tag_list
        if self.checking:
            self._check(trial, tags)
        last = self.runs - 1
        for run in range(self.runs):
            request = template if run == last else dict(template)  # the last run's is the template itself
            request["TrainingJobName"] = name = f"{trial.names[run]}-r{run}"
            request["Tags"] = [*tags, self._tag(trial, "run_number", str(run))]
            if self.checking and not sagemaker.is_job_name(name):
                self._report(trial, [f"TrainingJobName {name!r} is not valid"])
            jobs.append(
                Job(request, trial.algorithm_label, trial.dataset_label, run, self.runs, trial.run_configuration, metrics)
            )
        return jobs

    def _tag_list(self, trial: _Trial, sources: tuple[dict, dict] | None) -> list[dict]:
        """The trial's tags as request items. Trials whose sides have equal tags (``sources``)
        have the same items but for the two made per trial: those are put in a copy of the
        first such trial's list."""
        if sources is None:
            return [self._tag(trial, k, v) for k, v in trial.tags.items()]
        key = (*sources[0].items(), None, *sources[1].items())
        found = self._tag_lists.get(key)
        if found is None:
            tags = [self._tag(trial, k, v) for k, v in trial.tags.items()]
            positions = [(i, tag["Key"]) for i, tag in enumerate(tags) if tag["Key"] in _PER_TRIAL_TAGS]
            self._tag_lists[key] = (tags, positions)
            return tags
        first, positions = found
        tags = list(first)
        for i, tag_key in positions:
            tags[i] = {"Key": tag_key, "Value": trial.tags[tag_key]}
        return tags

    def _tag(self, trial: _Trial, key: str, value: str) -> dict:
        """Equal tags are one shared dict (most tags repeat across all jobs of a plan), checked once.
        The two tags unique to each trial are built alike from checked parts: only their first is
        checked, and they are not interned (that would only cost memory)."""
        if key in _PER_TRIAL_TAGS:
            tag = {"Key": key, "Value": value}
            if self.checking and ("tag", key) not in self._checked:
                self._checked.add(("tag", key))
                self._report(trial, sagemaker.tag_problems(tag))
            return tag
        tag = self._tags.get((key, value))
        if tag is None:
            tag = self._tags[(key, value)] = {"Key": key, "Value": value}
            if self.checking:
                self._report(trial, sagemaker.tag_problems(tag))
        return tag

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
        elif not trial.overrides:
            # Without overrides a trial's fields are its interned parts and ones built alike
            # for every trial: all checked once a trial with the same parts was.
            parts = ("parts", *trial.parts.values())
            if parts in self._checked:
                return
            self._checked.add(parts)
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


def _deployment_field(path: tuple, value: Any) -> tuple[str, str] | None:
    """(field, reason) if setting ``value`` at ``path`` would set a field the deployed
    state machine sets itself (and so would be silently replaced in the cloud)."""
    for fields, reason in DEPLOYMENT_FIELDS.items():
        rest = fields[len(path):]
        if path and fields[: len(path)] == path and (not rest or (isinstance(value, dict) and rest[0] in value)):
            return ".".join(fields), reason
    return None


def _tag_mapping(value: Any) -> dict[str, str] | None:
    """SageMaker's tag list (or a plain mapping) as key → encoded value; None if neither."""
    if isinstance(value, dict):
        return {str(k): encode_value(v) for k, v in value.items()}
    if isinstance(value, list) and all(isinstance(t, dict) and set(t) <= {"Key", "Value"} and "Key" in t for t in value):
        return {str(t["Key"]): encode_value(t.get("Value", "")) for t in value}
    return None


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
