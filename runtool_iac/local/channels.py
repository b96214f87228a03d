"""Where each channel's data comes from on this machine.

A channel URI is resolved once per run, before any job starts, so a missing
folder or an unreachable bucket is reported up front (one line per problem)
instead of as 27 failed jobs:

- ``file://`` URIs and plain paths (relative to the project root) are used as they are;
- ``s3://`` URIs are first mapped through ``local.data`` in runtool.yml
  (the longest matching prefix wins, matching whole path segments);
- any other ``s3://`` URI is downloaded with boto3 into the run's cache, but
  only when AWS credentials exist: without them the error says which channel
  needs which mapping.

An S3 URI denotes a folder (every object below it) or one object, and so does
its local counterpart: a folder's entries, or the one file, appear in
``input/data/<channel>/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping
from urllib.parse import urlparse
from urllib.request import url2pathname

from runtool_iac.local.errors import LocalModeError
from runtool_iac.plan import Job

PROJECT_HINT = "runtool.yml"


@dataclass
class DataSources:
    """Resolves channel URIs to local files; ``mapping`` is ``local.data`` (prefix -> folder)."""

    mapping: Mapping[str, Path]
    base: Path
    cache: Path
    _resolved: dict[str, Path] = field(default_factory=dict)

    def resolve_jobs(self, jobs: Iterable[Job]) -> dict[str, dict[str, Path]]:
        """job name -> channel -> local source, for every job; all problems at once (one per URI)."""
        sources: dict[str, dict[str, Path]] = {}
        failed: dict[str, list[str]] = {}
        for job in jobs:
            found = sources[job.name] = {}
            for channel in job.request.get("InputDataConfig", []):
                name = channel["ChannelName"]
                uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
                if uri in failed:
                    continue
                try:
                    found[name] = self.resolve(uri)
                except LocalModeError as exc:
                    failed[uri] = [f"channel '{name}' of job {job.name}: {p}" for p in exc.problems]
        if failed:
            raise LocalModeError([p for problems in failed.values() for p in problems])
        return sources

    def resolve(self, uri: str) -> Path:
        if uri not in self._resolved:
            self._resolved[uri] = self._resolve(uri)
        return self._resolved[uri]

    def _resolve(self, uri: str) -> Path:
        if uri.startswith("s3://"):
            return self._s3(uri)
        parsed = urlparse(uri)
        path = Path(url2pathname(parsed.path)) if parsed.scheme == "file" else self.base / uri
        if not path.exists():
            raise LocalModeError(f"{uri}: no such file or folder")
        return path

    def _s3(self, uri: str) -> Path:
        mapped = map_s3(uri, self.mapping)
        if mapped is not None:
            prefix, path = mapped
            if not path.exists():
                raise LocalModeError(f"{uri} maps (local.data '{prefix}') to {path}, which does not exist")
            return path
        if not has_credentials():
            raise LocalModeError(
                f"{uri} is not mapped by local.data in {PROJECT_HINT} and no AWS credentials were found to download it;"
                f" add '{uri.rstrip('/')}: <local folder>' under local.data in {PROJECT_HINT}"
            )
        return download(uri, self.cache)


def map_s3(uri: str, mapping: Mapping[str, Path]) -> tuple[str, Path] | None:
    """The longest ``mapping`` prefix covering ``uri`` (whole path segments) and the mapped path."""
    stripped = uri.rstrip("/")
    best = None
    for prefix in mapping:
        bare = prefix.rstrip("/")
        if (stripped == bare or stripped.startswith(bare + "/")) and (best is None or len(bare) > len(best)):
            best = bare
    if best is None:
        return None
    folder = next(Path(folder) for prefix, folder in mapping.items() if prefix.rstrip("/") == best)
    rest = stripped[len(best):].lstrip("/")
    return best, (folder / rest if rest else folder)


def has_credentials() -> bool:
    import boto3

    return boto3.Session().get_credentials() is not None


def download(uri: str, cache: Path) -> Path:
    """Copy the objects of ``uri`` (a folder prefix or one key) to ``cache/<bucket>/<key>``."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, key = uri[len("s3://"):].partition("/")
    prefix = key.rstrip("/")
    target = cache / bucket / prefix
    try:
        s3 = boto3.Session().client("s3")
        found = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                name = item["Key"]
                inside = not prefix or name == prefix or name.startswith(prefix + "/")
                if inside and not name.endswith("/"):
                    destination = cache / bucket / name
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    s3.download_file(bucket, name, str(destination))
                    found += 1
    except (BotoCoreError, ClientError, OSError) as exc:
        raise LocalModeError(f"cannot download {uri}: {exc}") from None
    if not found:
        raise LocalModeError(f"no objects under {uri}")
    return target


def stage(source: Path, channel_dir: Path) -> None:
    """Fill ``input/data/<channel>/`` with symlinks to the source's files (nothing is copied)."""
    channel_dir.mkdir(parents=True, exist_ok=True)
    entries = sorted(source.iterdir()) if source.is_dir() else [source]
    for entry in entries:
        (channel_dir / entry.name).symlink_to(entry.resolve())
