"""Synthesizing a project: the CDK app, plus plan files for pull-request review.

Used by ``cdk_app`` (what ``npx cdk synth``/``deploy`` run, through cdk.json)
and by ``runtool-iac synth`` (in-process, same result). Needs no AWS
credentials: the stack is environment-agnostic and only assets and templates
are written.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from runtool_iac import iam_limits, render
from runtool_iac.plan import Plan
from runtool_iac.project import Project, load_project

DEFAULT_OUTDIR = "cdk.out"


@dataclass
class SynthResult:
    project: Project
    plans: dict[str, Plan]
    outdir: Path
    template_file: Path
    stack_name: str
    policy_sizes: list = None  # iam_limits.RoleSizes of every role in the template


# Feature flags every project needs. Without the first, aws-cdk-lib silently drops
# a Distributed Map's ResultWriter from the definition (results would be lost).
RELIED_ON_FLAGS = (
    "@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2",
    "@aws-cdk/aws-iam:minimizePolicies",
    "@aws-cdk/core:enablePartitionLiterals",
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy",
    "@aws-cdk/core:checkSecretUsage",
    "@aws-cdk/aws-iam:standardizedServicePrincipals",
)
# Every flag of the pinned aws-cdk-lib, set as `cdk flags --set --unconfigured --recommended`
# does (as `cdk init` would), except enableAdditionalMetadataCollection (false: no extra
# telemetry in templates). Configuring all of them keeps the synthesized template the same
# across aws-cdk-lib upgrades and silences the CLI's "N feature flags are not configured"
# notice; none of the others changes this project's template (tests/test_cdk_cli.py).
CDK_CONTEXT: dict = json.loads((Path(__file__).parent / "cdk_context.json").read_text())


def cdk_context(root: Path) -> dict:
    """The context of the project's cdk.json (feature flags), for in-process synths."""
    cdk_json = root / "cdk.json"
    context = dict(CDK_CONTEXT)
    if cdk_json.is_file():
        context.update(json.loads(cdk_json.read_text()).get("context", {}))
    return context


def synth(project_file: str | Path | None = None, outdir: str | Path | None = None, *, nag: bool = True,
          out: TextIO | None = None, app_from_cli: bool = False) -> SynthResult:
    """Build and synthesize the project's stack; write ``<experiment>.plan.{md,json}`` next to it."""
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks

    from runtool_iac.constructs.stack import RuntoolStack, StackInputs

    out = out or sys.stderr
    project = load_project(project_file)
    plans = {name: project.plan(name) for name in project.experiments}
    if app_from_cli:
        app = cdk.App()  # the CDK CLI passes outdir and cdk.json's context through the environment
    else:
        app = cdk.App(outdir=str(outdir or project.root / DEFAULT_OUTDIR), context=cdk_context(project.root))
    outdir_path = Path(app.outdir)
    stack = RuntoolStack(
        app,
        project.stack_name(),
        StackInputs(project=project, plans=plans, manifest_dir=outdir_path / "runtool-manifests"),
        description=f"runtool_iac project '{project.name}': {len(plans)} experiment state machines + ad-hoc runs",
    )
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    assembly = app.synth()
    artifact = assembly.get_stack_by_name(stack.stack_name)
    template_file = outdir_path / artifact.template_file
    paths = {stack.get_logical_id(c): c.node.path for c in stack.node.find_all() if isinstance(c, cdk.CfnElement)}
    try:
        sizes = iam_limits.check(artifact.template, paths)
    except iam_limits.PolicyLimitError:
        template_file.unlink(missing_ok=True)  # never leave a template IAM would reject
        raise
    resources = Counter(r["Type"] for r in artifact.template["Resources"].values())
    for name, plan in plans.items():
        (outdir_path / f"{name}.plan.json").write_text(plan.to_json())
        (outdir_path / f"{name}.plan.md").write_text(
            render.markdown(plan, title=f"{project.name} / {name}") + _resources_markdown(resources)
        )
        counts = ", ".join(f"{i}: {n}" for i, n in plan.instance_counts().items())
        out.write(
            f"{name}: {len(plan)} jobs ({plan.trials} trials × {plan.runs} runs; {counts}); "
            f"≤ {plan.instance_hours_bound():,.1f} instance-hours; "
            f"plan: {outdir_path / (name + '.plan.md')}\n"
        )
    out.write(f"stack {stack.stack_name}: {sum(resources.values())} resources → {template_file}\n")
    for role in sizes:
        if role.managed or role.inline_total > iam_limits.INLINE_AGGREGATE_MAX // 2:
            out.write(f"IAM policy sizes (worst case): {role.summary()}\n")
    return SynthResult(project, plans, outdir_path, template_file, stack.stack_name, sizes)


def _resources_markdown(resources: Counter) -> str:
    lines = ["", "<details><summary>Infrastructure (whole stack)</summary>", "", "| resource type | count |", "|---|---:|"]
    lines += [f"| `{kind}` | {count} |" for kind, count in sorted(resources.items())]
    return "\n".join(lines + ["", "</details>", ""])
