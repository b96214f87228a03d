"""``RuntoolStack``: one project → output bucket, SageMaker role, one state machine per experiment.

The stack only wires constructs together; what each piece does lives in its
construct. cdk-nag findings that are accepted are suppressed here, next to
the resource, each with its reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws, CfnOutput, CfnRule, CfnRuleAssertion, Fn, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from runtool_iac import manifest
from runtool_iac.manifest import ADHOC, ADHOC_OUTPUTS, DEFAULT_GROUP, output_id
from runtool_iac.constructs.nag import acknowledge, acknowledge_wildcards, skip_checkov
from runtool_iac.constructs.experiment import ExperimentStateMachine, ExperimentStateMachineProps, JobGroup
from runtool_iac.access import DataAccess, sagemaker_locations
from runtool_iac.constructs.roles import SageMakerExecutionRole
from runtool_iac.plan import Plan
from runtool_iac.project import Project



@dataclass(frozen=True)
class StackInputs:
    project: Project
    plans: dict[str, Plan]  # experiment name -> its plan (declared runs)
    manifest_dir: Path  # where group manifests are written before being shipped as assets


class RuntoolStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, inputs: StackInputs, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        project, settings = inputs.project, inputs.project.settings

        self.bucket = self._bucket(settings.bucket)
        if settings.bucket and settings.bucket_region:
            self._require_region(settings.bucket_region, settings.bucket)
        # Retained (the logs outlive the stack), so its name must be new per stack: the stack id's
        # UUID makes the next deploy after `cdk destroy` or a rolled-back create start a fresh group.
        # The /aws/vendedlogs/ prefix keeps Step Functions' log delivery off the size-limited
        # CloudWatch Logs resource policy.
        stack_uuid = Fn.select(2, Fn.split("/", Aws.STACK_ID))
        self.log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            log_group_name=f"/aws/vendedlogs/states/{self.stack_name}-{stack_uuid}",
            removal_policy=RemovalPolicy.RETAIN,
        )
        skip_checkov(
            self.log_group,
            "CKV_AWS_158",
            "CloudWatch Logs encrypts all log data at rest by default; the execution logs hold job names and "
            "states, not data, and a customer managed key would add a retained KMS key (and its key policy) "
            "per stack.",
        )
        # RetentionDays is an enum of names; the schema already restricts the value to CloudWatch's list.
        self.log_group.node.default_child.add_property_override("RetentionInDays", settings.log_retention_days)

        requests = [r for plan in inputs.plans.values() for r in plan.requests()]
        # Model outputs go to <experiment>/<experiment>_<trial hash>/ (plan.py) and adhoc/runs/ (runner.py),
        # next to but never onto the _manifests/ and _results/ prefixes the state machines use.
        outputs = [f"{name}/{name}_*" for name in sorted(inputs.plans)] + [f"{ADHOC_OUTPUTS}/*"]
        if settings.role_arn:
            role_arn = settings.role_arn
        else:
            access = DataAccess.from_requests(requests, outputs, locate=sagemaker_locations(project.config_files))
            execution = SageMakerExecutionRole(
                self, "SageMakerExecutionRole", access=access, output_bucket=self.bucket,
                bucket_kms_key_arn=settings.bucket_kms_key_arn,
            )
            role_arn = execution.role.role_arn
            acknowledge_wildcards(execution, execution.wildcards())

        def build_machine(construct_id: str, experiment: str, groups: list[JobGroup], runs: int, tolerated: float) -> ExperimentStateMachine:
            props = ExperimentStateMachineProps(
                experiment=experiment,
                groups=tuple(groups),
                bucket=self.bucket,
                sagemaker_role_arn=role_arn,
                job_prefix=project.job_prefix,
                runs=runs,
                tolerated_failure_percentage=tolerated,
                log_group=self.log_group,
                bucket_kms_key_arn=settings.bucket_kms_key_arn,
            )
            built = ExperimentStateMachine(self, construct_id, props)
            acknowledge_wildcards(built, built.wildcards())
            return built

        self.machines: dict[str, ExperimentStateMachine] = {}
        for name, plan in sorted(inputs.plans.items()):
            spec = project.experiments[name]
            groups = []
            for group in manifest.groups(plan):
                path = inputs.manifest_dir / name / f"{group.id}.jsonl"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(group.jsonl())
                groups.append(JobGroup(group.id, group.fields, spec.concurrency_for(group.instance_type), str(path)))
            self.machines[name] = build_machine(output_id(name), name, groups, plan.runs, spec.tolerated_failure_percentage)
        # Ad-hoc runs (Client.run): one group per capped instance type, the rest share one.
        adhoc_groups = [
            JobGroup(instance.replace(".", "-"), manifest.STANDARD_FIELDS, limit)
            for instance, limit in sorted(settings.instance_limits.items())
        ] + [JobGroup(DEFAULT_GROUP, manifest.STANDARD_FIELDS, settings.max_concurrency)]
        self.machines[ADHOC] = build_machine("Adhoc", ADHOC, adhoc_groups, 0, settings.tolerated_failure_percentage)

        self._notifications(settings.notification_email, settings.notification_topic_arn)
        CfnOutput(self, "OutputBucketName", value=self.bucket.bucket_name, description="Models and results")
        CfnOutput(self, "SageMakerRoleArn", value=role_arn)
        CfnOutput(self, "JobPrefix", value=project.job_prefix)
        for name, machine in self.machines.items():
            CfnOutput(self, f"{output_id(name)}StateMachineArn", value=machine.state_machine.state_machine_arn)
            CfnOutput(self, f"{output_id(name)}ResultsLocation", value=f"s3://{self.bucket.bucket_name}/{machine.results_prefix}/")
            CfnOutput(
                self,
                f"{output_id(name)}Groups",
                value=json.dumps({g.id: g.max_concurrency for g in machine.props.groups}, separators=(",", ":")),
                description="Job groups (one Distributed Map each) and their concurrency caps",
            )

    # ----------------------------------------------------------------------

    def _bucket(self, existing: str | None) -> s3.IBucket:
        if existing:
            return s3.Bucket.from_bucket_name(self, "OutputBucket", existing)
        access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            removal_policy=RemovalPolicy.RETAIN,
        )
        for check, reason in (
            ("CKV_AWS_18", "This bucket receives the output bucket's S3 server access logs; logging it into "
             "itself would loop, and a third bucket would only move the question."),
            ("CKV_AWS_21", "S3 log delivery writes each log object once under a new name; nothing is "
             "overwritten, so versioning would keep no earlier copies."),
        ):
            skip_checkov(access_logs, check, reason)
        output = s3.Bucket(
            self,
            "OutputBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=False,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="output-bucket/",
            removal_policy=RemovalPolicy.RETAIN,
        )
        skip_checkov(
            output,
            "CKV_AWS_21",
            "Objects are written once under names that are new per job and per execution (SageMaker job "
            "names can never be reused); the bucket is retained on stack deletion. Versioning would keep no "
            "earlier copies, only complicate lifecycle rules.",
        )
        return output

    def _notifications(self, email: str | None, topic_arn: str | None) -> None:
        if not email and not topic_arn:
            return
        if topic_arn:
            topic = sns.Topic.from_topic_arn(self, "Notifications", topic_arn)
        else:
            topic = sns.Topic(self, "Notifications", enforce_ssl=True, display_name=f"{self.stack_name} executions")
            topic.add_subscription(subscriptions.EmailSubscription(email))
            acknowledge(
                topic,
                "AwsSolutions-SNS2",
                "Messages are execution status changes, no data; the AWS managed SNS key cannot be used by "
                "EventBridge, and SNS encrypts topics at rest by default.",
            )
        rule = events.Rule(
            self,
            "ExecutionEnded",
            description="An experiment execution ended (succeeded, failed, timed out or was aborted)",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"],
                    "stateMachineArn": [m.state_machine.state_machine_arn for m in self.machines.values()],
                },
            ),
        )
        rule.add_target(targets.SnsTopic(topic))
        if topic_arn:
            # An imported topic's policy belongs to its owner (CloudFormation could only replace it
            # whole), so the statement EventBridge needs is printed for them to add.
            statement = {
                "Sid": "RuntoolExecutionEvents",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule.rule_arn}},
            }
            CfnOutput(
                self,
                "NotificationTopicPolicyStatement",
                value=self.to_json_string(statement),
                description="Add this statement to the topic's access policy, or EventBridge cannot publish to it",
            )

    def _require_region(self, region: str, bucket: str) -> None:
        """ResultWriter fails (States.ResultWriterFailed) on a bucket in another region. The stack
        is environment-agnostic (synth knows no region), so CloudFormation checks it before
        creating anything."""
        message = f"bucket {bucket} is in {region} (defaults.bucket_region); deploy the stack to {region}"
        CfnRule(
            self,
            "BucketRegion",
            assertions=[CfnRuleAssertion(assert_=Fn.condition_equals(Aws.REGION, region), assert_description=message)],
        )
