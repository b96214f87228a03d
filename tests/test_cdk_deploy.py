"""Deployable on a real account at real scale (issue 10): IAM quotas, redeploys, names, derived access.

Two shared synths (conftest_cdk): the repository's project, and ``large_synth`` — 200 datasets
(train and test channels), 20 algorithms on 4 instance types, 5 experiments, created role.
One more synth here (``features``) covers $sagemaker fields that need permissions, spot
training, an existing KMS-encrypted bucket and an imported topic.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import ROOT

if TYPE_CHECKING:
    from conftest_cdk import Synth

pytest_plugins = ["conftest_cdk"]  # the session-wide synths: cdk_synth, large_synth

ARN = "arn:<AWS::Partition>"
LOCAL = "<AWS::Region>:<AWS::AccountId>"


def _list(value):
    return value if isinstance(value, list) else [value]


def documents_of(synth: Synth, role: str) -> dict[str, tuple[str, dict]]:
    """Policy logical id -> (kind, document) of every policy attached to ``role``."""
    out = {}
    for logical_id, resource in synth.resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in properties["Roles"]:
            out[logical_id] = ("inline", properties["PolicyDocument"])
        elif resource["Type"] == "AWS::IAM::ManagedPolicy" and {"Ref": role} in properties.get("Roles", []):
            out[logical_id] = ("managed", properties["PolicyDocument"])
    for policy in synth.resources[role]["Properties"].get("Policies", []):
        out[policy["PolicyName"]] = ("inline", policy["PolicyDocument"])
    return out


def iam_characters(synth: Synth, document: dict) -> int:
    """Size as IAM counts it, computed independently of runtool_iac.iam_limits: the document with
    CDK's tokens replaced by real-looking values (conftest_cdk.resolve) plus the extra length the
    longest partition ("aws-us-gov", 7 more than "aws") would add to each ARN."""
    text = json.dumps(synth.resolve(document), separators=(",", ":"))
    return len(re.sub(r"\s", "", text)) + 7 * text.count("arn:aws:")


# ------------------------------------------------------------- IAM sizes


def test_every_role_of_the_large_project_is_within_iam_quotas(large_synth: Synth):
    roles = large_synth.of_type("AWS::IAM::Role")
    assert len(roles) == 7  # SageMaker + 6 state machines
    for role in roles:
        documents = documents_of(large_synth, role)
        inline = sum(iam_characters(large_synth, d) for kind, d in documents.values() if kind == "inline")
        managed = [iam_characters(large_synth, d) for kind, d in documents.values() if kind == "managed"]
        assert inline <= 10_240, (role, inline)
        assert all(size <= 6_144 for size in managed), (role, managed)
        assert len(managed) + len(roles[role]["Properties"].get("ManagedPolicyArns", [])) <= 10, role


def test_large_project_reads_stay_exact_in_managed_policies(large_synth: Synth):
    from runtool_iac.constructs.nag import flatten

    role = large_synth.logical_id("AWS::IAM::Role", "SageMakerExecutionRole")
    documents = documents_of(large_synth, role)
    managed = {k: d for k, (kind, d) in documents.items() if kind == "managed"}
    assert len(managed) == 6
    reads = set()
    for document in managed.values():
        for statement in _list(document["Statement"]):
            assert statement["Action"] == "s3:GetObject" and "Condition" not in statement
            reads |= {flatten(r) for r in _list(statement["Resource"])}
    expected = {
        f"{ARN}:s3:::team-forecasting-datasets/benchmarks/collection/dataset_{i:03d}/{channel}/*"
        for i in range(200)
        for channel in ("train", "test")
    }
    assert reads == expected  # every one of the 400 channel prefixes, and nothing wider
    # Listing (object names only) is allowed below the datasets' common folder: one condition.
    (inline,) = [d for kind, d in documents.values() if kind == "inline"]
    lists = [s for s in _list(inline["Statement"]) if "s3:ListBucket" in _list(s["Action"])
             and flatten(s["Resource"]) == f"{ARN}:s3:::team-forecasting-datasets"]
    assert [s["Condition"] for s in lists] == [{"StringLike": {"s3:prefix": ["benchmarks/collection/*"]}}]


def test_synth_reports_the_policy_sizes(large_synth: Synth):
    from runtool_iac import iam_limits

    (line,) = [l for l in large_synth.summary.splitlines() if l.startswith("IAM policy sizes")]
    assert "SageMakerExecutionRole" in line and "6 managed" in line
    sizes = {s.role: s for s in large_synth.result.policy_sizes}
    sagemaker = sizes[large_synth.logical_id("AWS::IAM::Role", "SageMakerExecutionRole")]
    assert len(sagemaker.managed) == 6 and max(sagemaker.managed.values()) <= iam_limits.MANAGED_POLICY_MAX
    assert sagemaker.inline_total <= iam_limits.INLINE_AGGREGATE_MAX
    # The worst-case measure (aws-us-gov partition) equals the independent one.
    documents = documents_of(large_synth, sagemaker.role)
    independent = sorted(iam_characters(large_synth, d) for kind, d in documents.values() if kind == "managed")
    assert sorted(sagemaker.managed.values()) == independent


def test_synth_fails_naming_the_role_and_sizes_when_over_a_quota(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The same check, with a lowered quota so the repository's small project exceeds it."""
    from runtool_iac import iam_limits
    from runtool_iac.synth import synth

    monkeypatch.setattr(iam_limits, "INLINE_AGGREGATE_MAX", 1_500)
    with pytest.raises(iam_limits.PolicyLimitError) as info:
        synth(ROOT / "runtool.yml", tmp_path / "cdk.out", out=io.StringIO())
    message = str(info.value)
    assert message.startswith("IAM policy quotas exceeded (the deploy would fail):")
    assert re.search(r"role RuntoolExampleRuntool/SageMakerExecutionRole/Role/Resource: inline policies total "
                     r"[\d,]+ characters \(IAM allows 1,500 per role\)", message), message
    assert "defaults.role_arn" in message
    assert not list((tmp_path / "cdk.out").glob("*.template.json"))  # no template IAM would reject


def test_iam_limits_measure_worst_case_values_and_count_managed_policies():
    from runtool_iac import iam_limits

    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::b/k*"]]}}]}
    plain = json.dumps(document["Statement"][0] | {"Resource": "arn:aws-us-gov:s3:::b/k*"}, separators=(",", ":"))
    assert iam_limits.policy_size(document) == len('{"Version":"2012-10-17","Statement":[]}') + len(plain)
    assert iam_limits.policy_size({"Sid": "a b c"}) == len('{"Sid":"abc"}')  # white space is not counted
    template = {"Resources": {
        "R": {"Type": "AWS::IAM::Role", "Properties": {"ManagedPolicyArns": ["arn:aws:iam::aws:policy/X"] * 10}},
        "M": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"Roles": [{"Ref": "R"}], "PolicyDocument": document}},
    }}
    with pytest.raises(iam_limits.PolicyLimitError, match=r"role R: 11 managed policies attached \(IAM allows 10"):
        iam_limits.check(template)


# ------------------------------------------------------------ redeploys


@pytest.mark.parametrize("which", ["cdk_synth", "large_synth"])
def test_nothing_that_survives_destroy_has_a_fixed_name(which: str, request):
    """A retained resource keeps its name after `cdk destroy` (or a rolled-back create): a fixed
    one makes the next deploy fail with AlreadyExists. Every other resource is deleted with the stack."""
    synth: Synth = request.getfixturevalue(which)
    retained = {k: r for k, r in synth.resources.items() if r.get("DeletionPolicy") == "Retain"}
    assert sorted(r["Type"] for r in retained.values()) == ["AWS::Logs::LogGroup", "AWS::S3::Bucket", "AWS::S3::Bucket"]
    for logical_id, resource in retained.items():
        names = {k: v for k, v in resource["Properties"].items() if k.endswith("Name") and k != "LogFilePrefix"}
        for key, value in names.items():
            assert "AWS::StackId" in json.dumps(value), (logical_id, key, value)  # new per stack
    named = {r["Type"] for r in synth.resources.values() if any(k.endswith("Name") and isinstance(v, str)
             for k, v in r.get("Properties", {}).items() if k != "PolicyName")}  # (a role's inline policy)
    assert named == {"AWS::StepFunctions::StateMachine"}  # deleted with the stack (readable console names)
    assert all(r.get("DeletionPolicy", "Delete") == "Delete" for r in synth.of_type("AWS::StepFunctions::StateMachine").values())


# ------------------------------------------------- labels and state names


def _states(definition: dict):
    for name, state in definition["States"].items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from _states(branch)
        if "ItemProcessor" in state:
            yield from _states(state["ItemProcessor"])


def test_labels_and_state_names_are_bounded_and_unique_for_long_colliding_group_ids():
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3

    from runtool_iac.constructs.experiment import ExperimentStateMachine, ExperimentStateMachineProps, JobGroup, map_labels

    shared = "ml-p4d-24xlarge-checkpointconfig-enablemanagedspottraining-vpcconfig"
    ids = [shared + "-debughookconfig", shared + "-profilerconfig", "ml-m5-large", "ml-m5large", "ml-m5.large"]
    groups = tuple(JobGroup(i, ("AlgorithmSpecification",), 2) for i in ids)
    labels = map_labels(groups)
    assert labels["ml-m5-large"] != labels["ml-m5large"]  # both read MlM5Large: hashed apart
    assert labels["ml-m5-large"].startswith("MlM5Large") and len(set(labels.values())) == len(ids)
    assert all(len(label) <= 40 and label.isalnum() for label in labels.values())
    assert labels[ids[0]][:32] == labels[ids[1]][:32] == "MlP4D24XlargeCheckpointconfigEna"

    stack = cdk.Stack(cdk.App(), "T")
    props = ExperimentStateMachineProps(experiment="x" * 40, groups=groups, bucket=s3.Bucket.from_bucket_name(stack, "B", "team-bucket"),
                                        sagemaker_role_arn="arn:aws:iam::123456789012:role/r", job_prefix="p")
    ExperimentStateMachine(stack, "M", props)
    template = cdk.assertions.Template.from_stack(stack).to_json()
    (resource,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    text = "".join(p if isinstance(p, str) else "x" for p in resource["Properties"]["DefinitionString"]["Fn::Join"][1])
    definition = json.loads(text)
    names = [name for name, _ in _states(definition)]
    assert len(names) == len(set(names)) and max(map(len, names)) <= 80
    assert any(len(name) == 80 for name in names)  # a long group id was shortened...
    assert f"Jobs {ids[2]}" in names  # ...a short one kept as it reads
    rendered = [state["Label"] for _, state in _states(definition) if "Label" in state]
    assert sorted(rendered) == sorted(labels.values())


# ------------------------------------------- derived access, spot, buckets


FEATURES_ALGORITHM = """
secure:
  $from: base
  hyperparameters: {method: seasonal_naive}
  $sagemaker.VpcConfig: {Subnets: [subnet-0abc, subnet-0def], SecurityGroupIds: [sg-0123]}
  $sagemaker.OutputDataConfig.KmsKeyId: arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555
  $sagemaker.ResourceConfig.VolumeKmsKeyId: 66666666-7777-8888-9999-000000000000
  $sagemaker.CheckpointConfig: {S3Uri: "s3://team-checkpoints/secure/"}
"""
KEY = "arn:aws:kms:eu-west-1:123456789012:key/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:team-alerts"


def features_project(folder: Path, algorithm: str = FEATURES_ALGORITHM, defaults: str = "") -> Path:
    shutil.copytree(ROOT / "examples" / "forecasting" / "configs", folder / "configs")
    with (folder / "configs" / "algorithms.yml").open("a") as f:
        f.write(algorithm)
    (folder / "runtool.yml").write_text(
        "project: features\nconfigs: [configs/datasets.yml, configs/algorithms.yml]\n"
        f"defaults:\n  create_role: true\n  bucket: team-results\n  bucket_kms_key_arn: {KEY}\n"
        f"  notification_topic_arn: {TOPIC}\n{defaults}"
        "experiments:\n  secure: {experiment: secure * datasets}\n"
        "  cheap: {experiment: seasonal_naive * datasets, spot: true, runs: 2}\n"
    )
    return folder / "runtool.yml"


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    from conftest_cdk import run_synth

    folder = tmp_path_factory.mktemp("features")
    return run_synth(folder / "cdk.out", features_project(folder))


def grants_of(synth: Synth, role: str) -> dict[str, set[str]]:
    from runtool_iac.constructs.nag import flatten

    out: dict[str, set[str]] = {}
    for _, document in documents_of(synth, role).values():
        for statement in _list(document["Statement"]):
            for action in _list(statement["Action"]):
                out.setdefault(action, set()).update(flatten(r) for r in _list(statement["Resource"]))
    return out


def test_sagemaker_fields_get_exactly_the_access_they_need(features: Synth):
    role = features.logical_id("AWS::IAM::Role", "SageMakerExecutionRole")
    grants = grants_of(features, role)
    ec2 = f"{ARN}:ec2:{LOCAL}"
    assert grants["ec2:CreateNetworkInterface"] == {f"{ec2}:subnet/subnet-0abc", f"{ec2}:subnet/subnet-0def",
                                                   f"{ec2}:security-group/sg-0123", f"{ec2}:network-interface/*"}
    for action in ("ec2:DeleteNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterfacePermission"):
        assert grants[action] == {f"{ec2}:network-interface/*"}
    for action in ("ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets",
                   "ec2:DescribeSecurityGroups"):
        assert grants[action] == {"*"}  # no resource-level permissions
    keys = {"arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555",
            f"{ARN}:kms:{LOCAL}:key/66666666-7777-8888-9999-000000000000", KEY}
    for action in ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:CreateGrant"):
        assert grants[action] == keys
    # Checkpoints elsewhere: read and write below exactly that prefix; spot checkpoints of
    # `cheap` below its own outputs in the (existing) output bucket.
    assert grants["s3:PutObject"] >= {f"{ARN}:s3:::team-checkpoints/secure/*"}
    assert grants["s3:GetObject"] >= {f"{ARN}:s3:::team-checkpoints/secure/*",
                                      f"{ARN}:s3:::team-results/cheap/cheap_*/checkpoints/*"}
    assert f"{ARN}:s3:::team-checkpoints" in grants["s3:ListBucket"]


def test_state_machines_may_use_the_existing_buckets_key(features: Synth):
    for experiment in ("secure", "cheap", "adhoc"):
        machine = features.resources[features.state_machines()[experiment]]
        grants = grants_of(features, machine["Properties"]["RoleArn"]["Fn::GetAtt"][0])
        assert grants["kms:GenerateDataKey"] == grants["kms:Decrypt"] == {KEY}


def test_spot_experiment_requests_and_checkpoints(features: Synth):
    from runtool_iac import manifest

    plan = features.result.plans["cheap"]
    for job in plan.jobs:
        request = job.request
        assert request["EnableManagedSpotTraining"] is True
        stopping = request["StoppingCondition"]
        assert stopping["MaxWaitTimeInSeconds"] == 2 * stopping["MaxRuntimeInSeconds"]
        assert request["CheckpointConfig"]["S3Uri"] == f"{request['OutputDataConfig']['S3OutputPath']}/checkpoints/{job.name}/"
        item = manifest.item(job)
        assert item["job"]["checkpoint_key"] == request["CheckpointConfig"]["S3Uri"].removeprefix("s3://team-results/")
        assert "S3Uri" not in item["request"]["CheckpointConfig"]
    assert all("EnableManagedSpotTraining" not in r for r in features.result.plans["secure"].requests())
    for state in (s for _, s in _states(features.definition("cheap")) if s.get("Type") == "Map"):
        assert state["ItemSelector"]["checkpoint"] == {
            "S3Uri.$": "States.Format('s3://{}/{}', $.bucket, $$.Map.Item.Value.job.checkpoint_key)"
        }
        (train,) = [s for n, s in _states(state["ItemProcessor"]) if n.startswith("Train")]
        assert train["Parameters"]["CheckpointConfig.$"] == "States.JsonMerge($.request.CheckpointConfig, $.checkpoint, false)"
        assert train["Parameters"]["EnableManagedSpotTraining.$"] == "$.request.EnableManagedSpotTraining"


def test_results_show_the_spot_saving():
    from runtool_iac.results import JobResult, to_table

    rows = [JobResult("a", "alg", "ds", 0, "Completed", training_seconds=1000, billable_seconds=300),
            JobResult("b", "alg", "ds", 1, "Completed", training_seconds=1000, billable_seconds=700)]
    assert to_table(rows).endswith("billable 1,000 s of 2,000 s trained: 50% saved (managed spot)\n")
    rows[0].billable_seconds = rows[1].billable_seconds = 1000
    assert "saved" not in to_table(rows)


def test_imported_topic_gets_the_statement_eventbridge_needs(features: Synth):
    (rule_id,) = features.of_type("AWS::Events::Rule")
    statement = json.loads(features.resolve(features.template["Outputs"]["NotificationTopicPolicyStatement"]["Value"]))
    assert statement == {
        "Sid": "RuntoolExecutionEvents", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sns:Publish", "Resource": TOPIC,
        "Condition": {"ArnEquals": {"aws:SourceArn": statement["Condition"]["ArnEquals"]["aws:SourceArn"]}},
    }
    assert features.of_type("AWS::SNS::TopicPolicy") == {}  # the owner's policy is never replaced


def test_created_topic_lets_eventbridge_publish(tmp_path: Path):
    from runtool_iac.synth import synth

    project = features_project(tmp_path, algorithm="", defaults="")
    text = project.read_text().replace(f"  notification_topic_arn: {TOPIC}\n", "  notification_email: team@example.com\n")
    project.write_text(text.replace("  secure: {experiment: secure * datasets}\n", ""))
    template = json.loads(synth(project, tmp_path / "cdk.out", out=io.StringIO()).template_file.read_text())
    (policy,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SNS::TopicPolicy"]
    publish = [s for s in policy["Properties"]["PolicyDocument"]["Statement"]
               if s["Action"] == "sns:Publish" and s["Effect"] == "Allow"]
    assert [s["Principal"] for s in publish] == [{"Service": "events.amazonaws.com"}]
    (topic,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::SNS::Topic"]
    assert publish[0]["Resource"] == {"Ref": topic}


def test_features_template_is_clean_for_cfn_lint(features: Synth):
    from test_cdk_lint import lint

    assert lint(features.template) == []


def test_bucket_region_is_checked_by_a_cloudformation_rule(features: Synth):
    rule = features.template["Rules"]["BucketRegion"]
    (assertion,) = rule["Assertions"]
    assert assertion["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}  # the key's region
    assert "deploy the stack to eu-west-1" in assertion["AssertDescription"]


@pytest.mark.parametrize(
    ("algorithm", "path", "message"),
    [
        ("  $sagemaker.OutputDataConfig.KmsKeyId: alias/team\n", "odd.$sagemaker.OutputDataConfig.KmsKeyId",
         "KMS key 'alias/team' is not a key ARN or key id"),
        ("  $sagemaker.InputDataConfig:\n    - ChannelName: train\n      DataSource:\n        FileSystemDataSource:\n"
         "          {FileSystemId: fs-0123456789abcdef0, FileSystemAccessMode: ro, FileSystemType: EFS, DirectoryPath: /d}\n",
         "odd.$sagemaker.InputDataConfig", "channel train: a FileSystemDataSource source"),
    ],
)
def test_access_that_cannot_be_derived_is_a_located_error(tmp_path: Path, algorithm: str, path: str, message: str):
    from runtool_iac.errors import ConfigError
    from runtool_iac.synth import synth

    project = features_project(tmp_path, algorithm="odd:\n  $from: base\n" + algorithm)
    project.write_text(project.read_text().replace("secure * datasets", "odd * datasets"))
    with pytest.raises(ConfigError) as info:
        synth(project, tmp_path / "cdk.out", out=io.StringIO())
    (problem,) = info.value.problems
    assert problem.path == path and message in problem.message and "defaults.role_arn" in problem.message
    lines = (tmp_path / "configs" / "algorithms.yml").read_text().splitlines()
    assert problem.location.file.endswith("algorithms.yml")
    assert lines[problem.location.line - 1].strip().startswith(path.removeprefix("odd."))


@pytest.mark.parametrize(
    ("defaults", "message"),
    [
        (f"  bucket_kms_key_arn: {KEY}\n", "defaults.bucket_kms_key_arn: bucket_kms_key_arn describes an existing bucket: set bucket too"),
        (f"  bucket: team-results\n  bucket_kms_key_arn: {KEY}\n  bucket_region: us-east-1\n",
         "defaults.bucket_region: bucket_region us-east-1 differs from the region of bucket_kms_key_arn (eu-west-1)"),
    ],
)
def test_bucket_settings_are_checked_where_written(tmp_path: Path, defaults: str, message: str):
    from runtool_iac.errors import ConfigError
    from runtool_iac.project import load_project

    (tmp_path / "runtool.yml").write_text(f"project: p\nconfigs: [c.yml]\ndefaults:\n{defaults}experiments:\n  e: {{experiment: a * d}}\n")
    (tmp_path / "c.yml").write_text("")
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path / "runtool.yml")
    assert message in str(info.value) and str(info.value).startswith(f"{tmp_path / 'runtool.yml'}:")


def test_spot_jobs_run_with_checkpoints_completed_by_the_state_machine(features: Synth):
    """The deployed definition, executed by moto's interpreter (tests/support): every spot job is
    created with its checkpoint location assembled from the deployed bucket and the item's key."""
    import sys

    import boto3
    from moto import mock_aws

    sys.path.insert(0, str(ROOT / "tests" / "support"))
    from moto_deploy import REGION, deploy
    from moto_stepfunctions import patched_moto

    from runtool_iac.runner import Runner

    declared = features.result.plans["cheap"]
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), patched_moto() as behaviour:
        session = boto3.Session(region_name=REGION)
        session.client("s3").create_bucket(Bucket="team-results", CreateBucketConfiguration={"LocationConstraint": REGION})
        deploy(features.outdir, features.result.stack_name, session)
        runner = Runner(features.result.stack_name, session=session, region=REGION)
        started = runner.start("cheap", declared, name="cheap-spot")
        assert runner.wait(started.execution_arn, poll_seconds=0.05).status == "SUCCEEDED"
    created = {r["TrainingJobName"]: r for r in behaviour.created}
    assert len(created) == len(declared) == 6
    token = started.job_names[0].split("-")[-2]
    for job in declared.jobs:
        request = created[f"{job.name}-{token}-0"]
        assert request["EnableManagedSpotTraining"] is True
        assert request["StoppingCondition"] == job.request["StoppingCondition"]
        assert request["CheckpointConfig"] == {"S3Uri": f"s3://team-results/cheap/{job.run_configuration_id}/checkpoints/{job.name}/"}
