"""Other project settings synthesize and pass cdk-nag too: existing role/bucket, notifications."""

import io
import json
import shutil

import pytest

from conftest import ROOT

ROLE = "arn:aws:iam::123456789012:role/team-sagemaker"


def synth_project(tmp_path, defaults: str):
    from runtool_iac.synth import synth

    shutil.copytree(ROOT / "examples" / "forecasting" / "configs", tmp_path / "configs")
    (tmp_path / "runtool.yml").write_text(
        "project: variant\nconfigs: [configs/datasets.yml, configs/algorithms.yml]\n"
        f"defaults:\n{defaults}"
        "experiments:\n  bench: {experiment: algorithms * datasets, runs: 2}\n"
    )
    result = synth(tmp_path / "runtool.yml", tmp_path / "cdk.out", out=io.StringIO())
    return json.loads(result.template_file.read_text())


def of_type(template: dict, kind: str) -> list[dict]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


@pytest.mark.slow
def test_existing_role_and_bucket_with_email_notification(tmp_path):
    template = synth_project(
        tmp_path,
        f"  role_arn: {ROLE}\n  bucket: team-results\n  notification_email: team@example.com\n",
    )
    assert of_type(template, "AWS::S3::Bucket") == []  # nothing created: the team's bucket is used
    roles = of_type(template, "AWS::IAM::Role")
    assert all("sagemaker.amazonaws.com" not in json.dumps(r) for r in roles)  # no SageMaker role created
    text = json.dumps(template)
    assert f'"Resource": "{ROLE}"' in text and '"iam:PassedToService": "sagemaker.amazonaws.com"' in text
    assert template["Outputs"]["OutputBucketName"]["Value"] == "team-results"
    (topic,) = of_type(template, "AWS::SNS::Topic")
    (subscription,) = of_type(template, "AWS::SNS::Subscription")
    assert subscription["Properties"] == {**subscription["Properties"], "Protocol": "email", "Endpoint": "team@example.com"}
    (rule,) = of_type(template, "AWS::Events::Rule")
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.states"] and set(pattern["detail"]["status"]) == {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
    assert len(pattern["detail"]["stateMachineArn"]) == 2  # bench + adhoc
    (topic_policy,) = of_type(template, "AWS::SNS::TopicPolicy")
    assert "aws:SecureTransport" in json.dumps(topic_policy)  # TLS only


@pytest.mark.slow
def test_existing_topic_is_used_not_created(tmp_path):
    topic = "arn:aws:sns:eu-west-1:123456789012:team-alerts"
    template = synth_project(tmp_path, f"  notification_topic_arn: {topic}\n")
    assert of_type(template, "AWS::SNS::Topic") == []
    (rule,) = of_type(template, "AWS::Events::Rule")
    assert rule["Properties"]["Targets"][0]["Arn"] == topic
