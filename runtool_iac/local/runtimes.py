"""How a job's image runs here: as a process, or as a container.

Rule (documented in docs/local_mode.md):

- ``local:<command>`` as the image runs ``<command> train`` as a process;
- an image listed in ``local.images`` runs what it maps to: a value that is a
  single word parsing as an image reference *with* a tag, digest or registry
  host (``python:3.11``, ``my.registry/algo``, ``algo@sha256:...``) is an image
  run with Docker/Podman; anything else (``python train.py``, ``./train.sh``)
  is a command; ``local:`` forces a command;
- any other image runs with Docker/Podman as it is.

A process runs with the project root as working directory and the training
toolkit's ``SM_*`` variables pointing into its job folder; a leading
``python``/``python3`` means the interpreter running runtool-iac, so the
command sees the same installed packages. A container gets the job folder
mounted at ``/opt/ml``, each channel's source mounted read-only over its
channel folder, and the CPU/memory of its instance type.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Mapping, Protocol

from runtool_iac.local import contract
from runtool_iac.local.contract import JobPaths
from runtool_iac.local.errors import LocalModeError
from runtool_iac.local.resources import Limits

LOCAL_PREFIX = "local:"
ENGINES = ("docker", "podman")
ENGINE_CHECK_TIMEOUT_S = 20
_NAME = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_RE = re.compile(
    rf"^(?P<registry>[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]+)?/)?{_NAME}(?:/{_NAME})*"
    rf"(?P<tag>:[\w][\w.-]{{0,127}})?(?P<digest>@sha256:[0-9a-f]{{64}})?$"
)


@dataclass(frozen=True)
class LaunchSpec:
    """What a job needs from its runtime: its tree, request, channel sources, limits, a unique name."""

    paths: JobPaths
    request: dict
    sources: Mapping[str, Path]
    limits: Limits
    container_name: str


class Runtime(Protocol):
    @property
    def links_data(self) -> bool:
        """Whether channel folders get symlinks (a container mounts the sources instead)."""

    def argv(self, spec: LaunchSpec) -> list[str]: ...

    def environment(self, spec: LaunchSpec) -> dict[str, str]: ...

    def cwd(self) -> Path | None: ...

    def stop(self, spec: LaunchSpec) -> None: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class ProcessRuntime:
    command: str
    root: Path
    links_data: bool = True

    def argv(self, spec: LaunchSpec) -> list[str]:
        words = shlex.split(self.command)
        if words and words[0] in ("python", "python3"):
            words[0] = sys.executable
        return [*words, "train"]

    def environment(self, spec: LaunchSpec) -> dict[str, str]:
        return {
            **os.environ,
            **contract.toolkit_environment(spec.paths, spec.request, spec.limits.cpus),
            **contract.request_environment(spec.request),
            "PYTHONUNBUFFERED": "1",  # log lines as they happen, as in CloudWatch
        }

    def cwd(self) -> Path | None:
        return self.root

    def stop(self, spec: LaunchSpec) -> None:
        """Nothing beyond killing the process group (the executor does that)."""

    def describe(self) -> str:
        return f"process: {self.command} train"


@dataclass(frozen=True)
class ContainerRuntime:
    engine: str
    image: str
    links_data: bool = False

    def argv(self, spec: LaunchSpec) -> list[str]:
        return container_command(self.engine, self.image, spec)

    def environment(self, spec: LaunchSpec) -> dict[str, str]:
        return dict(os.environ)

    def cwd(self) -> Path | None:
        return None

    def stop(self, spec: LaunchSpec) -> None:
        """Killing the ``docker run`` client may leave the container running: remove it."""
        subprocess.run(
            [self.engine, "rm", "-f", spec.container_name],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=ENGINE_CHECK_TIMEOUT_S, check=False,
        )

    def describe(self) -> str:
        return f"{os.path.basename(self.engine)}: {self.image} train"


def container_command(engine: str, image: str, spec: LaunchSpec) -> list[str]:
    """``docker run`` as SageMaker starts a training container: ``<image> train`` with /opt/ml mounted."""
    root = contract.CONTAINER_ROOT
    argv = [engine, "run", "--rm", "--name", spec.container_name, "-v", f"{spec.paths.root}:{root}"]
    for channel, source in spec.sources.items():
        target = PurePosixPath(root, "input", "data", channel)
        if not source.is_dir():
            target = target / source.name
        argv += ["-v", f"{source.resolve()}:{target}:ro"]
    argv += ["--cpus", str(spec.limits.cpus), "--memory", f"{spec.limits.memory_mib}m"]
    for key, value in contract.request_environment(spec.request).items():
        argv += ["-e", f"{key}={value}"]
    return [*argv, image, "train"]


def is_image_reference(value: str) -> bool:
    """A single word naming an image unambiguously: with a tag, a digest, or a registry host."""
    match = _IMAGE_RE.match(value)
    if not match:
        return False
    registry = (match["registry"] or "").rstrip("/")
    return bool(match["tag"] or match["digest"] or "." in registry or ":" in registry or registry == "localhost")


def find_engine() -> str | None:
    for name in ENGINES:
        path = shutil.which(name)
        if path:
            return path
    return None


def select(image: str, images: Mapping[str, str], root: Path, engine: str | None) -> ProcessRuntime | ContainerRuntime:
    """The runtime for a training image (see the module docstring for the rule)."""
    target = images.get(image, image)
    if target.startswith(LOCAL_PREFIX):
        return ProcessRuntime(target[len(LOCAL_PREFIX):].strip(), root)
    if image in images and not is_image_reference(target):
        return ProcessRuntime(target, root)
    if engine is None:
        raise LocalModeError(
            f"image {target} needs Docker or Podman, and neither is installed; map the image to a command"
            f" under local.images in runtool.yml, or write the image as 'local:<command>'"
        )
    return ContainerRuntime(engine, target)


def check_engine(engine: str) -> None:
    """Fail before any job starts when the engine's daemon is unreachable (``docker info``)."""
    try:
        result = subprocess.run([engine, "info"], capture_output=True, text=True, timeout=ENGINE_CHECK_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LocalModeError(f"`{engine} info` failed: {exc}") from None
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise LocalModeError(
            f"`{os.path.basename(engine)} info` failed ({last}); start the engine, or map the images to commands"
            " under local.images in runtool.yml"
        )
