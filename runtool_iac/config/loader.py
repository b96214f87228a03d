"""``load_config``: files → validated, resolved, typed top-level nodes.

Pipeline: parse (with locations) → raw-file schema (directive syntax) →
resolve directives per top-level node → infer kinds from shape → validate
each algorithm/dataset variant against its schema. Every problem found along
the way is collected and raised together as one ``ConfigError``.
"""

from __future__ import annotations

from pathlib import Path

from runtool_iac.config import labels, schema
from runtool_iac.config.nodes import (
    Algorithm,
    Algorithms,
    Dataset,
    Datasets,
    Experiment,
    Experiments,
    Member,
    incomplete_kind,
)
from runtool_iac.config.resolve import (
    MAX_REFERENCE_DEPTH,
    Deferred,
    Resolver,
    _structural,
    format_path,
    parse_path,
)
from runtool_iac.config.source import SourceList, SourceMap, parse_yaml, read_yaml_file
from runtool_iac.errors import ConfigError, Location, Problem, did_you_mean
from runtool_iac.limits import DEFAULT_LIMITS, Limits

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

NodeValue = Algorithm | Algorithms | Dataset | Datasets | Experiment | Experiments


def infer_kind(value: Any) -> str | None:
    """Kind of a resolved value from its shape, as in the original runtool: only
    ``image`` and ``instance`` together make an algorithm, so a mapping with one
    of them is a plain value (e.g. a ``$from`` template)."""
    if not isinstance(value, dict):
        return None
    kinds = []
    if "image" in value and "instance" in value:
        kinds.append("algorithm")
    if "path" in value:
        kinds.append("dataset")
    if "algorithm" in value and "dataset" in value:
        kinds.append("experiment")
    if len(kinds) > 1:
        raise ValueError(f"has keys of both {' and '.join(kinds)}")
    return kinds[0] if kinds else None


class Config:
    """The loaded config: top-level nodes by attribute (``config.algo``) or item (``config["my-algo"]``)."""

    def __init__(self, files: list[str], root: SourceMap, nodes: dict[str, Any]) -> None:
        self.files = files
        self._root = root
        self._nodes = nodes

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._nodes[name]
        except KeyError:
            raise AttributeError(f"no top-level node '{name}' in the config{did_you_mean(name, self._nodes)}") from None

    def __getitem__(self, name: str) -> Any:
        try:
            return self._nodes[name]
        except KeyError:
            raise KeyError(f"no top-level node '{name}' in the config{did_you_mean(name, self._nodes)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._nodes

    def __iter__(self) -> Iterator[str]:
        return iter(self._nodes)

    def keys(self) -> list[str]:
        return list(self._nodes)

    def location(self, name: str) -> Location | None:
        return self._root.key_locs.get(name)

    def __repr__(self) -> str:
        return f"Config({', '.join(self._nodes)})"


def load_config(*paths: str | Path, limits: Limits = DEFAULT_LIMITS) -> Config:
    """Load one or more YAML config files (later files may reference earlier ones)."""
    if not paths:
        raise ConfigError("no config files given")
    documents = []
    soft: list[Problem] = []
    errors: list[ConfigError] = []
    for path in paths:
        try:
            documents.append((str(path), read_yaml_file(path, soft)))
        except ConfigError as exc:
            errors.append(exc)
    if errors:
        raise ConfigError(problems=soft + [p for e in errors for p in e.problems])
    return _build(documents, soft, limits)


def loads(text: str, name: str = "<string>", limits: Limits = DEFAULT_LIMITS) -> Config:
    """Load a config from YAML text (for tests, notebooks and docs)."""
    soft: list[Problem] = []
    return _build([(name, parse_yaml(text, name, soft))], soft, limits)


def _build(documents: list[tuple[str, Any]], soft: list[Problem], limits: Limits = DEFAULT_LIMITS) -> Config:
    root = SourceMap(loc=None)
    problems = list(soft)
    for file, document in documents:
        if not isinstance(document, SourceMap):
            raise ConfigError("a config file must be a mapping of top-level names", location=Location(file, 1, 1))
        problems.extend(_syntax_problems(document, Location(file, 1, 1)))
        for name, value in document.items():
            if name in root:
                first = root.key_locs[name]
                problems.append(
                    ConfigError(
                        f"'{name}' is already defined at {first}", location=document.key_locs[name], path=name
                    ).problems[0]
                )
                continue
            if "[" in name or "]" in name:
                # Paths (`$ref: a.b[0]`, error paths) index lists with brackets.
                problems.append(
                    Problem(f"top-level name {name!r} may not contain '[' or ']'", document.key_locs.get(name), None)
                )
                continue
            root.set(name, value, document.child_loc(name), document.key_locs.get(name))
    # Directive-syntax problems do not stop resolution: every other problem
    # is reported in the same run (the same problem found twice is shown once).
    try:
        config = _Builder(root, limits).build([f for f, _ in documents])
    except ConfigError as exc:
        raise ConfigError(problems=problems + exc.problems) from None
    if problems:
        raise ConfigError(problems=problems)
    return config


def _syntax_problems(document: SourceMap, fallback: Location) -> list[Problem]:
    """Directive syntax (config.schema.json), checked only where it can fail.

    The raw-file schema constrains keys that start with '$' (or are empty) and
    what they hold; a subtree without such keys is valid by construction. So
    only mappings holding one are validated, each with the schema's ``value``
    definition at its own path: a 1M-item list of numbers costs one walk, not
    a million jsonschema descents.
    """
    found = []
    for key in document:  # the schema's propertyNames, without a jsonschema descent per name
        if not key or key.startswith("$"):
            message = "empty key: give it a name" if not key else (
                f"'{key}' is not a directive here: a top-level name may not start with '$'"
            )
            found.append(Problem(message, document.key_locs.get(key, fallback), key or None))
    stack: list[tuple[Any, tuple]] = [(value, (key,)) for key, value in reversed(document.items())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            if any(not key or key.startswith("$") for key in node):
                found += schema.problems(
                    "config.schema.json", node, base_path=path, fallback=fallback, pointer="/$defs/value"
                )
                continue
            stack.extend((value, path + (key,)) for key, value in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((value, path + (i,)) for i, value in reversed(list(enumerate(node))))
    return found


class _Builder:
    def __init__(self, root: SourceMap, limits: Limits = DEFAULT_LIMITS) -> None:
        self.root = root
        self.resolver = Resolver(root, limits)
        self._active: list[tuple] = []

    def build(self, files: list[str]) -> Config:
        nodes: dict[str, Any] = {}
        errors: list[ConfigError] = []
        for name in self.root:
            try:
                nodes[name] = self.node(name)
            except ConfigError as exc:
                errors.append(exc)
        validated: set[int] = set()
        for value in nodes.values():
            for member in _members_of(value):
                if id(member.value) in validated:
                    continue
                validated.add(id(member.value))
                found = schema.problems(
                    f"{member.kind}.schema.json",
                    member.value,
                    base_path=parse_path(member.path),
                    fallback=self.root.key_locs.get(parse_path(member.path)[0]),
                    skip=Deferred,
                )
                if found:
                    errors.append(ConfigError(problems=found))
        if self.resolver.problems:
            errors.append(ConfigError(problems=self.resolver.problems))
        if errors:
            raise ConfigError.collect(errors)
        return Config(files, self.root, nodes)

    def node(self, name: str) -> Any:
        kind, content = self.classify(self.root[name], (name,), name)
        if kind == "value":
            if len(content) == 1:
                return content[0]
            return list(content)
        if kind == "experiment":
            experiments = content
            if isinstance(self.root[name], SourceList) or len(experiments) != 1:
                return Experiments(experiments, name=name)
            only = experiments[0]
            return Experiment(only.algorithms, only.datasets, name=name)
        is_list = isinstance(self.root[name], SourceList)
        cls = {
            ("algorithm", False): Algorithm,
            ("algorithm", True): Algorithms,
            ("dataset", False): Dataset,
            ("dataset", True): Datasets,
        }[(kind, is_list)]
        return cls(content, name=name)

    def classify(self, raw: Any, path: tuple, name: str) -> tuple[str, list[Any]]:
        """("algorithm"|"dataset"|"experiment", members) or ("value", variants)."""
        where = format_path(path)
        if isinstance(raw, SourceList) and not any(isinstance(item, (dict, list)) for item in raw):
            return "value", self.resolver.variants_at(path, raw, raw.loc, where)  # scalars only: no nodes inside
        if isinstance(raw, SourceList):
            parts, errors = [], []
            for i, item in enumerate(raw):  # every item's problems, not only the first's
                try:
                    parts.append(self.classify(item, path + (i,), self._item_name(item, name, i)))
                except ConfigError as exc:
                    errors.append(exc)
            if errors:
                raise ConfigError.collect(errors)
            kinds = {k for k, _ in parts}
            if not parts or kinds == {"value"}:
                return "value", self.resolver.variants_at(path, raw, raw.loc, where)
            if len(kinds) > 1:
                hints = [
                    f"; item {i} {lacking}"
                    for i, (kind, variants) in enumerate(parts)
                    if kind == "value" and (lacking := next(filter(None, map(incomplete_kind, variants)), None))
                ]
                raise ConfigError(
                    f"list mixes {' and '.join(sorted(k + 's' for k in kinds))}; a list holds one kind of node"
                    + "".join(hints),
                    location=raw.loc,
                    path=where,
                )
            return kinds.pop(), [m for _, members in parts for m in members]
        if isinstance(raw, SourceMap) and list(raw) == ["$ref"] and isinstance(raw["$ref"], str):
            target = self._raw_target(raw["$ref"])
            if target is not None:
                target_path, target_raw = target
                if len(self._active) >= MAX_REFERENCE_DEPTH:
                    raise ConfigError(
                        f"references are nested more than {MAX_REFERENCE_DEPTH} levels deep",
                        location=raw.child_loc("$ref"),
                        path=where,
                    )
                if target_path in self._active:
                    cycle = self._active[self._active.index(target_path):] + [target_path]
                    raise ConfigError(
                        "reference cycle: " + " -> ".join(format_path(p) for p in cycle),
                        location=raw.child_loc("$ref"),
                        path=where,
                    )
                self._active.append(target_path)
                try:
                    return self.classify(target_raw, target_path, str(target_path[-1]))
                finally:
                    self._active.pop()
        if isinstance(raw, SourceMap) and not _structural(raw) and "algorithm" in raw and "dataset" in raw:
            return "experiment", [self._experiment(raw, path)]
        variants = self.resolver.variants_at(path, raw, getattr(raw, "loc", None), where)
        kinds = set()
        for variant in variants:
            try:
                kinds.add(infer_kind(variant))
            except ValueError as exc:
                raise ConfigError(f"cannot tell the kind of node: it {exc}", location=getattr(raw, "loc", None), path=where) from None
        if kinds == {None}:
            return "value", variants
        if len(kinds) > 1:
            raise ConfigError(
                "variants of this node are of different kinds ("
                + ", ".join(sorted(k or "plain value" for k in kinds))
                + ")",
                location=getattr(raw, "loc", None),
                path=where,
            )
        kind = kinds.pop()
        if kind == "experiment":
            # An experiment built through $from/$each: pair its resolved fields.
            return "experiment", [self._experiment_from_variant(v, path) for v in variants]
        return kind, _label(kind, name, where, variants)

    def _item_name(self, item: Any, list_name: str, index: int) -> str:
        if isinstance(item, SourceMap) and list(item) == ["$ref"] and isinstance(item["$ref"], str):
            try:
                return str(parse_path(item["$ref"])[-1])
            except ValueError:
                pass
        return f"{list_name}-{index}"

    def _raw_target(self, text: str) -> tuple[tuple, Any] | None:
        """The raw node a ``$ref`` names, if reachable without resolving directives."""
        try:
            path = parse_path(text)
        except ValueError:
            return None
        node: Any = self.root
        for key in path:
            if isinstance(node, SourceMap) and not _structural(node) and key in node:
                node = node[key]
            elif isinstance(node, SourceList) and isinstance(key, int) and 0 <= key < len(node):
                node = node[key]
            else:
                return None
        return path, node

    def _experiment(self, raw: SourceMap, path: tuple) -> Experiment:
        sides = {}
        for side in ("algorithm", "dataset"):
            kind, members = self.classify(raw[side], path + (side,), f"{path[-1]}-{side}")
            if kind != side:
                found = "plain value" if kind == "value" else kind
                lacking = next(filter(None, map(incomplete_kind, members)), None) if kind == "value" else None
                raise ConfigError(
                    f"expected {side}(s) here, found a {found}" + (f": it {lacking}" if lacking else ""),
                    location=raw.child_loc(side),
                    path=format_path(path + (side,)),
                )
            sides[side] = members
        return Experiment(tuple(sides["algorithm"]), tuple(sides["dataset"]), name=format_path(path))

    def _experiment_from_variant(self, variant: Any, path: tuple) -> Experiment:
        sides = {}
        for side in ("algorithm", "dataset"):
            values = variant[side] if isinstance(variant[side], list) else [variant[side]]
            members = []
            for i, value in enumerate(values):
                if infer_kind(value) != side:
                    raise ConfigError(
                        f"expected {side}(s) here", location=getattr(variant, "loc", None), path=format_path(path + (side,))
                    )
                members.extend(_label(side, f"{path[-1]}-{side}-{i}", format_path(path + (side,)), [value]))
            sides[side] = members
        return Experiment(tuple(sides["algorithm"]), tuple(sides["dataset"]), name=format_path(path))


def _members_of(value: Any) -> list[Member]:
    if isinstance(value, Experiment):
        return list(value.algorithms) + list(value.datasets)
    if isinstance(value, (Algorithm, Algorithms, Dataset, Datasets)):
        return list(value.members)
    return []


def _label(kind: str, name: str, where: str, variants: list[Any]) -> list[Member]:
    """Members for a node's variants, labelled by what distinguishes them (at plan
    time, labels are rebuilt from the trial's resolved values: ``plan._Labels``)."""
    out = []
    varying = labels.axes(variants)
    for variant in variants:
        own = variant.get("name") if isinstance(variant, dict) else None
        base = own if isinstance(own, str) and own else name
        out.append(
            Member(kind=kind, name=base, label=labels.label(base, varying, variant), value=variant, path=where, axes=varying)
        )
    return out
