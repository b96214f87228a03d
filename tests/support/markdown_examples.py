"""TEST-ONLY: the fenced code blocks of a markdown file and the checks written after them.

Conventions (docs/writing_configs.md explains them to writers too):

- A fenced block is ```` ```lang ```` … ```` ``` ````; its first line may name a
  file: ``# runtool.yml`` or ``# configs/algorithms.yml``.
- An HTML comment on its own line after a block, ``<!-- expect: PYTHON -->``,
  is a check of the nearest block above it: the Python expression must be true.
- ``<!-- error -->`` (loading the block's config fails) or
  ``<!-- error: PYTHON -->`` (evaluating the expression fails) must raise
  ``ConfigError``; the next ```` ```text ```` block holds its exact message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^(?P<fence>`{3,})(?P<lang>[\w+-]*)\s*$")
CHECK = re.compile(r"^<!--\s*(?P<kind>expect|error)(?::\s*(?P<code>.*?))?\s*-->\s*$")
FILE_NAME = re.compile(r"^#\s*(?P<name>[\w./-]+\.(?:ya?ml|py|json))\s*$")


@dataclass
class Check:
    kind: str  # "expect" | "error"
    code: str  # Python expression ("" for a bare error: loading the block fails)
    line: int
    message: str | None = None  # for errors: the text block that follows


@dataclass
class Block:
    lang: str
    text: str
    line: int  # of the opening fence, 1-based
    checks: list[Check] = field(default_factory=list)
    output: "Block | None" = None  # the next ```text block (what a python block prints)

    @property
    def file_name(self) -> str | None:
        first = self.text.splitlines()[0] if self.text else ""
        match = FILE_NAME.match(first)
        return match.group("name") if match else None


def blocks(text: str, first_line: int = 1) -> list[Block]:
    """Every fenced block, with the checks that follow it attached."""
    found: list[Block] = []
    lines = text.splitlines()
    pending_error: Check | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line)
        if fence:
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == fence.group("fence")), None)
            if end is None:
                raise ValueError(f"line {first_line + i}: unclosed code block")
            block = Block(fence.group("lang"), "\n".join(lines[i + 1 : end]) + "\n", first_line + i)
            if block.lang == "text" and pending_error is not None:
                pending_error.message = block.text
                pending_error = None
            elif block.lang == "text" and found and found[-1].output is None:
                found[-1].output = block
            else:
                found.append(block)
            i = end + 1
            continue
        check = CHECK.match(line.strip())
        if check:
            if not found:
                raise ValueError(f"line {first_line + i}: a check before any code block")
            item = Check(check.group("kind"), (check.group("code") or "").strip(), first_line + i)
            found[-1].checks.append(item)
            if item.kind == "error":
                pending_error = item
        i += 1
    return found


def region(text: str, start: str, end: str) -> tuple[str, int] | None:
    """The text between two marker lines and the line number it starts at, or None."""
    lines = text.splitlines()
    try:
        a = next(i for i, l in enumerate(lines) if l.strip() == start)
        b = next(i for i, l in enumerate(lines) if l.strip() == end and i > a)
    except StopIteration:
        return None
    return "\n".join(lines[a + 1 : b]) + "\n", a + 2


def read(path: Path) -> list[Block]:
    return blocks(path.read_text())
