"""The checked kinds of option values: ranges, choices, paths and custom checks.

The command line is only split (``command.Command.split``); each value is converted here, so that
a bad one is refused with the wording users and scripts know from before
(``Invalid value for '--runs': 0 is not in the range 1<=x<=1000.``). A
conversion raises ``ValueError`` with the reason; the command names the option.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # `typing` is not imported at run time: it costs every command ~3 ms
if TYPE_CHECKING:
    from typing import Any, Callable


class Text:
    """Any string (the default)."""

    metavar = "TEXT"
    choices: tuple[str, ...] | None = None

    def convert(self, text: str) -> Any:
        return text

    def describe(self) -> str:
        """What the help adds in brackets (a range), if anything."""
        return ""


class _Range(Text):
    number: Callable[[str], Any] = int
    kind = "integer"

    def __init__(self, low: int | float, high: int | float) -> None:
        self.low, self.high = low, high

    def convert(self, text: str) -> Any:
        try:
            value = self.number(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a valid {self.kind} range.") from None
        if not self.low <= value <= self.high:
            raise ValueError(f"{value} is not in the range {self.describe()}.")
        return value

    def describe(self) -> str:
        return f"{self.low}<=x<={self.high}"


class IntRange(_Range):
    metavar = "INTEGER RANGE"


class FloatRange(_Range):
    metavar = "FLOAT RANGE"
    number = float
    kind = "float"


class Choice(Text):
    def __init__(self, choices: tuple[str, ...]) -> None:
        self.choices = tuple(choices)
        self.metavar = "[" + "|".join(self.choices) + "]"

    def convert(self, text: str) -> Any:
        if text not in self.choices:
            listed = ", ".join(repr(c) for c in self.choices)
            raise ValueError(f"{text!r} is not one of {listed}.")
        return text


class Path(Text):
    """A path, refused when it must exist and does not, or is a file where a folder goes (or the reverse)."""

    def __init__(self, exists: bool = False, file_okay: bool = True, dir_okay: bool = True) -> None:
        self.exists, self.file_okay, self.dir_okay = exists, file_okay, dir_okay
        self.metavar = "FILE" if not dir_okay else "DIRECTORY" if not file_okay else "PATH"

    def convert(self, text: str) -> Any:
        what = self.metavar.title()
        if not os.path.exists(text):
            if self.exists:
                raise ValueError(f"{what} {text!r} does not exist.")
            return text
        if not self.file_okay and os.path.isfile(text):
            raise ValueError(f"{what} {text!r} is a file.")
        if not self.dir_okay and os.path.isdir(text):
            raise ValueError(f"{what} {text!r} is a directory.")
        return text


class Checked(Text):
    """A string passed through ``check`` (which raises ``ValueError`` with the reason, or returns the value)."""

    def __init__(self, check: Callable[[str], Any], metavar: str = "TEXT") -> None:
        self.check, self.metavar = check, metavar

    def convert(self, text: str) -> Any:
        return self.check(text)


TEXT = Text()
