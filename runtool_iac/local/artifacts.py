"""What a finished job leaves for SageMaker to collect: ``model.tar.gz`` and ``output/failure``.

Both are read from a folder the algorithm controlled, so neither may be
trusted: ``model/`` may have been replaced by a symlink to ``/`` or hold
links out of the job folder, ``output/failure`` may be a 1 GB file, a FIFO
or a link to a secret. Packaging stores only what is inside the model folder
(links pointing outside are left out), never opens a path through a symlink,
and stops when the job's MaxRuntime is reached or the run is interrupted.
"""

from __future__ import annotations

import errno
import os
import stat
import tarfile
from pathlib import Path
from typing import BinaryIO, Callable

GZIP_LEVEL = 6  # gzip's default: level 9 is ~3x slower for ~1% less
FAILURE_READ_LIMIT = 4 * 1024  # bytes: SageMaker keeps 1024 characters of FailureReason
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


class PackagingStopped(Exception):
    """Packaging ended early: ``str(exc)`` says why (MaxRuntime, interrupted)."""


class ModelFolderError(Exception):
    """The model folder is not a folder inside the job folder."""


def read_failure(path: Path) -> str | None:
    """The start of ``output/failure`` (None if there is none), without following a symlink or blocking on a FIFO."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "output/failure is a symbolic link (not read)"
        return f"output/failure cannot be read: {exc.strerror}"
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "output/failure is not a regular file (not read)"
        return handle.read(FAILURE_READ_LIMIT).decode("utf-8", errors="replace")


class _StoppableReader:
    """A file object for tarfile that checks ``should_stop`` between chunks."""

    def __init__(self, handle: BinaryIO, should_stop: Callable[[], str | None]) -> None:
        self._handle = handle
        self._should_stop = should_stop

    def read(self, size: int = -1) -> bytes:
        reason = self._should_stop()
        if reason:
            raise PackagingStopped(reason)
        return self._handle.read(size)


def _inside(link: Path, target: str, top: Path) -> bool:
    resolved = Path(os.path.normpath(link.parent / target))
    return resolved == top or top in resolved.parents


def package(model_dir: Path, archive: Path, should_stop: Callable[[], str | None]) -> list[str]:
    """Write ``archive`` (atomically) from the contents of ``model_dir``; returns what was left out.

    Raises ``ModelFolderError`` if ``model_dir`` is a symlink or not a folder,
    ``PackagingStopped`` when ``should_stop`` gives a reason (no archive then).
    """
    info = os.lstat(model_dir) if os.path.lexists(model_dir) else None
    if info is None:  # removed by the job: an empty model, as SageMaker would upload
        model_dir.mkdir()
        info = os.lstat(model_dir)
    if stat.S_ISLNK(info.st_mode):
        raise ModelFolderError(f"the model folder (/opt/ml/model) was replaced by a symbolic link (to {os.readlink(model_dir)}); nothing was packaged")
    if not stat.S_ISDIR(info.st_mode):
        raise ModelFolderError("the model folder (/opt/ml/model) was replaced by a file; nothing was packaged")
    top = Path(os.path.abspath(model_dir))
    partial = archive.with_name(archive.name + ".partial")
    left_out: list[str] = []
    try:
        with tarfile.open(partial, "w:gz", compresslevel=GZIP_LEVEL) as tar:
            todo = [top]
            while todo:
                folder = todo.pop()
                with os.scandir(folder) as entries:
                    listed = sorted(entries, key=lambda e: e.name)
                for entry in listed:
                    path = Path(entry.path)
                    name = str(path.relative_to(top))
                    reason = should_stop()
                    if reason:
                        raise PackagingStopped(reason)
                    mode = entry.stat(follow_symlinks=False).st_mode
                    if stat.S_ISDIR(mode):
                        tar.addfile(tar.gettarinfo(str(path), arcname=name))
                        todo.append(path)
                    elif stat.S_ISLNK(mode):
                        target = os.readlink(path)
                        if _inside(path, target, top):
                            tar.addfile(tar.gettarinfo(str(path), arcname=name))
                        else:
                            left_out.append(f"{name} (a link to {target}, outside the model folder)")
                    elif stat.S_ISREG(mode):
                        _add_file(tar, path, name, should_stop, left_out)
                    else:
                        left_out.append(f"{name} (not a regular file)")
        partial.replace(archive)
    finally:
        partial.unlink(missing_ok=True)
    return left_out


def _add_file(tar: tarfile.TarFile, path: Path, name: str, should_stop: Callable[[], str | None], left_out: list[str]) -> None:
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:  # replaced by a link since it was listed, or unreadable
        left_out.append(f"{name} ({exc.strerror})")
        return
    with os.fdopen(fd, "rb") as handle:
        info = tar.gettarinfo(arcname=name, fileobj=handle)
        if not info.isreg():
            left_out.append(f"{name} (not a regular file)")
            return
        tar.addfile(info, _StoppableReader(handle, should_stop))  # type: ignore[arg-type]
