"""TEST-ONLY: "deploy" a synthesized stack into moto, the way `cdk deploy` would matter to the runner.

moto's CloudFormation puts state machines in a backend that does not execute
them (DESIGN.md §5), so the pieces the runner touches are created directly:
the output bucket, the CDK assets bucket with the manifest assets, one state
machine per AWS::StepFunctions::StateMachine with its synthesized definition
(tokens resolved to the created names), and a CloudFormation stack carrying
the template's Outputs so the runner discovers everything as in AWS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from moto_stepfunctions import moto_definition

ACCOUNT = "123456789012"
REGION = "eu-west-1"
OUTPUT_BUCKET = "runtool-test-output"
ASSETS_BUCKET = f"cdk-hnb659fds-assets-{ACCOUNT}-{REGION}"


def _resolve(value: Any, refs: dict[str, str]) -> Any:
    if isinstance(value, dict):
        if "Fn::Join" in value:
            delimiter, parts = value["Fn::Join"]
            return delimiter.join(str(_resolve(p, refs)) for p in parts)
        if "Ref" in value:
            return refs[value["Ref"]]
        if "Fn::GetAtt" in value:
            return refs[".".join(value["Fn::GetAtt"])]
        if "Fn::Sub" in value:
            text = value["Fn::Sub"]
            for key, replacement in refs.items():
                text = text.replace("${" + key + "}", replacement)
            return text
        return {k: _resolve(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, refs) for v in value]
    return value


def deploy(outdir: Path, stack_name: str, session: Any) -> dict[str, str]:
    """Create the deployment in the active moto mock; returns the stack outputs."""
    template = json.loads((outdir / f"{stack_name}.template.json").read_text())
    resources = template["Resources"]
    s3 = session.client("s3", region_name=REGION)
    for bucket in (OUTPUT_BUCKET, ASSETS_BUCKET):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    assets = json.loads((outdir / f"{stack_name}.assets.json").read_text())
    for asset in assets["files"].values():
        body = (outdir / asset["source"]["path"]).read_bytes()
        for destination in asset["destinations"].values():
            s3.put_object(Bucket=ASSETS_BUCKET, Key=destination["objectKey"], Body=body)

    refs: dict[str, str] = {"AWS::Partition": "aws", "AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::StackName": stack_name}
    for logical_id, resource in resources.items():
        kind = resource["Type"]
        if kind == "AWS::S3::Bucket":
            refs[logical_id] = OUTPUT_BUCKET if "OutputBucket" in logical_id else f"{logical_id.lower()}-bucket"
            refs[f"{logical_id}.Arn"] = f"arn:aws:s3:::{refs[logical_id]}"
        elif kind == "AWS::IAM::Role":
            refs[f"{logical_id}.Arn"] = f"arn:aws:iam::{ACCOUNT}:role/{logical_id}"
            refs[logical_id] = logical_id
        elif kind == "AWS::Events::Rule":
            refs[f"{logical_id}.Arn"] = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{logical_id}"
        elif kind == "AWS::Logs::LogGroup":
            refs[f"{logical_id}.Arn"] = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{logical_id}:*"

    sfn = session.client("stepfunctions", region_name=REGION)
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        properties = resource["Properties"]
        definition = _resolve(properties["DefinitionString"], refs)
        created = sfn.create_state_machine(
            name=_resolve(properties["StateMachineName"], refs),
            definition=moto_definition(definition),
            roleArn=_resolve(properties["RoleArn"], refs),
        )
        refs[logical_id] = created["stateMachineArn"]

    outputs = {key: str(_resolve(output["Value"], refs)) for key, output in template.get("Outputs", {}).items()}
    cloudformation = session.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(
            {
                "Resources": {
                    "Marker": {
                        "Type": "AWS::SSM::Parameter",
                        "Properties": {"Name": f"/runtool-test/{stack_name}", "Type": "String", "Value": "deployed"},
                    }
                },
                "Outputs": {key: {"Value": value} for key, value in outputs.items()},
            }
        ),
    )
    return outputs
