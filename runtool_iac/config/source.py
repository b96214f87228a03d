"""Reading YAML into plain dicts and lists that remember where each value came from.

PyYAML's constructors throw positions away, so we compose the node graph
ourselves and build ``SourceMap``/``SourceList`` containers (ordinary dict/list
subclasses, so everything downstream can treat them as JSON data) that keep the
location of every key and value. Limits on file size, node count (alias bombs)
and nesting depth turn hostile input into a ``ConfigError`` instead of a hang,
a ``RecursionError`` or an out-of-memory kill.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import yaml

from runtool_iac.errors import ConfigError, Location, Problem

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_NODES = 1_000_000
MAX_DEPTH = 100


class SourceMap(dict):
    """A mapping plus the location of itself, of each key and of each value."""

    __slots__ = ("loc", "key_locs", "value_locs")

    def __init__(self, *args: Any, loc: Location | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loc = loc
        self.key_locs: dict[str, Location] = {}
        self.value_locs: dict[str, Location] = {}

    def child_loc(self, key: str) -> Location | None:
        return self.value_locs.get(key) or self.key_locs.get(key) or self.loc

    def set(self, key: str, value: Any, loc: Location | None, key_loc: Location | None = None) -> None:
        self[key] = value
        if loc is not None:
            self.value_locs[key] = loc
        if key_loc is not None:
            self.key_locs[key] = key_loc


class SourceList(list):
    """A sequence plus the location of itself and of each item."""

    __slots__ = ("loc", "item_locs")

    def __init__(self, *args: Any, loc: Location | None = None) -> None:
        super().__init__(*args)
        self.loc = loc
        self.item_locs: list[Location | None] = [None] * len(self)

    def child_loc(self, index: int) -> Location | None:
        if 0 <= index < len(self.item_locs) and self.item_locs[index] is not None:
            return self.item_locs[index]
        return self.loc

    def add(self, value: Any, loc: Location | None) -> None:
        self.append(value)
        self.item_locs.append(loc)


def to_plain(value: Any) -> Any:
    """Plain dicts and lists (no locations): for values leaving the config layer."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value


def loc_of(value: Any) -> Location | None:
    return getattr(value, "loc", None)


def child_loc(container: Any, key: Any) -> Location | None:
    if isinstance(container, (SourceMap, SourceList)):
        return container.child_loc(key)
    return None


def location_at(root: Any, path: tuple, fallback: Location | None = None) -> Location | None:
    """Location of the value at ``path`` below ``root`` (nearest known ancestor if needed)."""
    best = loc_of(root) or fallback
    node = root
    for key in path:
        here = child_loc(node, key)
        if here is not None:
            best = here
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
    return best


# libyaml's parser (when PyYAML was built with it) is ~5x faster and keeps marks.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _mark(file: str, node: yaml.Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, file: str, loader: yaml.SafeLoader) -> None:
        self.file = file
        self.loader = loader
        self.count = 0
        self.problems: list[Problem] = []

    def build(self, node: yaml.Node, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise ConfigError(
                f"document expands to more than {MAX_NODES:,} values "
                "(is it a YAML alias bomb?)",
                location=_mark(self.file, node),
            )
        if depth > MAX_DEPTH:
            raise ConfigError(
                f"values are nested more than {MAX_DEPTH} levels deep",
                location=_mark(self.file, node),
            )
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, depth)
        if isinstance(node, yaml.SequenceNode):
            out = SourceList(loc=_mark(self.file, node))
            for item in node.value:
                out.add(self.build(item, depth + 1), _mark(self.file, item))
            return out
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise ConfigError(_yaml_message(exc), location=_mark(self.file, node)) from None
        if isinstance(value, (datetime.date, datetime.datetime)):
            return value.isoformat()
        if isinstance(value, bytes):
            raise ConfigError("binary values are not supported", location=_mark(self.file, node))
        return value

    def _key(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise ConfigError("mapping keys must be plain strings", location=_mark(self.file, node))
        # The raw text, so `on:`/`1:` stay the strings the user wrote.
        return str(node.value)

    def _mapping(self, node: yaml.MappingNode, depth: int) -> SourceMap:
        out = SourceMap(loc=_mark(self.file, node))
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merges.append(value_node)
                continue
            key = self._key(key_node)
            if key in out:
                first = out.key_locs[key]
                # Keep reading: every duplicate in the file is reported at once.
                self.problems.append(
                    Problem(f"duplicate key '{key}' (first defined at line {first.line})", _mark(self.file, key_node))
                )
                continue
            out.set(key, self.build(value_node, depth + 1), _mark(self.file, value_node), _mark(self.file, key_node))
        for merge in merges:  # YAML merge keys: explicit keys win
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in sources:
                built = self.build(source, depth + 1)
                if not isinstance(built, SourceMap):
                    raise ConfigError("'<<' merges only mappings", location=_mark(self.file, source))
                for key, value in built.items():
                    if key not in out:
                        out.set(key, value, built.child_loc(key), built.key_locs.get(key))
        return out


def _yaml_message(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    text = f"{context}, {problem}" if context else problem
    return f"invalid YAML: {text}"


def parse_yaml(text: str, file: str, soft: list[Problem] | None = None) -> Any:
    """Parse one YAML document into Source containers; errors carry the position.

    Problems that leave a usable document (duplicate keys: the first wins) are
    appended to ``soft`` when given, so the caller can report them together
    with everything else; otherwise they are raised.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise ConfigError(f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB", location=Location(file, 1, 1))
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return SourceMap(loc=Location(file, 1, 1))
        builder = _Builder(file, loader)
        built = builder.build(node)
        if builder.problems:
            if soft is None:
                raise ConfigError(problems=builder.problems)
            soft.extend(builder.problems)
        return built
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
        raise ConfigError(_yaml_message(exc), location=loc) from None
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_message(exc), location=Location(file, 1, 1)) from None
    except RecursionError:
        raise ConfigError(
            f"values are nested more than {MAX_DEPTH} levels deep", location=Location(file, 1, 1)
        ) from None
    finally:
        loader.dispose()


def read_yaml_file(path: str | Path, soft: list[Problem] | None = None) -> Any:
    path = Path(path)
    name = str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ConfigError("file not found", location=Location(name, 1, 1)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", location=Location(name, 1, 1)) from None
    if size > MAX_FILE_BYTES:
        raise ConfigError(f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB", location=Location(name, 1, 1))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"file is not UTF-8 text ({exc.reason})", location=Location(name, 1, 1)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", location=Location(name, 1, 1)) from None
    return parse_yaml(text, name, soft)
