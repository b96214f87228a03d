"""Parsing experiment expressions like ``"(deepar + prophet) * datasets"``.

The expression is parsed by a tiny recursive-descent parser and evaluated
with the node algebra — never passed to ``eval``. Names are top-level config
nodes; ``*`` binds tighter than ``+``; parentheses group. Parsing is linear:
a chain ``a + b + ... + z`` is joined once (pairwise joins copy the members
each time), and parentheses nest at most ``MAX_NESTING`` deep.
"""

from __future__ import annotations

from runtool_iac import patterns
from runtool_iac.config.loader import Config
from runtool_iac.config.nodes import Algorithm, Algorithms, Dataset, Datasets, Experiment, Experiments, incomplete_kind
from runtool_iac.errors import ConfigError, Location, did_you_mean
from runtool_iac.records import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

# Token characters: a name starts with a letter, digit or '_' and goes on with those, '.' and '-'.
_NAME_START = frozenset(patterns.ALNUM + "_")
_NAME_CHARS = _NAME_START | {".", "-"}
_OPERATORS = "+*()"
_NODE_TYPES = (Algorithm, Algorithms, Dataset, Datasets, Experiment)
MAX_NESTING = 100


class _Token(Record):
    __slots__ = ("kind", "text", "column")

    def __init__(self, kind: str, text: str, column: int) -> None:
        self.kind = kind  # "name" | "+" | "*" | "(" | ")" | "end"
        self.text, self.column = text, column


def _tokenize(text: str) -> list[_Token]:
    """Names, "quoted names", '+', '*' and parentheses, between any whitespace.

    A scanner rather than a regex: compiling one costs more than a small plan's parsing.
    """
    tokens: list[_Token] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos == end:
            break
        start, char = pos, text[pos]
        if char in _NAME_START:
            pos += 1
            while pos < end and text[pos] in _NAME_CHARS:
                pos += 1
            tokens.append(_Token("name", text[start:pos], start + 1))
        elif char in "\"'" and text.find(char, pos + 1) > pos + 1:  # a quote, something, the same quote
            pos = text.find(char, pos + 1) + 1
            tokens.append(_Token("name", text[start + 1 : pos - 1], start + 2))
        elif char in _OPERATORS:
            pos += 1
            tokens.append(_Token(char, char, start + 1))
        else:
            raise _Error(f"unexpected character {char!r}", start + 1)
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


class _Error(Exception):
    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.column = column


class _Parser:
    def __init__(self, text: str, config: Config) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.depth = 0
        self.config = config

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse(self) -> Any:
        value = self.sum()
        token = self.peek()
        if token.kind != "end":
            raise _Error(f"unexpected {token.text!r}; expected '+', '*' or the end", token.column)
        return value

    def sum(self) -> Any:
        operands = [self.product()]
        columns = []
        while self.peek().kind == "+":
            columns.append(self.take().column)
            operands.append(self.product())
        return self.join(operands, columns)

    def join(self, operands: list[Any], columns: list[int]) -> Any:
        """``a + b + ...`` in one step (same result as joining pairwise, in linear time)."""
        if len(operands) == 1:
            return operands[0]
        first = operands[0]
        for operand, column in zip(operands[1:], columns):
            same = (
                isinstance(first, Experiment) and isinstance(operand, Experiment)
                or getattr(first, "family", None) == getattr(operand, "family", None) != "experiment"
            )
            if not same:
                self.combine(first, "+", operand, column)  # raises the algebra's own error
        if isinstance(first, Experiment):
            return Experiments(tuple(e for operand in operands for e in operand.experiments))
        return first.plural(tuple(m for operand in operands for m in operand.members))

    def product(self) -> Any:
        value = self.atom()
        while self.peek().kind == "*":
            op = self.take()
            value = self.combine(value, "*", self.atom(), op.column)
        return value

    def atom(self) -> Any:
        token = self.take()
        if token.kind == "(":
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise _Error(f"parentheses are nested more than {MAX_NESTING} deep", token.column)
            value = self.sum()
            closing = self.take()
            if closing.kind != ")":
                raise _Error("missing ')'", closing.column)
            self.depth -= 1
            return value
        if token.kind == "name":
            if token.text not in self.config:
                hint = did_you_mean(token.text, self.config.keys())
                raise _Error(f"no top-level node '{token.text}' in the config{hint}", token.column)
            node = self.config[token.text]
            if not isinstance(node, _NODE_TYPES):
                lacking = incomplete_kind(node)
                where = f" ({self.config.location(token.text)})" if lacking and self.config.location(token.text) else ""
                raise _Error(
                    f"'{token.text}' is a plain value, not an algorithm, dataset or experiment"
                    + (f": it {lacking}{where}" if lacking else ""),
                    token.column,
                )
            return node
        what = "the end" if token.kind == "end" else repr(token.text)
        raise _Error(f"unexpected {what}; expected a node name or '('", token.column)

    @staticmethod
    def combine(left: Any, op: str, right: Any, column: int) -> Any:
        try:
            return left + right if op == "+" else left * right
        except TypeError as exc:
            raise _Error(str(exc), column) from None


def parse_experiment(text: str, config: Config, location: Location | None = None, path: str | None = None) -> Any:
    """Evaluate an experiment expression against ``config``; errors point at the column."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("the experiment expression is empty", location=location or Location("<experiment>", 1, 1), path=path)
    try:
        return _Parser(text, config).parse()
    except _Error as exc:
        where = location or Location("<experiment>", 1, 1)
        loc = Location(where.file, where.line, where.column + exc.column - 1) if location else Location("<experiment>", 1, exc.column)
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise ConfigError(f"{exc} in experiment '{shown}'", location=loc, path=path) from None
