"""``ExperimentStateMachine``: one experiment as a Step Functions fan-out of SageMaker jobs.

Shape (JSONPath query language)::

    Defaults ─► runs/token/manifest from the input, else the declared ones
       └─► Jobs (Parallel): one Distributed Map per job group (instance type)
              ItemReader: the group's JSON-lines manifest (S3)
              ItemProcessor (child STANDARD executions):
                InRuns? ─ run ≥ runs ─► Skipped (fewer runs than the manifest holds)
                Train  createTrainingJob.sync   retry throttling + quota, catch the rest
                 ├─ ok ─► Succeeded (job + trimmed description)
                 └─ err ─► DescribeFailure ─► JobFailed (Fail: the item fails, carrying its record)
              ResultWriter: s3://<bucket>/<experiment>/_results/<execution>/

The definition holds no jobs and no job counts: its bytes do not depend on the
number of jobs (only the manifest assets do).
"""

from __future__ import annotations

import hashlib
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

from runtool_iac.manifest import OUTPUT_CHECKPOINT

MAX_RUNS_INPUT = 1000
# Step Functions quotas: a Distributed Map label ≤ 40 characters, unique within the
# definition (and letters/digits only here); a state name ≤ 80 characters, unique.
LABEL_MAX = 40
STATE_NAME_MAX = 80
HASH_CHARS = 8
TOKEN_EXPRESSION = "States.ArrayGetItem(States.StringSplit(States.UUID(), '-'), 0)"

# Error names the SageMaker .sync integration raises (Retry/Catch match exact strings).
# Source: AWS Step Functions developer guide, "Create and manage Amazon SageMaker AI
# jobs with Step Functions" and "Handling errors in Step Functions workflows":
# - an instance quota hit when creating the job:
QUOTA_ERROR = "SageMaker.ResourceLimitExceededException"
# - API throttling (and other SageMaker API errors):
THROTTLING_ERROR = "SageMaker.AmazonSageMakerException"
# A job that ends Failed/Stopped fails the task with States.TaskFailed (job description
# in Cause); a reused name fails with SageMaker.ResourceInUseException. Both are caught
# and recorded, never retried: a retry would re-send the same job name.


@dataclass(frozen=True)
class JobGroup:
    """One Distributed Map: jobs of one instance type and one set of request fields."""

    id: str
    fields: tuple[str, ...]
    max_concurrency: int
    manifest_path: str | None = None  # local JSON-lines file shipped as an asset


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
    bucket_kms_key_arn: str | None = None  # default encryption key of an existing bucket


@jsii.implements(sfn.IItemReader)
class JsonLinesReader:
    """ItemReader for a JSON-lines object whose bucket and key come from the state input.

    aws-cdk-lib's S3JsonLItemReader takes a fixed key; the key is chosen at
    run time (the declared manifest, or one uploaded for more runs or Client.run).
    """

    def __init__(self, bucket_expr: str, key_expr: str) -> None:
        self._bucket_expr = bucket_expr
        self._key_expr = key_expr

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
            "ReaderConfig": {"InputType": "JSONL"},
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


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_CHARS]


def bounded(text: str, limit: int, key: str, separator: str = "-") -> str:
    """``text`` if it fits in ``limit`` characters, else its start plus a short hash of ``key``."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - HASH_CHARS - len(separator)]}{separator}{_digest(key)}"


def map_labels(groups: tuple[JobGroup, ...]) -> dict[str, str]:
    """Group id -> Distributed Map label: readable (``ml-m5-large`` -> ``MlM5Large``), and
    shortened with a hash of the group id when too long or when two groups would share it."""
    readable = {g.id: "".join(ch for ch in g.id.title() if ch.isalnum()) or "Group" for g in groups}
    counts: dict[str, int] = {}
    for label in readable.values():
        counts[label] = counts.get(label, 0) + 1
    out = {}
    for group_id, label in readable.items():
        if len(label) > LABEL_MAX or counts[label] > 1:
            label = f"{label[: LABEL_MAX - HASH_CHARS]}{_digest(group_id)}"
        out[group_id] = label
    return out


def _key(group: JobGroup) -> str:
    """The group's key in state data (JSONPath dot notation takes no '-')."""
    return group.id.replace("-", "_")


class ExperimentStateMachine(Construct):
    """A state machine that runs one experiment's manifest (or an uploaded one).

    Input (all optional for a declared experiment; ``{}`` runs it as declared)::

        {"runs": 2,                      # fewer runs than declared: runs 0 and 1 of each trial
         "token": "ab12cd34",            # name suffix; default: derived from a fresh UUID
         "manifest": {"bucket": "...", "prefix": "..."}}   # uploaded <prefix>/<group>.jsonl files
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

        jobs = sfn.Parallel(self, "Jobs", state_name="Jobs", result_selector={"map_runs.$": "$[*].MapRunArn"})
        for group in props.groups:
            jobs.branch(self._group_map(group))
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
        # aws-cdk-lib makes the state machine depend on its role explicitly, which RoleArn's
        # Fn::GetAtt already implies (cfn-lint W3005); the dependency on the role's policy stays
        # (the machine is validated against its permissions when it is created).
        policy = self.state_machine.role.node.find_child("DefaultPolicy").node.default_child
        self.state_machine.node.default_child.add_override("DependsOn", [stack.get_logical_id(policy)])

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
                '"manifest": {"bucket": ..., "prefix": ...}} (all optional'
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
            },
        )
        check = sfn.Choice(self, "CheckInput", state_name="CheckInput")
        check.when(
            sfn.Condition.or_(
                sfn.Condition.not_(sfn.Condition.is_numeric("$.cfg.runs")),
                sfn.Condition.number_less_than("$.cfg.runs", 1),
                sfn.Condition.number_greater_than("$.cfg.runs", MAX_RUNS_INPUT),
                sfn.Condition.not_(sfn.Condition.is_string("$.cfg.token")),
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
            },
        )
        check.when(sfn.Condition.number_greater_than("$.cfg.runs", props.runs), invalid)
        check.otherwise(declared_manifest)
        return defaults.next(read_input).next(check), [uploaded, declared_manifest]

    # ---------------------------------------------------------- one group

    def _group_map(self, group: JobGroup) -> sfn.DistributedMap:
        props = self.props
        item_selector = {
            "job.$": "$$.Map.Item.Value.job",
            "request.$": "$$.Map.Item.Value.request",
            "token.$": "$.cfg.token",
            "runs.$": "$.cfg.runs",
            "output": {"S3OutputPath.$": "States.Format('s3://{}/{}', $.bucket, $$.Map.Item.Value.job.output_key)"},
        }
        if OUTPUT_CHECKPOINT in group.fields:  # spot checkpoints below the job's output prefix
            item_selector["checkpoint"] = {
                "S3Uri.$": "States.Format('s3://{}/{}', $.bucket, $$.Map.Item.Value.job.checkpoint_key)"
            }
        job_map = sfn.DistributedMap(
            self,
            f"Map-{group.id}",
            state_name=self._state_name("Jobs", group, qualify=True),
            label=map_labels(props.groups)[group.id],
            item_reader=JsonLinesReader("$.manifest.bucket", f"$.manifest.keys.{_key(group)}"),
            item_selector=item_selector,
            max_concurrency=group.max_concurrency,
            tolerated_failure_percentage=props.tolerated_failure_percentage,
            # Child executions must be STANDARD: EXPRESS ones cannot wait on .sync jobs.
            map_execution_type=sfn.StateMachineType.STANDARD,
            result_writer_v2=ScopedResultWriter(bucket=props.bucket, prefix=sfn.JsonPath.string_at("$.results_prefix")),
        )
        job_map.item_processor(self._processor(group))
        return job_map

    def _state_name(self, base: str, group: JobGroup, qualify: bool = False) -> str:
        """State names are unique per state machine (qualified by the group when there are
        several) and at most 80 characters (a long group id ends in a hash of itself)."""
        if not qualify and len(self.props.groups) == 1:
            return base
        return bounded(f"{base} {group.id}", STATE_NAME_MAX, group.id)

    def _processor(self, group: JobGroup) -> sfn.IChainable:
        parameters: dict[str, Any] = {
            # New per execution (token) and per redrive; identical on retries.
            "TrainingJobName.$": "States.Format('{}-{}-{}', $.job.name, $.token, $$.Execution.RedriveCount)",
            "RoleArn": self.props.sagemaker_role_arn,
            "OutputDataConfig.$": "States.JsonMerge($.request.OutputDataConfig, $.output, false)",
        }
        for name in group.fields:
            if name not in ("OutputDataConfig", OUTPUT_CHECKPOINT):
                parameters[f"{name}.$"] = f"$.request.{name}"
        if OUTPUT_CHECKPOINT in group.fields:
            parameters["CheckpointConfig.$"] = "States.JsonMerge($.request.CheckpointConfig, $.checkpoint, false)"
        train = sfn.CustomState(
            self,
            self._state_name("Train", group),
            state_json={
                "Type": "Task",
                "Resource": f"arn:{Aws.PARTITION}:states:::sagemaker:createTrainingJob.sync",
                "Parameters": parameters,
                # Only fields every completed job has, plus the metrics: a wildcard path yields
                # a (possibly empty) list instead of failing when SageMaker reports none.
                "ResultSelector": {
                    "TrainingJobName.$": "$.TrainingJobName",
                    "TrainingJobStatus.$": "$.TrainingJobStatus",
                    "ModelArtifacts.$": "$.ModelArtifacts.S3ModelArtifacts",
                    "BillableTimeInSeconds.$": "$.BillableTimeInSeconds",
                    "TrainingTimeInSeconds.$": "$.TrainingTimeInSeconds",
                    "FinalMetricDataList.$": "$.FinalMetricDataList[*]",
                },
                "ResultPath": "$.result",
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
        describe = sfn.Pass(
            self,
            f"DescribeFailure-{group.id}",
            state_name=self._state_name("DescribeFailure", group),
            parameters={
                "job.$": "$.job",
                "error.$": "$.error.Error",
                "cause.$": "$.error.Cause",
            },
        )
        failed = sfn.Fail(
            self,
            f"JobFailed-{group.id}",
            state_name=self._state_name("JobFailed", group),
            error="TrainingJobFailed",
            cause_path=sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$")),
        )
        train.add_catch(describe.next(failed), errors=["States.ALL"], result_path="$.error")
        succeeded = sfn.Pass(
            self,
            f"Succeeded-{group.id}",
            state_name=self._state_name("Succeeded", group),
            parameters={"job.$": "$.job", "result.$": "$.result"},
        )
        # Fewer runs than the manifest holds: the extra items end here, creating no job.
        skipped = sfn.Pass(
            self,
            f"Skipped-{group.id}",
            state_name=self._state_name("Skipped", group),
            parameters={"job.$": "$.job", "skipped": True},
        )
        in_runs = sfn.Choice(self, f"InRuns-{group.id}", state_name=self._state_name("InRuns", group))
        in_runs.when(sfn.Condition.number_greater_than_equals_json_path("$.job.run", "$.runs"), skipped)
        in_runs.otherwise(train.next(succeeded))
        return in_runs

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
        if props.bucket_kms_key_arn:
            # A KMS-encrypted existing bucket: S3 uses the key on the caller's behalf to
            # write results (and multipart parts) and to read uploaded manifests.
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="OutputBucketKey",
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[props.bucket_kms_key_arn],
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
