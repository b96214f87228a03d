"""``runtool-iac init``: the files of a new experiments repository.

Pure file generation, no network: the scaffold must validate, plan and
synthesize as written, so a new team starts from a working project and
changes one thing at a time. Editors get the JSON schemas as copies in the
repository (``schemas/``), so completion and checks work offline and match the
installed runtool_iac version.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from runtool_iac.config.schema import schema_dir

# The aws-cdk CLI the scaffold pins; tests/test_scaffold.py keeps it equal to
# this repository's package.json, so a new project deploys with the CLI we test.
CDK_CLI_VERSION = "2.1148.1"
PROJECT_NAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{0,31}$")
# Copied into the new repository for `# yaml-language-server: $schema=...` comments.
SCHEMA_FILES = ("config.schema.json", "project.schema.json", "common.schema.json", "algorithm.schema.json")
DEFAULT_NAME = "experiments"


class ScaffoldConflict(Exception):
    """Files that exist already; nothing was written."""

    def __init__(self, directory: Path, paths: list[str]) -> None:
        self.paths = paths
        listed = "\n".join(f"  {directory / p}" for p in paths)
        super().__init__(f"{len(paths)} file(s) exist already (use --force to overwrite them):\n{listed}")


@dataclass(frozen=True)
class Written:
    directory: Path
    project_name: str
    files: tuple[str, ...]


def default_project_name(directory: Path) -> str:
    """A valid project name from the folder's name (letters, digits, '-'; starts with a letter)."""
    text = re.sub(r"[^a-zA-Z0-9]+", "-", directory.resolve().name)
    text = re.sub(r"^[^a-zA-Z]+", "", text)[:32].strip("-")
    return text or DEFAULT_NAME


def check_project_name(name: str) -> str:
    if not PROJECT_NAME_RE.fullmatch(name):
        raise ValueError(f"project name {name!r} must be a letter followed by up to 31 letters, digits or '-'")
    return name


def _version() -> str:
    try:
        return metadata.version("runtool_iac")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.1.0"


def files(project_name: str) -> dict[str, str]:
    """Relative path -> text of every file of a new project."""
    check_project_name(project_name)
    from runtool_iac.synth import CDK_CONTEXT

    out = {
        "runtool.yml": RUNTOOL_YML.format(name=project_name),
        "configs/algorithms.yml": ALGORITHMS_YML,
        "configs/datasets.yml": DATASETS_YML,
        "cdk.json": json.dumps({"app": "runtool-iac cdk-app", "watch": {"include": ["runtool.yml", "configs/**"]}, "context": CDK_CONTEXT}, indent=2) + "\n",
        "package.json": json.dumps(
            {
                "name": project_name.lower(),
                "private": True,
                "description": "The AWS CDK CLI that deploys this runtool_iac project (npx cdk deploy).",
                "devDependencies": {"aws-cdk": CDK_CLI_VERSION},
            },
            indent=2,
        )
        + "\n",
        "requirements.txt": f"runtool_iac=={_version()}\n",
        ".github/workflows/experiments.yml": WORKFLOW_YML,
        ".gitignore": GITIGNORE,
        "README.md": README_MD.format(name=project_name),
    }
    for name in SCHEMA_FILES:
        out[f"schemas/{name}"] = (schema_dir() / name).read_text()
    return out


def write(directory: str | Path, project_name: str | None = None, *, force: bool = False) -> Written:
    """Write the scaffold into ``directory`` (created if missing).

    Without ``force`` an existing file is never overwritten: every conflict is
    reported in one ``ScaffoldConflict`` and nothing is written.
    """
    root = Path(directory)
    name = check_project_name(project_name) if project_name else default_project_name(root)
    planned = files(name)
    conflicts = sorted(p for p in planned if (root / p).exists())
    if conflicts and not force:
        raise ScaffoldConflict(root, conflicts)
    for relative, text in planned.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return Written(root, name, tuple(planned))


RUNTOOL_YML = """\
# yaml-language-server: $schema=schemas/project.schema.json
#
# The project: which config files, which experiments, and the AWS resources
# `npx cdk deploy` creates for them (one Step Functions state machine per
# experiment). Check it with `runtool-iac synth`; start an experiment with
# `runtool-iac run example`.
project: {name}
configs:
  - configs/*.yml

defaults:
  create_role: true        # a SageMaker role that can read exactly the datasets used below
  create_bucket: true      # an encrypted, private output bucket
  max_concurrency: 10      # training jobs at once per instance type
  tags: {{project: {name}}}

experiments:
  example:
    description: Every algorithm on every dataset, twice.
    experiment: algorithms * datasets
    runs: 2
"""

ALGORITHMS_YML = """\
# yaml-language-server: $schema=../schemas/config.schema.json
#
# Algorithms: a training image and an instance type (and hyperparameters).
# Replace the image with your own; `runtool-iac plan configs/*.yml -e "algorithms * datasets"`
# shows the training jobs.

my_algorithm:
  image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/my-algorithm:latest
  instance: ml.m5.large
  hyperparameters:
    epochs: 10
    learning_rate: {$each: [0.01, 0.001]}   # two variants of this algorithm
    prediction_length: {$eval: $trial.dataset.meta.prediction_length}
  metrics:
    loss: 'loss=([0-9.eE+-]+)'               # scraped from the training log

algorithms: [{$ref: my_algorithm}]
"""

DATASETS_YML = """\
# yaml-language-server: $schema=../schemas/config.schema.json
#
# Datasets: one SageMaker input channel per `path` entry. `meta` is free-form
# and readable from algorithms as $trial.dataset.meta.<key>.

my_dataset:
  meta: {freq: D, prediction_length: 7}
  path:
    train: s3://my-datasets-bucket/my_dataset/train/
    test: s3://my-datasets-bucket/my_dataset/test/

datasets: [{$ref: my_dataset}]
"""

WORKFLOW_YML = """\
# Pull-request review of this experiments repository (GitHub Actions); the same
# steps as runtool_iac's examples/pr-review.yml. On every pull request that
# touches the configs or runtool.yml it validates the configs, synthesizes the
# stack in-process (cdk-nag runs inside), posts cdk.out/*.plan.md (every
# declared experiment's jobs) as one comment updated on every push, and writes
# `runtool-iac diff origin/<base branch>` (jobs added, removed, changed) into
# the job summary. No AWS credentials are needed: deploy with `npx cdk deploy`
# after merging.

name: runtool-iac review

on:
  pull_request:
    paths:
      - runtool.yml
      - "configs/**"
      - cdk.json
      - requirements.txt

permissions:
  contents: read
  pull-requests: write # the plan comment

concurrency:
  group: runtool-iac-review-${{ github.event.pull_request.number }}
  cancel-in-progress: true

jobs:
  review:
    runs-on: ubuntu-latest
    timeout-minutes: 20
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0 # all history: `runtool-iac diff` reads the base branch with git

      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"

      - uses: actions/setup-node@v4 # aws-cdk-lib runs on Node.js
        with:
          node-version: "22"

      - name: Install runtool_iac
        run: pip install -r requirements.txt

      - name: Validate the configs
        run: runtool-iac validate  # runtool.yml, its configs, every experiment planned

      - name: Synthesize (CloudFormation, manifests, plans; cdk-nag)
        run: runtool-iac synth

      - name: Gather the plans into one comment
        run: |
          {
            echo "## Training jobs declared by this pull request"
            echo
            for plan in cdk.out/*.plan.md; do
              cat "$plan"
              echo
            done
          } > plan-comment.md
          # A comment holds at most 65,536 characters; the full plans are in the artifact.
          if [ "$(wc -c < plan-comment.md)" -gt 64000 ]; then
            head -c 64000 plan-comment.md > plan-comment.tmp && mv plan-comment.tmp plan-comment.md
            printf '\\n\\n… truncated: download the cdk-plans artifact for all jobs.\\n' >> plan-comment.md
          fi

      - name: Comment the plans on the pull request
        if: github.event.pull_request.head.repo.full_name == github.repository
        uses: marocchino/sticky-pull-request-comment@v2
        with:
          header: runtool-iac-plans # one comment per pull request, replaced on each push
          path: plan-comment.md

      - name: Plan diff against the base branch (job summary)
        run: runtool-iac diff "origin/${{ github.base_ref }}" --format markdown >> "$GITHUB_STEP_SUMMARY"

      - name: Keep the plans and the template
        uses: actions/upload-artifact@v4
        with:
          name: cdk-plans
          path: |
            cdk.out/*.plan.md
            cdk.out/*.plan.json
            cdk.out/*.template.json
"""

GITIGNORE = """\
cdk.out/
.venv/
node_modules/
runtool-output/
__pycache__/
"""

README_MD = """\
# {name}

SageMaker training experiments, run with runtool_iac: algorithms and datasets
in `configs/`, experiments in `runtool.yml`.

```console
$ python -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt
$ npm install                                   # the pinned AWS CDK CLI
$ runtool-iac validate configs/*.yml            # check the configs
$ runtool-iac plan configs/*.yml -e "algorithms * datasets"   # the training jobs
$ npx cdk deploy                                # the state machines, role and bucket
$ runtool-iac run example --wait                # start the experiment, follow it
$ runtool-iac results <execution> --pivot loss  # metrics per algorithm and dataset
```

Pull requests that touch `configs/` or `runtool.yml` get the planned jobs as a
comment (`.github/workflows/experiments.yml`). `schemas/` holds the JSON schemas
your editor uses (through the `yaml-language-server` comment at the top of each
config file).
"""
