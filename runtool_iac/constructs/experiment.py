"""``ExperimentStateMachine``: one experiment as a Step Functions fan-out of SageMaker jobs.

Shape (JSONPath query language)::

    Defaults ─► runs/token/manifest from the input, else the declared ones
       └─► Jobs (Parallel): per job group (instance type)
              HasJobs? ─ no items ─► NoJobs (an empty group never reads a manifest)
              Distributed Map, ItemReader: the group's JSON-lines manifest (S3), exactly the
                items to run (MaxItems: fewer runs read a prefix of the run-major manifest)
              ItemProcessor (child STANDARD executions):
                Train  createTrainingJob.sync  <job>-<token>-<redrive count + attempt>
                       retry throttling + quota (no job was created); catch job failures
                 ├─ ok ─► Trim ─► Succeeded (job + description; absent optional fields → null)
                 └─ err ─► ReadFailure ─► CapacityRetry? ─ CapacityError, attempts left ─► NextAttempt ─► Backoff ─► Train
                              └─ otherwise ─► DescribeFailure ─► RecordFailure (S3) ─► JobFailed
                JobFailed (Choice): redriven since the failure? ─► Train; else no rule
                       matches and the item fails (States.NoChoiceMatched)
              ResultWriter: s3://<bucket>/<experiment>/_results/<execution>/

Why JobFailed is a Choice and not a Fail state: a redriven child workflow of a
Distributed Map restarts "from the last state in ItemProcessor that resulted in
their unsuccessful execution", and a redriven Fail state "reenters the Fail state
and fails again", whereas a Choice state "reevaluates the Choice state rules"
(Step Functions developer guide, "Redriving Map Runs" and "Redriving executions",
redrive behaviour of individual states). Re-evaluated with a higher
``$$.Execution.RedriveCount``, JobFailed leads back to Train, which creates
exactly one new job with a new name. A Catch is needed to tell capacity failures
(``FailureReason`` "CapacityError…") from the others: both fail the task with
``States.TaskFailed``. Because a Choice failure carries no custom cause, the
failure record (job, error, SageMaker's description with ``FailureReason``) is
written to ``<results>/failures/<job>.json`` first, where ``results`` reads it.

The definition holds no jobs: its bytes do not depend on the number of jobs
(the per-group item counts for fewer runs are fixed-width literals).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jsii
from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

MAX_RUNS_INPUT = 1000
TOKEN_EXPRESSION = "States.ArrayGetItem(States.StringSplit(States.UUID(), '-'), 0)"

# Error names the SageMaker .sync integration raises (Retry/Catch match exact strings).
# Source: AWS Step Functions developer guide, "Create and manage Amazon SageMaker AI
# jobs with Step Functions" and "Handling errors in Step Functions workflows":
# - an instance quota hit when creating the job:
QUOTA_ERROR = "SageMaker.ResourceLimitExceededException"
# - API throttling (and other SageMaker API errors):
THROTTLING_ERROR = "SageMaker.AmazonSageMakerException"
# A job that ends Failed/Stopped fails the task with States.TaskFailed (job description
# in Cause); a reused name fails with SageMaker.ResourceInUseException. Neither is
# retried by a Retry (it would re-send the same job name): a job failed for lack of
# instance capacity is started again under a new name by the CapacityRetry loop, every
# other failure fails the item (and can be redriven).
# In a Retry or Catch, States.TaskFailed matches every known error but States.Timeout
# (Step Functions guide, "Handling errors": error names).
TASK_FAILED = "States.TaskFailed"
# SageMaker's FailureReason for insufficient instance capacity (not a quota): a new job may succeed.
CAPACITY_REASON = "CapacityError"
DEFAULT_CAPACITY_RETRIES = 4
DEFAULT_CAPACITY_RETRY_SECONDS = 300
MAX_CAPACITY_RETRY_SECONDS = 3600
COUNT_WIDTH = 10  # fixed-width item counts keep the definition's size independent of job counts
# DescribeTrainingJob fields botocore's model marks optional that results read: they
# are merged under these defaults, so no path into the description can be missing.
OPTIONAL_RESULT_FIELDS = {
    "FinalMetricDataList": [],
    "BillableTimeInSeconds": None,
    "TrainingTimeInSeconds": None,
    "ModelArtifacts": {"S3ModelArtifacts": None},
}


@dataclass(frozen=True)
class JobGroup:
    """One Distributed Map: jobs of one instance type and one set of request fields."""

    id: str
    fields: tuple[str, ...]
    max_concurrency: int
    manifest_path: str | None = None  # local JSON-lines file shipped as an asset
    jobs_per_run: int = 0  # items per run in the declared manifest (run-major)


@dataclass(frozen=True)
class ExperimentStateMachineProps:
    """What one state machine needs; built from a project's plan by the stack."""

    experiment: str
    groups: tuple[JobGroup, ...]
    bucket: s3.IBucket
    sagemaker_role_arn: str
    job_prefix: str
    runs: int = 0  # declared runs; 0 = ad-hoc machine (manifest location required in the input)
    tolerated_failure_percentage: float = 0.0
    log_group: logs.ILogGroup | None = None
    capacity_retries: int = DEFAULT_CAPACITY_RETRIES
    capacity_retry_seconds: int = DEFAULT_CAPACITY_RETRY_SECONDS

    def capacity_backoff(self) -> list[int]:
        """Seconds to wait before each capacity retry: doubling, capped at an hour."""
        return [min(self.capacity_retry_seconds * 2**i, MAX_CAPACITY_RETRY_SECONDS) for i in range(self.capacity_retries)]


@jsii.implements(sfn.IItemReader)
class JsonLinesReader:
    """ItemReader for a JSON-lines object whose bucket and key come from the state input.

    aws-cdk-lib's S3JsonLItemReader takes a fixed key; the key is chosen at
    run time (the declared manifest, or one uploaded for more runs or Client.run).
    """

    def __init__(self, bucket_expr: str, key_expr: str, max_items_path: str) -> None:
        self._bucket_expr = bucket_expr
        self._key_expr = key_expr
        self._max_items_path = max_items_path

    @property
    def resource(self) -> str:
        return f"arn:{Aws.PARTITION}:states:::s3:getObject"

    @property
    def bucket(self) -> Any:
        return None

    @property
    def bucket_name_path(self) -> Any:
        return None

    @property
    def max_items(self) -> Any:
        return None

    def render(self, query_language: Any = None) -> Any:
        return {
            "Resource": self.resource,
            "ReaderConfig": {"InputType": "JSONL", "MaxItemsPath": self._max_items_path},
            "Parameters": {"Bucket.$": self._bucket_expr, "Key.$": self._key_expr},
        }

    def provide_policy_statements(self) -> list[iam.PolicyStatement]:
        return []  # granted by ExperimentStateMachine on exactly the manifest objects

    def validate_item_reader(self) -> list[str]:
        return []


class ScopedResultWriter(sfn.ResultWriterV2):
    """ResultWriterV2 without its bucket-wide grant: ExperimentStateMachine grants
    writes to exactly this experiment's results prefix instead."""

    def provide_policy_statements(self) -> list[iam.PolicyStatement]:
        return []


FAILURES = "failures"  # <results prefix>/failures/<job>.json: the record of a job's latest failure


def _nulls(value: Any) -> Any:
    """``value`` with every None as an intrinsic that yields JSON null (see OPTIONAL_RESULT_FIELDS)."""
    if isinstance(value, dict):
        return {f"{k}.$" if v is None else k: "States.StringToJson('null')" if v is None else _nulls(v) for k, v in value.items()}
    return value


def _count(n: int) -> str:
    """An integer as a fixed-width intrinsic argument (JSON allows leading blanks)."""
    return f"States.StringToJson('{n:>{COUNT_WIDTH}}')"


def _items_for_runs(jobs_per_run: int, declared_runs: int) -> str:
    """Items the map reads for ``$.cfg.runs`` runs: jobs_per_run × runs, as intrinsics (no multiplication:
    the runs-th element of the range jobs_per_run, 2·jobs_per_run, …)."""
    return (
        f"States.ArrayGetItem(States.ArrayRange({_count(jobs_per_run)}, {_count(jobs_per_run * declared_runs)}, "
        f"{_count(jobs_per_run)}), States.MathAdd($.cfg.runs, -1))"
    )


def _key(group: JobGroup) -> str:
    """The group's key in state data (JSONPath dot notation takes no '-')."""
    return group.id.replace("-", "_")


class ExperimentStateMachine(Construct):
    """A state machine that runs one experiment's manifest (or an uploaded one).

    Input (all optional for a declared experiment; ``{}`` runs it as declared)::

        {"runs": 2,                      # fewer runs than declared: runs 0 and 1 of each trial
         "token": "ab12cd34",            # name suffix; default: derived from a fresh UUID
         "manifest": {"bucket": "...", "prefix": "...",    # uploaded <prefix>/<group>.jsonl files
                      "items": {"ml_m5_large": 3, ...}}}   # items per group (id with '_' for '-'); 0: skipped
    """

    def __init__(self, scope: Construct, construct_id: str, props: ExperimentStateMachineProps) -> None:
        super().__init__(scope, construct_id)
        self.props = props
        stack = Stack.of(self)
        self.results_prefix = f"{props.experiment}/_results"
        self.upload_prefix = f"{props.experiment}/_manifests"
        self.assets = {
            g.id: s3_assets.Asset(self, f"Manifest-{g.id}", path=g.manifest_path)
            for g in props.groups
            if g.manifest_path
        }

        jobs = sfn.Parallel(self, "Jobs", state_name="Jobs")
        for group in props.groups:
            jobs.branch(self._group_branch(group))
        jobs.next(sfn.Succeed(self, "Done", state_name="Done"))
        definition, ends = self._prologue()
        for end in ends:
            end.next(jobs)

        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=f"{stack.stack_name}-{props.experiment}"[:80],
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=props.log_group, level=sfn.LogLevel.ALL, include_execution_data=True)
            if props.log_group
            else None,
            comment=f"runtool_iac experiment '{props.experiment}'",
        )
        self._grant()

    # ------------------------------------------------------------ prologue

    def _prologue(self) -> tuple[sfn.IChainable, list[sfn.INextable]]:
        """Resolve the input into state data: ``cfg`` (runs, token, manifest), bucket,
        results prefix, and ``manifest`` (where each group's items are).

        Plain state data rather than workflow variables: a Distributed Map's
        ItemReader, ItemSelector and ResultWriter all read the Map state's input.
        """
        props = self.props
        declared = props.runs > 0
        defaults = sfn.Pass(
            self,
            "Defaults",
            state_name="Defaults",
            parameters={
                "defaults": {"runs": props.runs if declared else 1, "token.$": TOKEN_EXPRESSION},
                "input.$": "$",
            },
        )
        read_input = sfn.Pass(
            self,
            "ReadInput",
            state_name="ReadInput",
            parameters={
                "cfg.$": "States.JsonMerge($.defaults, $.input, false)",
                "bucket": props.bucket.bucket_name,
                "results_prefix.$": f"States.Format('{self.results_prefix}/{{}}', $$.Execution.Name)",
            },
        )
        invalid = sfn.Fail(
            self,
            "InvalidInput",
            state_name="InvalidInput",
            error="InvalidInput",
            cause=(
                f"Input: {{\"runs\": 1..{props.runs or MAX_RUNS_INPUT}, \"token\": \"8 letters/digits\", "
                '"manifest": {"bucket": ..., "prefix": ..., "items": {"<group id, _ for ->": N, ...}}} (all optional'
                + (")" if declared else "; manifest required for this ad-hoc state machine)")
                + f". More runs than the {props.runs} declared need an uploaded manifest: runtool-iac run --runs N."
            ),
        )
        uploaded = sfn.Pass(
            self,
            "UseUploadedManifest",
            state_name="UseUploadedManifest",
            result_path="$.manifest",
            parameters={
                "bucket.$": "$.cfg.manifest.bucket",
                "keys": {
                    f"{_key(g)}.$": f"States.Format('{{}}/{g.id}.jsonl', $.cfg.manifest.prefix)" for g in props.groups
                },
                "items.$": "$.cfg.manifest.items",
            },
        )
        check = sfn.Choice(self, "CheckInput", state_name="CheckInput")
        check.when(
            sfn.Condition.or_(
                sfn.Condition.not_(sfn.Condition.is_numeric("$.cfg.runs")),
                sfn.Condition.number_less_than("$.cfg.runs", 1),
                sfn.Condition.number_greater_than("$.cfg.runs", MAX_RUNS_INPUT),
                sfn.Condition.not_(sfn.Condition.is_string("$.cfg.token")),
                sfn.Condition.and_(
                    sfn.Condition.is_present("$.cfg.manifest"), sfn.Condition.is_not_present("$.cfg.manifest.items")
                ),
            ),
            invalid,
        )
        check.when(sfn.Condition.is_present("$.cfg.manifest"), uploaded)
        if not declared:
            check.otherwise(invalid)
            return defaults.next(read_input).next(check), [uploaded]
        declared_manifest = sfn.Pass(
            self,
            "UseDeclaredManifest",
            state_name="UseDeclaredManifest",
            result_path="$.manifest",
            parameters={
                "bucket": next(iter(self.assets.values())).s3_bucket_name,
                "keys": {_key(g): self.assets[g.id].s3_object_key for g in props.groups},
                # Fewer runs than declared read the first runs × jobs-per-run items (the manifest is run-major).
                "items": {f"{_key(g)}.$": _items_for_runs(g.jobs_per_run, props.runs) for g in props.groups},
            },
        )
        check.when(sfn.Condition.number_greater_than("$.cfg.runs", props.runs), invalid)
        check.otherwise(declared_manifest)
        return defaults.next(read_input).next(check), [uploaded, declared_manifest]

    # ---------------------------------------------------------- one group

    def _group_branch(self, group: JobGroup) -> sfn.IChainable:
        """The group's Distributed Map, skipped when the run has no items for it:
        what ItemReader does with an empty object is undocumented."""
        has_jobs = sfn.Choice(self, f"HasJobs-{group.id}", state_name=self._state_name("HasJobs", group))
        none = sfn.Pass(
            self,
            f"NoJobs-{group.id}",
            state_name=self._state_name("NoJobs", group),
            parameters={"group": group.id, "items": 0},
        )
        has_jobs.when(sfn.Condition.number_equals(f"$.manifest.items.{_key(group)}", 0), none)
        has_jobs.otherwise(self._group_map(group))
        return has_jobs

    def _group_map(self, group: JobGroup) -> sfn.DistributedMap:
        props = self.props
        label = "".join(ch for ch in group.id.title() if ch.isalnum())[:40]
        job_map = sfn.DistributedMap(
            self,
            f"Map-{group.id}",
            state_name=f"Jobs {group.id}",
            label=label,
            item_reader=JsonLinesReader(
                "$.manifest.bucket", f"$.manifest.keys.{_key(group)}", f"$.manifest.items.{_key(group)}"
            ),
            item_selector={
                "job.$": "$$.Map.Item.Value.job",
                "request.$": "$$.Map.Item.Value.request",
                "token.$": "$.cfg.token",
                "output": {
                    "S3OutputPath.$": "States.Format('s3://{}/{}', $.bucket, $$.Map.Item.Value.job.output_key)"
                },
                "bucket.$": "$.bucket",
                "results_prefix.$": "$.results_prefix",
                "attempt": {"n": 0, "wait": 0},
                # JSON null cannot be written as a literal through aws-cdk-lib (it drops None).
                "absent": _nulls(OPTIONAL_RESULT_FIELDS),
                # An error output has an Error; its Cause may be missing.
                "no_cause": {"Error": "", "Cause": ""},
            },
            max_concurrency=group.max_concurrency,
            tolerated_failure_percentage=props.tolerated_failure_percentage,
            # Child executions must be STANDARD: EXPRESS ones cannot wait on .sync jobs.
            map_execution_type=sfn.StateMachineType.STANDARD,
            result_writer_v2=ScopedResultWriter(bucket=props.bucket, prefix=sfn.JsonPath.string_at("$.results_prefix")),
        )
        job_map.item_processor(self._processor(group))
        return job_map

    def _state_name(self, base: str, group: JobGroup) -> str:
        """State names are unique per state machine: qualify them when there are several groups."""
        return base if len(self.props.groups) == 1 else f"{base} {group.id}"

    def _processor(self, group: JobGroup) -> sfn.IChainable:
        props = self.props

        def name(base: str) -> str:
            return self._state_name(base, group)

        # New per execution (token), per redrive and per capacity retry; identical on a Retry
        # (which happens only when SageMaker created no job). RedriveCount + attempt grows by
        # one whenever Train runs again, so every job SageMaker accepted has its own name.
        job_name = "States.Format('{}-{}-{}', $.job.name, $.token, States.MathAdd($$.Execution.RedriveCount, $.attempt.n))"
        parameters: dict[str, Any] = {
            "TrainingJobName.$": job_name,
            "RoleArn": props.sagemaker_role_arn,
            "OutputDataConfig.$": "States.JsonMerge($.request.OutputDataConfig, $.output, false)",
        }
        for field_name in group.fields:
            if field_name != "OutputDataConfig":
                parameters[f"{field_name}.$"] = f"$.request.{field_name}"
        train = sfn.CustomState(
            self,
            name("Train"),
            state_json={
                "Type": "Task",
                "Resource": f"arn:{Aws.PARTITION}:states:::sagemaker:createTrainingJob.sync",
                "Parameters": parameters,
                "ResultPath": "$.result",  # the whole description; Trim keeps what results read
            },
        )
        train.add_retry(
            errors=[QUOTA_ERROR],
            interval=Duration.seconds(60),
            backoff_rate=1.5,
            max_delay=Duration.minutes(10),
            max_attempts=1000,  # ~1 week of waiting for instance capacity in the account quota
            jitter_strategy=sfn.JitterType.FULL,
        )
        train.add_retry(
            errors=[THROTTLING_ERROR],
            interval=Duration.seconds(5),
            backoff_rate=2.0,
            max_delay=Duration.minutes(2),
            max_attempts=8,
            jitter_strategy=sfn.JitterType.FULL,
        )
        # Success: merge the description onto null defaults for its optional fields, so the
        # selection below never follows a path that is absent (that raises States.Runtime,
        # which no Catch can handle). Step Functions guide, "Intrinsic functions": JsonMerge.
        trim = sfn.Pass(
            self,
            f"Trim-{group.id}",
            state_name=name("Trim"),
            parameters={"job.$": "$.job", "result.$": "States.JsonMerge($.absent, $.result, false)"},
        )
        succeeded = sfn.Pass(
            self,
            f"Succeeded-{group.id}",
            state_name=name("Succeeded"),
            parameters={
                "job.$": "$.job",
                "result": {
                    "TrainingJobName.$": "$.result.TrainingJobName",
                    "TrainingJobStatus.$": "$.result.TrainingJobStatus",
                    "ModelArtifacts.$": "$.result.ModelArtifacts.S3ModelArtifacts",
                    "BillableTimeInSeconds.$": "$.result.BillableTimeInSeconds",
                    "TrainingTimeInSeconds.$": "$.result.TrainingTimeInSeconds",
                    "FinalMetricDataList.$": "$.result.FinalMetricDataList",
                },
            },
        )
        train.next(trim).next(succeeded)

        # Failure: out of capacity with attempts left → wait, then a new job with a new name.
        read_failure = sfn.Pass(
            self,
            f"ReadFailure-{group.id}",
            state_name=name("ReadFailure"),
            result_path="$.failure",
            parameters={"error.$": "States.JsonMerge($.no_cause, $.caught, false)"},
        )
        capacity = sfn.Choice(self, f"CapacityRetry-{group.id}", state_name=name("CapacityRetry"))
        read_failure.next(capacity)
        backoff = props.capacity_backoff()
        next_attempt = sfn.Pass(
            self,
            f"NextAttempt-{group.id}",
            state_name=name("NextAttempt"),
            result_path="$.attempt",
            parameters={
                "n.$": "States.MathAdd($.attempt.n, 1)",
                "wait.$": f"States.ArrayGetItem(States.Array({', '.join(map(str, backoff or [0]))}), $.attempt.n)",
            },
        )
        wait = sfn.Wait(
            self,
            f"CapacityBackoff-{group.id}",
            state_name=name("CapacityBackoff"),
            time=sfn.WaitTime.seconds_path("$.attempt.wait"),
        )
        capacity.when(
            sfn.Condition.and_(
                sfn.Condition.string_equals("$.failure.error.Error", TASK_FAILED),
                sfn.Condition.string_matches("$.failure.error.Cause", f"*{CAPACITY_REASON}*"),
                sfn.Condition.number_less_than("$.attempt.n", props.capacity_retries),
            ),
            next_attempt.next(wait).next(train),
        )
        # Any other failure: record it, then fail the item at a state redrive re-evaluates.
        describe = sfn.Pass(
            self,
            f"DescribeFailure-{group.id}",
            state_name=name("DescribeFailure"),
            result_path="$.record",
            parameters={
                "job.$": "$.job",
                "training_job_name.$": job_name,
                "error.$": "$.failure.error.Error",
                "cause.$": "$.failure.error.Cause",
                "redrive.$": "$$.Execution.RedriveCount",
                "attempt.$": "$.attempt.n",
            },
        )
        record = sfn.CustomState(
            self,
            name("RecordFailure"),
            state_json={
                "Type": "Task",
                "Resource": f"arn:{Aws.PARTITION}:states:::aws-sdk:s3:putObject",
                "Parameters": {
                    "Bucket.$": "$.bucket",
                    "Key.$": f"States.Format('{{}}/{FAILURES}/{{}}.json', $.results_prefix, $.job.name)",
                    "Body.$": "States.JsonToString($.record)",
                    "ContentType": "application/json",
                },
                "ResultPath": "$.recorded",  # (aws-cdk-lib drops a null ResultPath)
            },
        )
        record.add_retry(errors=["States.ALL"], interval=Duration.seconds(2), backoff_rate=2.0, max_attempts=4)
        failed = sfn.Choice(self, f"JobFailed-{group.id}", state_name=name("JobFailed"))
        failed.when(
            sfn.Condition.number_greater_than_json_path("$$.Execution.RedriveCount", "$.record.redrive"), train
        )  # no Default: States.NoChoiceMatched fails the item
        capacity.otherwise(describe.next(record).next(failed))
        train.add_catch(read_failure, errors=[TASK_FAILED], result_path="$.caught")
        return train

    # -------------------------------------------------------------- grants

    def _grant(self) -> None:
        """Least privilege for the .sync integration, the manifests and the results."""
        props = self.props
        role = self.state_machine.role
        def arn(service: str, resource: str) -> str:
            return f"arn:{Aws.PARTITION}:{service}:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"

        # SageMaker lower-cases job names in ARNs; the prefix is lower-case by construction.
        jobs_arn = arn("sagemaker", f"training-job/{props.job_prefix.lower()}-*")
        self.training_jobs_arn = jobs_arn
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="TrainingJobsOfThisProject",
                actions=[
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags",
                    "sagemaker:ListTags",
                ],
                resources=[jobs_arn],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PassOnlyTheSageMakerRole",
                actions=["iam:PassRole"],
                resources=[props.sagemaker_role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="SyncIntegrationEventRule",
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[arn("events", "rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule")],
            )
        )
        # Exactly the manifest objects (Asset.grant_read would open the whole assets bucket).
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadManifests",
                actions=["s3:GetObject"],
                resources=[a.bucket.arn_for_objects(a.s3_object_key) for a in self.assets.values()]
                + [props.bucket.arn_for_objects(f"{self.upload_prefix}/*")],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteResults",
                actions=["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
                resources=[props.bucket.arn_for_objects(f"{self.results_prefix}/*")],
            )
        )

    def wildcards(self) -> list[tuple[str, str]]:
        """The wildcards this construct's role intends, with why (see nag.acknowledge_wildcards)."""
        prefix = re.escape(self.props.job_prefix.lower())
        return [
            (
                rf"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/{prefix}-\*",
                "Training jobs are created at run time with new names per execution; only names with this "
                "project's prefix are allowed.",
            ),
            (
                rf"Resource::.*/{re.escape(self.props.experiment)}/_(manifests|results)/\*",
                "This experiment's uploaded manifests (read) and its ResultWriter output prefix (write); object "
                "names are chosen at run time.",
            ),
            (
                r'Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:\{"Fn::Select".*\}(/\w+)?:\*',
                "aws-cdk-lib's Distributed Map policy: this state machine's own child executions (per map label).",
            ),
            (
                r"Resource::\*",
                "CloudWatch Logs vended log delivery and X-Ray actions support no resource-level permissions "
                "(aws-cdk-lib's logging and tracing policy).",
            ),
        ]
