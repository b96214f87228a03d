"""``runtool-iac validate``: check config files, or a whole project, without planning anything to AWS."""

from __future__ import annotations

from runtool_iac.commands.command import Argument, Option, UsageError, command
from runtool_iac.commands.output import detail, info
from runtool_iac.commands.values import Path

TYPE_CHECKING = False  # `typing` is not imported at run time: it costs every command ~3 ms
if TYPE_CHECKING:
    from typing import Any


@command(
    "validate",
    Argument("files", many=True, required=False, type=Path(dir_okay=False)),
    Option("--project", dest="project_file", type=Path(), help="runtool.yml to check (the default without FILES)."),
)
def validate_command(files: tuple[str, ...], project_file: str | None) -> None:
    """Check config FILES: YAML, directives, schemas; report every problem.

    Without FILES, checks the project: runtool.yml, its configs, and every
    declared experiment planned as it would be deployed (experiments of
    `instance: local` algorithms as `runtool-iac local` runs them).
    Prints "ok: ..." when they are valid (nothing with --quiet; every
    top-level node with its kind and variant count with --verbose).

    \b
    Examples:
      runtool-iac validate configs/algorithms.yml configs/datasets.yml
      runtool-iac validate            # runtool.yml, found upward from here
    """
    from runtool_iac.config import load_config
    from runtool_iac.errors import ConfigError

    if files and project_file:
        raise UsageError("give config FILES or --project, not both")
    if files:
        config = load_config(*files)
        info(f"ok: {len(files)} file(s), {len(config.keys())} top-level nodes")
    else:
        from runtool_iac.project import load_project

        project = load_project(project_file)
        config = project.config
        errors, jobs = [], 0
        for name in project.experiments:
            try:
                # An experiment of `instance: local` algorithms is checked as `local` runs it.
                jobs += len(project.plan(name, target="local" if project.local_only(name) else "sagemaker"))
            except ConfigError as exc:
                errors.append(exc)
        if errors:
            raise ConfigError.collect(errors)
        info(
            f"ok: {project.file.name}, {len(project.config_files)} config file(s), "
            f"{len(project.experiments)} experiment(s), {jobs} jobs"
        )
    for name in config:
        detail(f"  {name}: {_describe(config[name])}")


def _describe(node: Any) -> str:
    """"algorithm, 3 variants" / "datasets, 2 variants" / "experiment, 6 trials" / "value"."""
    kind = type(node).__name__
    if kind in ("Experiment", "Experiments"):
        return f"{kind.lower()}, {len(node)} trials"
    if kind in ("Algorithm", "Algorithms", "Dataset", "Datasets"):
        return f"{kind.lower()}, {len(node)} variant{'s' if len(node) != 1 else ''}"
    return "value"
