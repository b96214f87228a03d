"""One in-process CDK synth of the repository's runtool.yml, shared by tests/test_cdk_*.py.

Loaded by ``pytest_plugins = ["conftest_cdk"]`` in those modules, so the other
tests never import aws_cdk (jsii start-up costs seconds). The synth runs with
cdk-nag (a CDK policy-validation plugin): it raises on any unacknowledged
finding, so reaching the fixture at all means cdk-nag passed.

CloudFormation tokens in the template (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``)
are replaced by realistic placeholder values where a test needs plain text,
e.g. the state machine definitions, which the template holds as an
``Fn::Join``.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT

ACCOUNT = "123456789012"
REGION = "eu-west-1"
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::URLSuffix": "amazonaws.com"}
RESULT_WRITER_FLAG = "@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2"


@dataclass
class Synth:
    """The synthesized cloud assembly and convenient views of it."""

    result: Any  # runtool_iac.synth.SynthResult
    summary: str  # what synth() printed
    outdir: Path
    template: dict
    assets: dict = field(default_factory=dict)

    @property
    def project(self):
        return self.result.project

    @property
    def resources(self) -> dict[str, dict]:
        return self.template["Resources"]

    def of_type(self, kind: str) -> dict[str, dict]:
        return {k: r for k, r in self.resources.items() if r["Type"] == kind}

    def logical_id(self, kind: str, prefix: str) -> str:
        """The one resource of ``kind`` whose logical ID starts with ``prefix`` (construct id)."""
        found = [k for k in self.of_type(kind) if re.fullmatch(rf"{prefix}[0-9A-F]{{8}}", k)]
        assert len(found) == 1, (kind, prefix, found)
        return found[0]

    def state_machines(self) -> dict[str, str]:
        """Experiment name -> logical ID of its AWS::StepFunctions::StateMachine."""
        out = {}
        for logical_id, resource in self.of_type("AWS::StepFunctions::StateMachine").items():
            name = resource["Properties"]["StateMachineName"]
            out[name.removeprefix(f"{self.result.stack_name}-")] = logical_id
        return out

    def definition(self, experiment: str) -> dict:
        """The experiment's state machine definition as JSON, tokens replaced by placeholders."""
        properties = self.resources[self.state_machines()[experiment]]["Properties"]
        return json.loads(self.resolve(properties["DefinitionString"]))

    def resolve(self, value: Any) -> Any:
        return resolve(value, self.template)

    def placeholder(self, logical_id: str, attribute: str | None = None) -> str:
        return resolve({"Fn::GetAtt": [logical_id, attribute]} if attribute else {"Ref": logical_id}, self.template)

    def asset_files(self) -> dict[str, Path]:
        """S3 object key of each file asset -> the file in the cloud assembly."""
        out = {}
        for asset in self.assets["files"].values():
            for destination in asset["destinations"].values():
                out[destination["objectKey"]] = self.outdir / asset["source"]["path"]
        return out


def placeholder_for(logical_id: str, attribute: str | None, template: dict) -> str:
    """A realistic value for a resource reference (valid names and ARNs, so linters accept them)."""
    kind = template["Resources"][logical_id]["Type"]
    name = f"placeholder-{logical_id.lower()}"
    if kind == "AWS::S3::Bucket":
        return f"arn:aws:s3:::{name}" if attribute == "Arn" else name
    if kind == "AWS::IAM::Role":
        return f"arn:aws:iam::{ACCOUNT}:role/{logical_id}" if attribute == "Arn" else logical_id
    if kind == "AWS::Logs::LogGroup":
        return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*" if attribute == "Arn" else name
    if kind == "AWS::Events::Rule" and attribute == "Arn":
        return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"
    if kind == "AWS::StepFunctions::StateMachine" and attribute in (None, "Arn"):
        return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{logical_id}"
    raise AssertionError(f"no placeholder for {kind} {logical_id}.{attribute}: add one to conftest_cdk")


def resolve(value: Any, template: dict) -> Any:
    """Replace CloudFormation intrinsics by placeholder text (unknown ones fail the test)."""
    if isinstance(value, list):
        return [resolve(v, template) for v in value]
    if not isinstance(value, dict):
        return value
    if "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return delimiter.join(str(resolve(p, template)) for p in parts)
    if "Ref" in value:
        ref = value["Ref"]
        return PSEUDO[ref] if ref in PSEUDO else placeholder_for(ref, None, template)
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return placeholder_for(logical_id, attribute, template)
    if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return re.sub(r"\$\{([^}]+)\}", lambda m: PSEUDO[m.group(1)], value["Fn::Sub"])
    if "Fn::Select" in value and isinstance(value["Fn::Select"][1], dict) and "Fn::Split" in value["Fn::Select"][1]:
        index, (delimiter, source) = value["Fn::Select"][0], value["Fn::Select"][1]["Fn::Split"]
        return str(resolve(source, template)).split(delimiter)[index]
    if len(value) == 1 and next(iter(value)).startswith("Fn::"):
        raise AssertionError(f"no placeholder for {value}")
    return {k: resolve(v, template) for k, v in value.items()}


def run_synth(outdir: Path, project_file: Path = ROOT / "runtool.yml") -> Synth:
    from runtool_iac.synth import synth

    printed = io.StringIO()
    result = synth(project_file, outdir, out=printed)
    return Synth(
        result=result,
        summary=printed.getvalue(),
        outdir=outdir,
        template=json.loads(result.template_file.read_text()),
        assets=json.loads((outdir / f"{result.stack_name}.assets.json").read_text()),
    )


@pytest.fixture(scope="session")
def cdk_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The repository's project, synthesized once per test session (cdk-nag on)."""
    return run_synth(tmp_path_factory.mktemp("synth") / "cdk.out")


@pytest.fixture(scope="session")
def large_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """A project at issue 10's scale (200 datasets × train/test, 20 algorithms, 5 experiments,
    created role), synthesized once per session (cdk-nag on)."""
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "support"))
    from large_project import write_large_project

    folder = tmp_path_factory.mktemp("large")
    return run_synth(folder / "cdk.out", write_large_project(folder / "project"))
