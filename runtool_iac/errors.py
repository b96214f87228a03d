"""One error family for everything a user can get wrong in a config.

Every problem carries where it is (file, line, column) and which config value
it concerns (a dotted path such as ``my_algo.hyperparameters.lr``), so the CLI
can print ``file:line:col: path: message`` lines that editors and CI annotate.
A single ``ConfigError`` may carry many problems: validation reports all of
them, not only the first.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up)

from runtool_iac.records import Record

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


class Location(Record):
    """A position in a config file; line and column are 1-based."""

    __slots__ = ("file", "line", "column")

    def __init__(self, file: str, line: int, column: int) -> None:
        self.file, self.line, self.column = file, line, column

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class Problem(Record):
    __slots__ = ("message", "location", "path")

    def __init__(self, message: str, location: Location | None = None, path: str | None = None) -> None:
        self.message, self.location, self.path = message, location, path

    def __str__(self) -> str:
        parts = []
        parts.append(str(self.location) if self.location else "<config>")
        if self.path:
            parts.append(self.path)
        parts.append(self.message)
        return one_line(": ".join(parts))

    def sort_key(self) -> tuple:
        loc = self.location
        return (
            (loc.file, loc.line, loc.column) if loc else ("", 0, 0),
            self.path or "",
            self.message,
        )


# What str.splitlines() breaks at: a problem must stay one line for editors and CI.
_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


def one_line(text: str) -> str:
    """``text`` with line breaks (from keys, values or file names) escaped."""
    return text.translate(_LINE_BREAKS)


def utf8_problem(text: str) -> str | None:
    """Why ``text`` cannot be written as UTF-8 (it holds a lone surrogate such as '\\ud800'), or None."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"contains {text[exc.start]!r}, a lone surrogate that is not valid UTF-8"
    return None


class ConfigError(Exception):
    """A config (or project file, or experiment expression) is invalid.

    ``problems`` lists every problem found; ``str(error)`` is one
    ``file:line:col: path: message`` line per problem, sorted by position.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        location: Location | None = None,
        path: str | None = None,
        problems: Iterable[Problem] = (),
    ) -> None:
        found = list(problems)
        if message is not None:
            found.insert(0, Problem(message, location, path))
        # Same problem reached twice (e.g. through two $refs) is reported once.
        unique = {(p.message, p.location, p.path): p for p in found}
        self.problems: list[Problem] = sorted(unique.values(), key=Problem.sort_key)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)

    @classmethod
    def collect(cls, errors: Sequence["ConfigError"]) -> "ConfigError":
        return cls(problems=[p for e in errors for p in e.problems])


class ActionError(Exception):
    """A one-line, actionable problem outside the configs (a missing stack, no
    credentials, ...): the CLI prints ``error: <message>`` and exits 1."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A ' (did you mean ...?)' suffix, or '' when nothing is close."""
    import difflib  # only on errors: ~1 ms of start-up otherwise

    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)"
