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
import os
import stat
from pathlib import Path

import yaml

from runtool_iac.errors import ConfigError, Location, Problem, utf8_problem

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_NODES = 1_000_000
# Values built again through `*alias` (beyond the document's own nodes).
MAX_ALIAS_EXPANSION = 100_000
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

_TAG = "tag:yaml.org,2002:"
_COLLECTION_TAGS = (_TAG + "map", _TAG + "seq")
_KINDS = {
    _TAG + "bool": "true/false value",
    _TAG + "int": "integer",
    _TAG + "float": "number",
    _TAG + "timestamp": "date or time",
    _TAG + "null": "null",
}


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


class _Builder:
    def __init__(self, file: str, loader: yaml.SafeLoader) -> None:
        self.file = file
        self.loader = loader
        self.count = 0
        self.seen: set[int] = set()
        self.expanding = 0
        self.expanded = 0
        self.problems: list[Problem] = []

    def loc(self, node: yaml.Node) -> Location:
        mark = node.start_mark
        return Location(self.file, mark.line + 1, mark.column + 1)

    def build(self, node: yaml.Node, loc: Location, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise ConfigError(f"document has more than {MAX_NODES:,} values", location=loc)
        if self.expanding:
            self.expanded += 1
            if self.expanded > MAX_ALIAS_EXPANSION:
                raise ConfigError(
                    f"YAML aliases expand to more than {MAX_ALIAS_EXPANSION:,} copied values "
                    "(is it a YAML alias bomb?)",
                    location=loc,
                )
        if depth > MAX_DEPTH:
            raise ConfigError(f"values are nested more than {MAX_DEPTH} levels deep", location=loc)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, loc)
        if node.tag not in _COLLECTION_TAGS:
            raise ConfigError(f"YAML tag {_short_tag(node.tag)} is not supported here", location=loc)
        # The same node object again is a use of an alias (&anchor ... *anchor).
        again = id(node) in self.seen
        self.seen.add(id(node))
        self.expanding += again
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, loc, depth)
            out = SourceList(loc=loc)
            for item in node.value:
                item_loc = self.loc(item)
                out.add(self.build(item, item_loc, depth + 1), item_loc)
            return out
        finally:
            self.expanding -= again

    def _scalar(self, node: yaml.ScalarNode, loc: Location) -> Any:
        tag = node.tag
        if tag == _TAG + "str":
            value: Any = node.value
        else:
            try:
                # The tag's constructor directly: construct_object's bookkeeping
                # (anchors, recursion) is for collections, which we build ourselves.
                if tag in _KINDS:
                    value = self.loader.yaml_constructors[tag](self.loader, node)
                else:
                    value = self.loader.construct_object(node, deep=True)
            except yaml.YAMLError as exc:
                raise ConfigError(_yaml_message(exc), location=loc) from None
            except (ValueError, TypeError, KeyError, AttributeError, OverflowError, IndexError) as exc:
                # PyYAML's constructors raise what int(), date() or a dict lookup raise
                raise ConfigError(_scalar_message(tag, node.value, exc), location=loc) from None
        if isinstance(value, str):
            problem = utf8_problem(value)
            if problem:
                raise ConfigError(f"text {problem}", location=loc)
        elif isinstance(value, (datetime.date, datetime.datetime)):
            return value.isoformat()
        elif isinstance(value, bytes):
            raise ConfigError("binary values are not supported", location=loc)
        return value

    def _key(self, node: yaml.Node, loc: Location) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise ConfigError("mapping keys must be plain strings", location=loc)
        # The raw text, so `on:`/`1:` stay the strings the user wrote.
        key = str(node.value)
        problem = utf8_problem(key)
        if problem:
            raise ConfigError(f"key {problem}", location=loc)
        return key

    def _mapping(self, node: yaml.MappingNode, loc: Location, depth: int) -> SourceMap:
        out = SourceMap(loc=loc)
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                merges.append(value_node)
                continue
            key_loc = self.loc(key_node)
            key = self._key(key_node, key_loc)
            if key in out:
                first = out.key_locs[key]
                # Keep reading: every duplicate in the file is reported at once.
                self.problems.append(Problem(f"duplicate key '{key}' (first defined at line {first.line})", key_loc))
                continue
            value_loc = self.loc(value_node)
            out.set(key, self.build(value_node, value_loc, depth + 1), value_loc, key_loc)
        for merge in merges:  # YAML merge keys: explicit keys win
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in sources:
                source_loc = self.loc(source)
                built = self.build(source, source_loc, depth + 1)
                if not isinstance(built, SourceMap):
                    raise ConfigError("'<<' merges only mappings", location=source_loc)
                for key, value in built.items():
                    if key not in out:
                        out.set(key, value, built.child_loc(key), built.key_locs.get(key))
        return out


def _scalar_message(tag: str, text: str, exc: Exception) -> str:
    kind = _KINDS.get(tag, f"{_short_tag(tag)} value")
    if tag == _TAG + "int" and "digits" in str(exc):
        digits = sum(c.isdigit() for c in text)
        return f"integer with {digits:,} digits: at most 4,300 are supported (quote it to keep it as text)"
    if tag == _TAG + "bool":
        return f"invalid {kind} {_shown(text)}: expected true/false, yes/no or on/off"
    reason = f" ({exc})" if isinstance(exc, ValueError) and str(exc) and "literal" not in str(exc) else ""
    return f"invalid {kind} {_shown(text)}{reason}; quote it to keep it as text"


def _yaml_message(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    text = f"{context}, {problem}" if context else problem
    return f"invalid YAML: {text}"


def _reader_error(exc: yaml.reader.ReaderError, text: str, file: str) -> ConfigError:
    """A character the YAML reader refuses, at its line and column (libyaml gives a byte offset)."""
    position = exc.position
    if isinstance(exc.character, int) and not text.isascii():
        position = len(text.encode("utf-8", "surrogatepass")[:position].decode("utf-8", "ignore"))
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    what = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
    return ConfigError(
        f"invalid YAML: unacceptable character {what}: {exc.reason}", location=Location(file, line, column)
    )


def parse_yaml(text: str, file: str, soft: list[Problem] | None = None) -> Any:
    """Parse one YAML document into Source containers; errors carry the position.

    Problems that leave a usable document (duplicate keys: the first wins) are
    appended to ``soft`` when given, so the caller can report them together
    with everything else; otherwise they are raised.
    """
    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise ConfigError(f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB", location=Location(file, 1, 1))
    problem = utf8_problem(text)
    if problem:
        index = next(i for i, c in enumerate(text) if "\ud800" <= c <= "\udfff")
        line = text.count("\n", 0, index) + 1
        raise ConfigError(f"file {problem}", location=Location(file, line, index - text.rfind("\n", 0, index)))
    loader = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return SourceMap(loc=Location(file, 1, 1))
        builder = _Builder(file, loader)
        built = builder.build(node, builder.loc(node))
        if builder.problems:
            if soft is None:
                raise ConfigError(problems=builder.problems)
            soft.extend(builder.problems)
        return built
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text, file) from None
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
        if loader is not None:
            loader.dispose()


_SPECIAL_FILES = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_text_file(path: str | Path, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes.

    Opened without blocking and checked with fstat before reading: a FIFO
    would block forever on open, ``/dev/zero`` never ends, and ``st_size`` of
    a device says 0 - so special files are refused, and at most ``limit`` + 1
    bytes are ever read (a file growing while read is still refused).
    """
    name = str(path)
    location = Location(name, 1, 1)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise ConfigError("file not found", location=location) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a file", location=location) from None
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", location=location) from None
    try:
        mode = os.fstat(fd).st_mode
        for test, what in _SPECIAL_FILES:
            if test(mode):
                raise ConfigError(f"is {what}, not a regular file", location=location)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", location=location) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ConfigError(f"file is larger than {limit // (1024 * 1024)} MiB", location=location)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[data.rfind(b"\n", 0, exc.start) + 1 : exc.start].decode("utf-8", "ignore")) + 1
        raise ConfigError(f"file is not UTF-8 text ({exc.reason})", location=Location(name, line, column)) from None


def read_yaml_file(path: str | Path, soft: list[Problem] | None = None) -> Any:
    return parse_yaml(read_text_file(path), str(path), soft)
