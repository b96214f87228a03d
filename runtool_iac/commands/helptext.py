"""``--help`` pages laid out as they were under click, so docs/cli.md and users' habits stay.

Paragraphs of a command's docstring are rewrapped to the terminal width; a
paragraph that starts with a ``\\b`` line (the examples) is kept line by line.
Options are a two-column list with defaults and ranges in brackets. Imported
only to show help (``textwrap`` is not needed to run a command).
"""

from __future__ import annotations

import textwrap
from typing import Iterable

MAX_WIDTH = 100  # what the help is wrapped to at most, however wide the terminal
NO_REWRAP = "\b"
HELP_ROW = ("-h, --help", "Show this message and exit.")  # the last option of every help page


def terminal_width() -> int:
    """The width help is wrapped to: the terminal's, at most ``MAX_WIDTH``, at least 50."""
    import shutil

    return max(min(shutil.get_terminal_size().columns, MAX_WIDTH) - 2, 50)


def cleandoc(doc: str | None) -> str:
    """A docstring without its indentation and surrounding blank lines (as ``inspect.cleandoc``, without inspect)."""
    if not doc:
        return ""
    first, _, rest = doc.expandtabs().partition("\n")
    return (first.strip() + "\n" + textwrap.dedent(rest)).strip("\n")


def wrap(text: str, width: int, indent: str = "") -> str:
    """Rewrap each paragraph of ``text``, keeping the lines of ``\\b`` paragraphs and each paragraph's indentation."""
    paragraphs: list[tuple[int, bool, list[str]]] = []
    for block in text.expandtabs().split("\n\n"):
        lines = [line for line in block.splitlines() if line]
        if not lines:
            continue
        depth = len(lines[0]) - len(lines[0].lstrip())
        if lines[0].strip() == NO_REWRAP:
            paragraphs.append((depth, True, lines[1:]))
        else:
            paragraphs.append((depth, False, [line.strip() for line in lines]))
    out = []
    for depth, raw, lines in paragraphs:
        prefix = indent + " " * depth
        if raw:
            out.append("\n".join(prefix + line for line in lines))
        else:
            wrapper = textwrap.TextWrapper(width, initial_indent=prefix, subsequent_indent=prefix, replace_whitespace=False)
            out.append(wrapper.fill(" ".join(lines)))
    return "\n\n".join(out)


def short_help(doc: str | None, limit: int) -> str:
    """The first sentence of a docstring, shortened to ``limit`` characters (the command list)."""
    words = cleandoc(doc).partition("\n\n")[0].split()
    if words and words[0] == NO_REWRAP:
        words = words[1:]
    for i, word in enumerate(words):
        if word.endswith(".") and (i == len(words) - 1 or not words[i + 1][0].islower()):
            words = words[: i + 1]
            break
    text = " ".join(words)
    if len(text) <= limit:
        return text
    return textwrap.shorten(text, limit, placeholder="...", break_on_hyphens=False)


def usage(prog: str, pieces: str, width: int) -> str:
    """``Usage: PROG [OPTIONS] ARGS`` (wrapped under itself when long)."""
    prefix = f"Usage: {prog} "
    if not pieces:
        return prefix.rstrip() + "\n"
    if width >= len(prefix) + 20:
        return textwrap.fill(pieces, width, initial_indent=prefix, subsequent_indent=" " * len(prefix)) + "\n"
    indent = " " * (len("Usage: ") + 4)
    return prefix + "\n" + textwrap.fill(pieces, width, initial_indent=indent, subsequent_indent=indent) + "\n"


def definitions(rows: Iterable[tuple[str, str]], width: int, indent: int = 2, col_max: int = 30) -> str:
    """Two columns: a term (``-e, --experiment TEXT``) and its wrapped description."""
    rows = list(rows)
    first = min(max((len(term) for term, _ in rows), default=0), col_max) + 2
    out = []
    for term, text in rows:
        line = " " * indent + term
        if not text:
            out.append(line)
            continue
        if len(term) <= first - 2:
            line += " " * (first - len(term))
        else:
            out.append(line)
            line = " " * (first + indent)
        lines = wrap(text, max(width - first - 2, 10)).splitlines() or [""]
        out.append(line + lines[0])
        out += [" " * (first + indent) + rest for rest in lines[1:]]
    return "\n".join(out) + "\n"


def page(usage_line: str, doc: str | None, sections: list[tuple[str, list[tuple[str, str]]]], width: int) -> str:
    """A whole help page: usage, the docstring, then each non-empty section (``Options:``, ``Commands:``)."""
    parts = [usage_line]
    text = cleandoc(doc)
    if text:
        parts.append("\n" + wrap(text, width, indent="  ") + "\n")
    for title, rows in sections:
        if rows:
            parts.append(f"\n{title}:\n" + definitions(rows, width))
    return "".join(parts)
