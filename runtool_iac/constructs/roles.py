"""``SageMakerExecutionRole``: the role training jobs run as, derived from the plans.

Read access covers exactly the S3 prefixes the experiments' channels use,
write access exactly the output prefixes, ECR pull exactly the repositories
of their images — computed from the requests, not listed by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

ECR_IMAGE = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<repo>[^:@]+)")


@dataclass(frozen=True)
class DataAccess:
    """What the jobs of a project touch, collected from their requests."""

    read_prefixes: tuple[tuple[str, str], ...]  # (bucket, key prefix)
    outputs: tuple[str, ...]  # object patterns in the output bucket (e.g. "bench/bench_*")
    images: tuple[str, ...]

    @classmethod
    def from_requests(cls, requests: list[dict], outputs: list[str]) -> "DataAccess":
        reads: set[tuple[str, str]] = set()
        images: set[str] = set()
        for request in requests:
            images.add(request["AlgorithmSpecification"]["TrainingImage"])
            for channel in request["InputDataConfig"]:
                uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
                bucket, _, key = uri[len("s3://"):].partition("/")
                reads.add((bucket, key))
        return cls(_minimal(reads), tuple(sorted(set(outputs))), tuple(sorted(images)))


def _minimal(prefixes: set[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Drop prefixes already covered by a shorter one in the same bucket."""
    out: list[tuple[str, str]] = []
    for bucket, key in sorted(prefixes):
        if not any(b == bucket and key.startswith(k) for b, k in out):
            out.append((bucket, key))
    return tuple(out)


class SageMakerExecutionRole(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, access: DataAccess, output_bucket: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="SageMaker training jobs of this runtool_iac project: read the datasets, write outputs.",
        )
        policy = iam.Policy(self, "Policy", roles=[self.role])
        reads_by_bucket: dict[str, list[str]] = {}
        for bucket, key in access.read_prefixes:
            reads_by_bucket.setdefault(bucket, []).append(key)
        for bucket, keys in sorted(reads_by_bucket.items()):
            policy.add_statements(
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}/{key}*" for key in keys],
                ),
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}"],
                    conditions={"StringLike": {"s3:prefix": [f"{key}*" for key in keys]}},
                ),
            )
        if access.outputs:
            policy.add_statements(
                iam.PolicyStatement(
                    actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                    resources=[output_bucket.arn_for_objects(pattern) for pattern in access.outputs],
                )
            )
        repositories = sorted({m.group("region", "account", "repo") for m in map(ECR_IMAGE.match, access.images) if m})
        if repositories:
            policy.add_statements(
                iam.PolicyStatement(
                    actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                    resources=[f"arn:{Aws.PARTITION}:ecr:{region}:{account}:repository/{repo}" for region, account, repo in repositories],
                )
            )
        policy.add_statements(
            # GetAuthorizationToken has no resource-level permissions (AWS requires "*").
            iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]),
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[
                    f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/aws/sagemaker/TrainingJobs",
                    f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/aws/sagemaker/TrainingJobs:log-stream:*",
                ],
            ),
            # PutMetricData has no resource-level permissions; the namespace condition scopes it.
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}},
            ),
        )
        self.policy = policy
        self.access = access

    def wildcards(self) -> list[tuple[str, str]]:
        """The wildcards this role intends, with why (see nag.acknowledge_wildcards)."""
        reads = "|".join(re.escape(f"{bucket}/{key}") for bucket, key in self.access.read_prefixes)
        outputs = "|".join(re.escape(pattern) for pattern in self.access.outputs)
        return [
            (
                rf"Resource::arn:<AWS::Partition>:s3:::({reads})\*",
                "Read access to exactly the dataset prefixes the experiments' channels use (SageMaker reads "
                "every object below a channel's S3Prefix).",
            ),
            (
                rf"Resource::<[A-Za-z0-9]+\.Arn>/({outputs})",
                "Write access to the experiments' model output prefixes (<experiment>/<experiment>_<trial>/, "
                "adhoc/runs/), where SageMaker writes under job names chosen at run time; not to the "
                "manifests or results next to them.",
            ),
            (
                r"Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/TrainingJobs:log-stream:\*",
                "SageMaker writes one log stream per training job, named at run time.",
            ),
            (
                r"Resource::\*",
                "ecr:GetAuthorizationToken and cloudwatch:PutMetricData support no resource-level permissions "
                "(PutMetricData is limited to SageMaker's namespace by a condition).",
            ),
        ]
