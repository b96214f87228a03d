"""``npx cdk synth`` through the real CDK CLI, from the repository root, with no AWS credentials.

What a user runs after cloning (and what ``cdk deploy`` runs first): cdk.json's
app (``python -m cdk_app``) under the pinned Node.js and aws-cdk CLI. It must
write the plan files next to the template, and the same stack as the
in-process synth (the CLI adds only its CDKMetadata resource and path metadata).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import ROOT

if TYPE_CHECKING:
    from conftest_cdk import Synth

pytest_plugins = ["conftest_cdk"]  # the session-wide synth: fixture cdk_synth


def cli_environment(tmp_path: Path) -> dict[str, str]:
    """.ci/env's settings, and nothing that could reach AWS: no credentials, profile or metadata service."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("CDK_")}
    env.update(
        PATH=os.pathsep.join([str(ROOT / ".venv" / "bin"), str(ROOT / "node_modules" / ".bin"), os.environ["PATH"]]),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        CDK_DISABLE_VERSION_CHECK="1",
        CDK_CLI_NOTICES="false",
    )
    return env


@pytest.mark.slow
def test_npx_cdk_synth_from_the_repository_root(tmp_path: Path, cdk_synth: Synth):
    if not (ROOT / "node_modules" / ".bin" / "cdk").exists() or shutil.which("npx") is None:
        pytest.fail("the CDK CLI is missing: run bash .ci/setup")
    started = time.time() - 1
    done = subprocess.run(
        ["npx", "--no-install", "cdk", "synth", "--quiet"],
        cwd=ROOT,
        env=cli_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "bench: 27 jobs" in done.stderr + done.stdout
    assert "feature flags are not configured" not in done.stderr + done.stdout  # cdk.json sets them all

    out = ROOT / "cdk.out"
    for name in ("bench", "smoke"):
        for suffix in (".plan.md", ".plan.json"):
            plan = out / f"{name}{suffix}"
            assert plan.is_file() and plan.stat().st_mtime >= started, plan
        assert (out / f"{name}.plan.json").read_bytes() == (cdk_synth.outdir / f"{name}.plan.json").read_bytes()

    stack = cdk_synth.result.stack_name
    template = json.loads((out / f"{stack}.template.json").read_text())

    def without_metadata(resources: dict) -> dict:
        return {k: {a: b for a, b in r.items() if a != "Metadata"} for k, r in resources.items()}

    cli_resources = without_metadata(template["Resources"])
    assert set(cli_resources) - set(cdk_synth.resources) == {"CDKMetadata"}
    cli_resources.pop("CDKMetadata")
    assert cli_resources == without_metadata(cdk_synth.resources)
