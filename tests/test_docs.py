"""The docs cannot drift from the code: every example in them is run here.

- docs/*.md: every ```yaml block is loaded and must carry a check
  (``<!-- expect: ... -->`` or ``<!-- error -->`` + the exact message in a
  ```text block); every ```python block is executed (tests/support/markdown_examples.py).
- README.md's quickstart (between ``<!-- quickstart:start -->`` and
  ``<!-- quickstart:end -->``) runs against a synthesized stack deployed into moto.
- The guide's lists and tables (directives, project file keys, sandbox limits) match the code.
  (docs/cli.md is checked by tests/test_cli_ergonomics.py.)
"""

from __future__ import annotations

import builtins
import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent / "support"))

from markdown_examples import Block, blocks, read, region  # noqa: E402

from runtool_iac import expressions  # noqa: E402
from runtool_iac.config import load_config  # noqa: E402
from runtool_iac.config.source import to_plain as _plain  # noqa: E402
from runtool_iac.errors import ConfigError  # noqa: E402
from runtool_iac.experiment_expr import parse_experiment  # noqa: E402
from runtool_iac.plan import SYSTEM_TAGS, build_plan  # noqa: E402
from runtool_iac.project import load_project  # noqa: E402

from conftest import ROOT  # noqa: E402

DOCS = [ROOT / "docs" / "writing_configs.md", ROOT / "docs" / "migrating_from_runtool.md"]
README = ROOT / "README.md"
QUICKSTART = ("<!-- quickstart:start -->", "<!-- quickstart:end -->")
DEFAULT_FILE = "config.yml"


class Helpers:
    """The names a check may use; files are relative to the example's folder."""

    def __init__(self, current: str) -> None:
        self.current = current

    def load(self, *files: str):
        return load_config(*(files or [self.current]))

    def plan(self, expression: str, runs: int = 1, files: list[str] | tuple = (), **options: Any):
        return build_plan(parse_experiment(expression, self.load(*files)), runs=runs, **options)

    def jobs(self, expression: str, runs: int = 1, **options: Any) -> int:
        return len(self.plan(expression, runs, **options))

    def names(self, expression: str, runs: int = 1, **options: Any) -> list[str]:
        return [job.name for job in self.plan(expression, runs, **options).jobs]

    def requests(self, expression: str, runs: int = 1, **options: Any) -> list[dict]:
        return self.plan(expression, runs, **options).requests()

    def hyperparameters(self, expression: str, runs: int = 1, **options: Any) -> list[dict]:
        return [r["HyperParameters"] for r in self.requests(expression, runs, **options)]

    def user_tags(self, expression: str, runs: int = 1, **options: Any) -> list[dict]:
        return [
            {t["Key"]: t["Value"] for t in r["Tags"] if t["Key"] not in SYSTEM_TAGS}
            for r in self.requests(expression, runs, **options)
        ]

    def variants(self, node: str, files: list[str] | tuple = ()) -> list[dict]:
        return [_plain(member.value) for member in self.load(*files)[node]]

    def kind(self, node: str, files: list[str] | tuple = ()) -> str:
        return type(self.load(*files)[node]).__name__

    def value(self, node: str, files: list[str] | tuple = ()) -> Any:
        return _plain(self.load(*files)[node])

    def project(self, file: str = "runtool.yml"):
        return load_project(file)

    def namespace(self) -> dict[str, Any]:
        names = {n: getattr(self, n) for n in dir(self) if not n.startswith("_") and n not in ("current", "namespace")}
        return {"__builtins__": builtins, **names}


def _examples() -> list:
    params = []
    for doc in DOCS:
        for index, block in enumerate(read(doc)):
            if block.lang in ("yaml", "python"):
                params.append(pytest.param(doc, index, id=f"{doc.name}:{block.line}"))
    return params


def _write_files(all_blocks: list[Block], upto: int, folder: Path) -> str:
    """Write the files named by blocks up to ``upto`` (later ones win); the current block's file name."""
    for block in all_blocks[: upto + 1]:
        if block.lang == "yaml" and block.file_name:
            target = folder / block.file_name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.text)
    block = all_blocks[upto]
    if block.lang == "yaml" and not block.file_name:
        (folder / DEFAULT_FILE).write_text(block.text)
    return block.file_name or DEFAULT_FILE


def assert_printed(expected: Block, printed: str, where: str) -> None:
    """Every line of ``expected`` (except '…' lines) appears in ``printed``, in order."""
    lines = [line.rstrip() for line in printed.splitlines()]
    position = 0
    for line in expected.text.splitlines():
        if line.strip() in ("…", "...", ""):
            continue
        try:
            position = lines.index(line.rstrip(), position) + 1
        except ValueError:
            raise AssertionError(f"{where}: documented output line not printed: {line!r}\nprinted:\n{printed}") from None


@pytest.mark.parametrize("doc,index", _examples())
def test_example(doc: Path, index: int, tmp_path, monkeypatch, capsys):
    all_blocks = read(doc)
    block = all_blocks[index]
    where = f"{doc.relative_to(ROOT)}:{block.line}"
    monkeypatch.chdir(tmp_path)
    current = _write_files(all_blocks, index, tmp_path)
    helpers = Helpers(current)
    namespace = helpers.namespace()
    if block.lang == "python":
        exec(compile(block.text, where, "exec"), namespace)
        if block.output is not None:
            assert_printed(block.output, capsys.readouterr().out, where)
    else:
        assert block.checks, f"{where}: a YAML example needs an <!-- expect: ... --> or <!-- error --> check after it"
    for check in block.checks:
        at = f"{doc.relative_to(ROOT)}:{check.line}"
        if check.kind == "expect":
            assert eval(check.code, namespace), f"{at}: expected {check.code}"
            continue
        assert check.message is not None, f"{at}: an error check needs a ```text block with the message after it"
        with pytest.raises(ConfigError) as raised:
            eval(check.code, namespace) if check.code else helpers.load()
        assert str(raised.value) == check.message.rstrip("\n"), f"{at}: the documented message differs"


def test_the_guide_covers_every_directive_and_project_key():
    guide = DOCS[0].read_text()
    from runtool_iac.config.resolve import DIRECTIVES

    for directive in DIRECTIVES:
        assert f"`{directive}" in guide, directive
    schema = json.loads((ROOT / "schemas" / "project.schema.json").read_text())
    keys = set(schema["properties"]) | set(schema["$defs"]["settingsFields"]["properties"])
    keys |= set(schema["properties"]["local"]["properties"])
    keys |= set(schema["properties"]["experiments"]["additionalProperties"]["properties"])
    missing = sorted(k for k in keys if not re.search(rf"`[\w.<>]*\b{k}\b", guide))
    assert not missing, f"project file keys not documented in {DOCS[0].name}: {missing}"


def test_the_sandbox_limits_table_matches_the_code():
    guide = DOCS[0].read_text()
    rows = dict(re.findall(r"^\| ([a-z][^|]+?) \| ([^|]+?) \|$", guide, re.M))
    expected = {
        "expression length": f"{expressions.MAX_SOURCE_CHARS:,} characters",
        "nesting depth of the expression": str(expressions.MAX_AST_DEPTH),
        "string result": f"{expressions.MAX_STRING:,} characters",
        "list, tuple or dict result": f"{expressions.MAX_ITEMS:,} items",
        "integer result": f"{expressions.MAX_INT_BITS:,} bits",
        "evaluation steps": f"{expressions.MAX_STEPS:,}",
        "evaluation time": f"{expressions.MAX_SECONDS} s",
    }
    assert {k: rows.get(k) for k in expected} == expected
    allowed = re.search(r"the functions (.*?); the string methods (.*?) and `format`", guide, re.S)
    assert allowed, "the guide lists the allowed functions and string methods"
    assert set(re.findall(r"`(\w+)`", allowed.group(1))) == set(expressions.FUNCTIONS)
    assert set(re.findall(r"`(\w+)`", allowed.group(2))) | {"format"} == set(expressions.STR_METHODS)


# ------------------------------------------------------------------ README quickstart

SKIPPED_COMMANDS = ("pip install", "npm install", "npm ci", "python -m venv", ". .venv/bin/activate", "source .venv/bin/activate")


@pytest.mark.slow
def test_readme_quickstart_runs_against_a_deployed_stack(tmp_path, monkeypatch, capsys):
    """The README's quickstart, run as written with AWS played by moto.

    Files: every YAML block of README.md up to the end marker whose first line
    names a file (``# config.yml``). Between the markers, console commands
    run in order (``runtool-iac ...``, ``cd``, ``npx cdk deploy``: synthesize and
    deploy into moto), and Python blocks run in one namespace; a ```text block
    after one lists lines it must print. Without a ``runtool-iac init`` the
    quickstart runs in a project made by ``runtool-iac init``; without a
    ``npx cdk deploy`` that project is deployed before the first Python block.
    Whatever the Python leaves in ``jobs`` must be the names of the training
    jobs the executions created.
    """
    text = README.read_text() if README.is_file() else ""
    found = region(text, *QUICKSTART)
    if found is None:
        pytest.fail(
            f"README.md has no quickstart: put it between the lines {QUICKSTART[0]} and {QUICKSTART[1]} "
            "(tests/test_docs.py runs its console commands, YAML files and Python blocks in order)"
        )
    region_text, first_line = found
    steps = blocks(region_text, first_line)
    earlier = [b for b in blocks(text) if b.line < first_line and b.lang == "yaml" and b.file_name]
    consoles = "\n".join(b.text for b in steps if b.lang == "console")
    quickstart = Quickstart(tmp_path, monkeypatch, capsys, deploys_itself="npx cdk deploy" in consoles)
    with quickstart.aws():
        if "runtool-iac init" not in consoles:
            quickstart.command("runtool-iac init . --project-name quickstart", "README.md (implied)")
        for block in earlier + steps:
            quickstart.step(block)
        quickstart.check_started_jobs()
    assert quickstart.ran_python, "the quickstart has Python"


class Quickstart:
    def __init__(self, folder: Path, monkeypatch: Any, capsys: Any, deploys_itself: bool) -> None:
        self.folder, self.monkeypatch, self.capsys = folder, monkeypatch, capsys
        self.namespace: dict[str, Any] = {"__name__": "__quickstart__"}
        self.deploys_itself = deploys_itself
        self.deployed = False
        self.ran_python = False
        monkeypatch.chdir(folder)

    def aws(self):
        import contextlib

        from moto import mock_aws
        from moto_stepfunctions import patched_moto

        @contextlib.contextmanager
        def both():
            with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), patched_moto() as behaviour:
                self.behaviour = behaviour
                yield

        return both()

    def step(self, block: Block) -> None:
        where = f"README.md:{block.line}"
        if block.lang == "console":
            for line in block.text.splitlines():
                if line.startswith("$ "):
                    for command in line[2:].split("#")[0].split("&&"):
                        self.command(command.strip(), where)
        elif block.lang == "yaml" and block.file_name:
            (Path.cwd() / block.file_name).parent.mkdir(parents=True, exist_ok=True)
            (Path.cwd() / block.file_name).write_text(block.text)
        elif block.lang == "python":
            if not self.deployed and not self.deploys_itself:
                self.deploy()
            self.ran_python = True
            self.capsys.readouterr()
            exec(compile(block.text, where, "exec"), self.namespace)
            if block.output is not None:
                assert_printed(block.output, self.capsys.readouterr().out, where)

    def command(self, command: str, where: str) -> None:
        from click.testing import CliRunner

        from runtool_iac.cli import main

        words = shlex.split(command)
        if not words or command.startswith(SKIPPED_COMMANDS):
            return
        if words[0] == "cd":
            self.monkeypatch.chdir(words[1])
        elif words[0] == "runtool-iac":
            result = CliRunner().invoke(main, words[1:])
            assert result.exit_code == 0, f"{where}: `{command}` failed:\n{result.output}"
        elif words[:3] == ["npx", "cdk", "deploy"]:
            self.deploy()
        else:
            raise AssertionError(f"{where}: the quickstart test does not know how to run `{command}`")

    def deploy(self) -> None:
        """What `npx cdk deploy` does, into moto: the project found from here, synthesized and deployed."""
        import boto3
        from moto_deploy import REGION, deploy

        from runtool_iac.project import find_project_file
        from runtool_iac.synth import synth

        with open("/dev/null", "w") as quiet:
            result = synth(find_project_file(), self.folder / "cdk.out", out=quiet)
        deploy(result.outdir, result.stack_name, boto3.Session(region_name=REGION))
        self.stack_name = result.stack_name
        self.deployed = True

    def check_started_jobs(self) -> None:
        """Every job name the Python left in ``jobs`` became one training job."""
        import boto3
        from moto_deploy import REGION

        from runtool_iac.runner import Runner

        started = self.namespace.get("jobs")
        assert isinstance(started, list) and started, "the quickstart's Python sets `jobs = client.run(...)`"
        runner = Runner(self.stack_name, session=boto3.Session(region_name=REGION), region=REGION)
        for execution in runner.list():
            assert runner.wait(execution["executionArn"], poll_seconds=0.05).status == "SUCCEEDED"
        assert sorted(r["TrainingJobName"] for r in self.behaviour.created) == sorted(started)


def test_the_example_reader_attaches_checks_messages_and_output():
    text = "\n".join([
        "```yaml", "# a.yml", "x: 1", "```",
        "<!-- expect: value('x') == 1 -->",
        "<!-- error: load('b.yml') -->",
        "```text", "b.yml:1:1: file not found", "```",
        "```python", "print(1)", "```",
        "```text", "1", "```",
        "```yaml", "y: 2", "```",
    ])
    first, code, last = blocks(text)
    assert first.file_name == "a.yml" and [c.kind for c in first.checks] == ["expect", "error"]
    assert first.checks[1].message == "b.yml:1:1: file not found\n" and first.output is None
    assert code.lang == "python" and code.output.text == "1\n"
    assert last.checks == [] and last.file_name is None
    assert region("a\n<!-- s -->\nb\n<!-- e -->\n", "<!-- s -->", "<!-- e -->") == ("b\n", 3)
