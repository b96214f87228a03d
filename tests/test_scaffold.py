"""`runtool-iac init`: a new repository that validates, plans and synthesizes as written."""

import io
import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from runtool_iac import scaffold
from runtool_iac.cli import main

from conftest import ROOT


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def configs(project: Path) -> list[str]:
    return sorted(str(p) for p in (project / "configs").glob("*.yml"))


@pytest.mark.slow
def test_init_then_validate_plan_and_synth(tmp_path):
    from runtool_iac.synth import synth

    project = tmp_path / "my-experiments"
    result = cli("init", str(project))
    assert result.exit_code == 0, result.output
    assert "created project 'my-experiments'" in result.output

    assert cli("validate", *configs(project)).exit_code == 0
    planned = cli("plan", *configs(project), "-e", "algorithms * datasets", "--runs", "2")
    assert planned.exit_code == 0, planned.output
    assert "total number of jobs: 4" in planned.output

    summary = io.StringIO()
    synthesized = synth(project / "runtool.yml", tmp_path / "cdk.out", out=summary)  # cdk-nag runs too
    assert len(synthesized.plans["example"]) == 4
    template = synthesized.template_file.read_text()
    assert '\\"ResultWriter\\"' in template  # cdk.json's feature flags reached the synth
    assert (synthesized.outdir / "example.plan.md").read_text().startswith("### my-experiments / example: 4 training jobs")


def test_init_refuses_to_overwrite_and_lists_every_conflict(tmp_path):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "datasets.yml").write_text("mine: 1\n")
    (tmp_path / "README.md").write_text("# mine\n")
    result = cli("init", str(tmp_path))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "error: 2 file(s) exist already (use --force to overwrite them):",
        f"  {tmp_path / 'README.md'}",
        f"  {tmp_path / 'configs/datasets.yml'}",
    ]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["README.md", "configs", "datasets.yml"]  # nothing written

    forced = cli("init", str(tmp_path), "--force", "--project-name", "team-a", "--quiet")
    assert forced.exit_code == 0 and forced.output == ""
    assert "project: team-a\n" in (tmp_path / "runtool.yml").read_text()
    assert "my_dataset:" in (tmp_path / "configs" / "datasets.yml").read_text()


def test_project_names():
    assert scaffold.default_project_name(Path("/x/My Experiments_2")) == "My-Experiments-2"
    assert scaffold.default_project_name(Path("/x/2024")) == "experiments"
    result = cli("init", "somewhere", "--project-name", "9lives")
    assert result.exit_code == 2 and "Invalid value for '--project-name'" in result.output


def test_cdk_json_and_package_json_match_this_repository(tmp_path):
    from runtool_iac.synth import CDK_CONTEXT

    files = scaffold.files("demo")
    cdk_json = json.loads(files["cdk.json"])
    assert cdk_json["app"] == "runtool-iac cdk-app"
    assert cdk_json["context"] == CDK_CONTEXT
    assert cdk_json["context"]["@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2"] is True
    ours = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert json.loads(files["package.json"])["devDependencies"] == {"aws-cdk": ours}
    assert set(files[".gitignore"].split()) >= {"cdk.out/", ".venv/", "node_modules/", "runtool-output/"}


def test_schema_comments_point_at_the_copied_schemas(tmp_path):
    scaffold.write(tmp_path, "demo")
    for name in ("runtool.yml", "configs/algorithms.yml", "configs/datasets.yml"):
        first = (tmp_path / name).read_text().splitlines()[0]
        match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
        assert match, (name, first)
        schema = ((tmp_path / name).parent / match.group(1)).resolve()
        assert schema.read_text() == (ROOT / "schemas" / schema.name).read_text()
        for ref in re.findall(r'"\$ref": "([^"#]+)#', schema.read_text()):
            assert (schema.parent / ref).is_file(), ref  # offline: every referenced schema is there too


def test_workflow_runs_existing_commands_like_the_example_workflow():
    workflow = yaml.safe_load(scaffold.files("demo")[".github/workflows/experiments.yml"])
    steps = workflow["jobs"]["review"]["steps"]
    commands = [m for step in steps for m in re.findall(r"runtool-iac ([a-z-]+)", step.get("run", ""))]
    assert commands == ["validate", "synth", "diff"]
    assert set(commands) <= set(main.command_names())
    assert workflow[True]["pull_request"]["paths"][:2] == ["runtool.yml", "configs/**"]  # PyYAML reads `on:` as True
    # The same review as examples/pr-review.yml, installed from requirements.txt instead of .ci/setup.
    example = yaml.safe_load((ROOT / "examples" / "pr-review.yml").read_text())
    (example_job,) = example["jobs"].values()
    names = [s.get("name", s.get("uses")) for s in steps if "Install" not in s.get("name", "")]
    assert names == [s.get("name", s.get("uses")) for s in example_job["steps"] if "Install" not in s.get("name", "")]
    assert workflow["permissions"] == example["permissions"]


def test_cdk_app_is_hidden_and_runs_the_cli_synth(monkeypatch):
    import runtool_iac.synth
    from runtool_iac.errors import ConfigError, Location

    calls = []
    monkeypatch.setattr(runtool_iac.synth, "synth", lambda **kwargs: calls.append(kwargs))
    assert cli("cdk-app").exit_code == 0 and calls == [{"app_from_cli": True}]
    assert "cdk-app" not in cli("--help").output

    def broken(**kwargs):
        raise ConfigError("no such node", location=Location("runtool.yml", 3, 1), path="experiments.x")

    monkeypatch.setattr(runtool_iac.synth, "synth", broken)
    result = cli("cdk-app")
    assert result.exit_code == 1 and result.stderr == "runtool.yml:3:1: experiments.x: no such node\n"


def test_pyproject_license_is_an_spdx_string():
    """setuptools (>= 77) warns at every install about a `project.license` table."""
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "Apache-2.0"
    assert pyproject["build-system"]["requires"] == ["setuptools>=77"]
