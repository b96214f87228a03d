"""``SageMakerExecutionRole``: the role training jobs run as, derived from the plans.

Read access covers exactly the S3 prefixes the experiments' channels use,
write access exactly the output prefixes, ECR pull exactly the repositories
of their images, plus what ``$sagemaker.*`` fields need (checkpoints, KMS keys,
VPC networking; see ``runtool_iac.access``) — computed from the requests, not
listed by hand.

Sizes: the dataset read grants grow with the number of distinct channel
prefixes (~100 characters each), and IAM caps a role's inline policies at
10,240 characters. Small projects keep one inline policy; larger ones move the
read grants into customer managed policies of at most 6,144 characters each
(up to 10 per role), measured as IAM counts them. ``runtool_iac.iam_limits``
checks the result before the template is written.
"""

from __future__ import annotations

import os
import re
from typing import Any, Iterable

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from runtool_iac import iam_limits
from runtool_iac.access import DataAccess

ECR_IMAGE = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<repo>[^:@]+)")
TRAINING_LOGS = "/aws/sagemaker/TrainingJobs"
# Read grants up to this size stay in the inline policy (the rest of it is far smaller).
INLINE_READS_MAX = iam_limits.INLINE_AGGREGATE_MAX // 2
# The ENI actions SageMaker documents for jobs in a VPC ("Give SageMaker AI Access to
# Resources in your Amazon VPC", CreateTrainingJob execution role permissions).
EC2_DESCRIBE = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups"]
EC2_ENI = ["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission"]


def get_statements(prefixes: list[tuple[str, str]], partition: Any) -> list[dict]:
    """GetObject below each (bucket, key prefix): one statement for all buckets."""
    return [{"Effect": "Allow", "Action": "s3:GetObject",
             "Resource": [f"arn:{partition}:s3:::{bucket}/{key}*" for bucket, key in prefixes]}] if prefixes else []


def list_statements(prefixes: list[tuple[str, str]], partition: Any) -> list[dict]:
    """ListBucket on each bucket, limited to the given key prefixes (s3:prefix)."""
    by_bucket: dict[str, list[str]] = {}
    for bucket, key in prefixes:
        by_bucket.setdefault(bucket, []).append(key)
    return [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:{partition}:s3:::{bucket}",
             "Condition": {"StringLike": {"s3:prefix": [f"{key}*" for key in keys]}}}
            for bucket, keys in sorted(by_bucket.items())]


def common_folders(prefixes: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """Per bucket, the deepest folder containing every prefix (or, if there is none, the top folders)."""
    by_bucket: dict[str, list[str]] = {}
    for bucket, key in prefixes:
        by_bucket.setdefault(bucket, []).append(key)
    out = []
    for bucket, keys in sorted(by_bucket.items()):
        common = os.path.commonprefix(keys)
        folder = common[: common.rfind("/") + 1]
        out += [(bucket, folder)] if folder else sorted({(bucket, key.split("/", 1)[0] + "/" if "/" in key else key) for key in keys})
    return out


def _document(statements: list[dict]) -> dict:
    return {"Version": "2012-10-17", "Statement": statements}


def pack_reads(prefixes: tuple[tuple[str, str], ...]) -> list[list[tuple[str, str]]]:
    """The read prefixes in chunks whose GetObject grants each fit a managed policy (worst-case partition)."""
    chunks: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    worst = iam_limits.WORST_CASE["AWS::Partition"]
    for prefix in prefixes:
        candidate = current + [prefix]
        if current and iam_limits.policy_size(_document(get_statements(candidate, worst))) > iam_limits.MANAGED_POLICY_MAX:
            chunks.append(current)
            candidate = [prefix]
        current = candidate
    return chunks + ([current] if current else [])


def _statement(data: dict) -> iam.PolicyStatement:
    return iam.PolicyStatement.from_json(data)


class SageMakerExecutionRole(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, access: DataAccess, output_bucket: s3.IBucket,
                 bucket_kms_key_arn: str | None = None) -> None:
        super().__init__(scope, construct_id)
        self.access = access
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="SageMaker training jobs of this runtool_iac project: read the datasets, write outputs.",
        )
        policy = iam.Policy(self, "Policy", roles=[self.role])
        worst = iam_limits.WORST_CASE["AWS::Partition"]
        reads = list(access.read_prefixes)
        self.read_policies: list[iam.ManagedPolicy] = []
        exact = get_statements(reads, worst) + list_statements(reads, worst)
        self.list_prefixes = reads
        if iam_limits.policy_size(_document(exact)) <= INLINE_READS_MAX:
            for data in get_statements(reads, Aws.PARTITION) + list_statements(reads, Aws.PARTITION):
                policy.add_statements(_statement(data))
        else:
            # Reads stay exact, in managed policies; listing (object names only, which SageMaker
            # needs to enumerate a channel) is allowed below the datasets' common folder instead
            # of every prefix, which halves the size (README: "Least privilege").
            self.list_prefixes = common_folders(access.read_prefixes)
            for data in list_statements(self.list_prefixes, Aws.PARTITION):
                policy.add_statements(_statement(data))
            for index, chunk in enumerate(pack_reads(access.read_prefixes), start=1):
                self.read_policies.append(iam.ManagedPolicy(
                    self, f"Reads{index:02d}", roles=[self.role],
                    description=f"Dataset reads, part {index} (IAM caps a managed policy at 6,144 characters)",
                    statements=[_statement(d) for d in get_statements(chunk, Aws.PARTITION)],
                ))
        for statement in self._statements(access, output_bucket, bucket_kms_key_arn):
            policy.add_statements(statement)
        self.policy = policy

    @staticmethod
    def _statements(access: DataAccess, output_bucket: s3.IBucket, bucket_kms_key_arn: str | None) -> list[iam.PolicyStatement]:
        def arn(service: str, resource: str, region: str = Aws.REGION, account: str = Aws.ACCOUNT_ID) -> str:
            return f"arn:{Aws.PARTITION}:{service}:{region}:{account}:{resource}"

        statements = []
        if access.outputs:
            statements.append(iam.PolicyStatement(
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[output_bucket.arn_for_objects(pattern) for pattern in access.outputs],
            ))
        if access.output_checkpoints:
            statements.append(iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[output_bucket.arn_for_objects(pattern) for pattern in access.output_checkpoints],
            ))
            statements.append(iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[output_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": list(access.output_checkpoints)}},
            ))
        extra = [(b, k) for b, k in access.write_prefixes]
        if extra:
            statements.append(iam.PolicyStatement(
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[f"arn:{Aws.PARTITION}:s3:::{b}/{k}*" for b, k in extra],
            ))
        if access.checkpoint_prefixes:
            # SageMaker uploads checkpoints while the job runs and downloads them when a
            # (spot) job resumes: read, list and write below each checkpoint prefix.
            statements.append(iam.PolicyStatement(
                actions=["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:DeleteObject"],
                resources=[f"arn:{Aws.PARTITION}:s3:::{b}/{k}*" for b, k in access.checkpoint_prefixes],
            ))
            for data in list_statements(list(access.checkpoint_prefixes), Aws.PARTITION):
                statements.append(_statement(data))
        repositories = sorted({m.group("region", "account", "repo") for m in map(ECR_IMAGE.match, access.images) if m})
        if repositories:
            statements.append(iam.PolicyStatement(
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                resources=[arn("ecr", f"repository/{repo}", region, account) for region, account, repo in repositories],
            ))
        keys = [k if k.startswith("arn:") else arn("kms", k) for k in access.kms_keys]
        if bucket_kms_key_arn:
            keys.append(bucket_kms_key_arn)
        if keys:
            # Model artifacts and volumes encrypted with the configured keys; objects in a
            # KMS-encrypted output bucket (S3 calls the key on the writer's behalf).
            statements.append(iam.PolicyStatement(
                actions=["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:CreateGrant", "kms:DescribeKey"],
                resources=sorted(set(keys)),
            ))
        if access.subnets:
            statements.append(iam.PolicyStatement(
                actions=["ec2:CreateNetworkInterface"],
                resources=[arn("ec2", f"subnet/{s}") for s in access.subnets]
                + [arn("ec2", f"security-group/{g}") for g in access.security_groups]
                + [arn("ec2", "network-interface/*")],
            ))
            statements.append(iam.PolicyStatement(actions=EC2_ENI, resources=[arn("ec2", "network-interface/*")]))
            statements.append(iam.PolicyStatement(actions=EC2_DESCRIBE, resources=["*"]))
        statements += [
            # GetAuthorizationToken has no resource-level permissions (AWS requires "*").
            iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]),
            # The Logs IAM reference: every action but tagging takes the log-group:NAME:* form,
            # which also covers the group's log streams.
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[arn("logs", f"log-group:{TRAINING_LOGS}:*")],
            ),
            # PutMetricData has no resource-level permissions; the namespace condition scopes it.
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": TRAINING_LOGS}},
            ),
        ]
        return statements

    def wildcards(self) -> list[tuple[str, str]]:
        """The wildcards this role intends, with why (see nag.acknowledge_wildcards).

        An empty alternation is ``(?!)`` (matches nothing), never ``()`` (which would
        acknowledge a bucket-wide ``arn:…:s3:::*``)."""
        def either(items: Iterable[str]) -> str:
            return "|".join(re.escape(i) for i in items) or "(?!)"

        reads = either(f"{bucket}/{key}" for bucket, key in self.access.read_prefixes)
        outputs = either(self.access.outputs + self.access.output_checkpoints)
        written = either(f"{b}/{k}" for b, k in self.access.write_prefixes + self.access.checkpoint_prefixes)
        return [
            (
                rf"Resource::arn:<AWS::Partition>:s3:::({reads})\*",
                "Read access to exactly the dataset prefixes the experiments' channels use (SageMaker reads "
                "every object below a channel's S3Prefix).",
            ),
            (
                rf"Resource::(<[A-Za-z0-9]+\.Arn>|arn:<AWS::Partition>:s3:::[a-z0-9.-]+)/({outputs})",
                "Write access to the experiments' model output prefixes (<experiment>/<experiment>_<trial>/, "
                "adhoc/runs/), where SageMaker writes under job names chosen at run time; not to the "
                "manifests or results next to them. With spot: true, reading back checkpoints below them.",
            ),
            (
                rf"Resource::arn:<AWS::Partition>:s3:::({written})\*",
                "Checkpoint, debugger, profiler and TensorBoard prefixes the requests name: SageMaker writes "
                "(and, for checkpoints, reads back) objects named at run time below them.",
            ),
            (
                rf"Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:{re.escape(TRAINING_LOGS)}:\*",
                "SageMaker writes one log stream per training job, named at run time, into its log group "
                "(the Logs IAM reference requires the log-group:NAME:* form).",
            ),
            (
                r"Resource::\*",
                "ecr:GetAuthorizationToken, cloudwatch:PutMetricData and the EC2 Describe* calls SageMaker makes "
                "for VPC jobs support no resource-level permissions (PutMetricData is limited to SageMaker's "
                "namespace by a condition).",
            ),
            (
                r"Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/\*",
                "SageMaker creates and deletes one network interface per VPC job, with IDs chosen by EC2.",
            ),
        ]
