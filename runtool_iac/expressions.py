"""A sandboxed evaluator for ``$eval`` expressions.

Config files are reviewed text from pull requests, so evaluating them must not
run arbitrary Python (the original runtool used bare ``eval``). This is a small
AST interpreter over a whitelist rather than simpleeval/asteval: we need
attribute access to mean *config lookup* (``$trial.dataset.meta.freq``), lazy
resolution of other trial-dependent values through a hook, ``str.format`` with
field-name checks, and hard bounds on sizes and time. simpleeval allows method
calls on any object and has no time bound; asteval is a full Python subset
(loops, function definitions) — both are more surface than we want to audit.

What is allowed: literals, arithmetic, comparisons, boolean logic, conditional
expressions, f-strings, indexing/slicing, list/tuple/dict displays, list
comprehensions and generator expressions over config values, the functions in
``FUNCTIONS`` and the ``str`` methods in ``STR_METHODS``. Everything else is
rejected before evaluation; sizes and time are bounded during evaluation.
"""

from __future__ import annotations

import ast
import itertools
import math
import operator
import re
import time

from runtool_iac.errors import utf8_problem
from runtool_iac.records import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

MAX_SOURCE_CHARS = 10_000
MAX_AST_DEPTH = 60
MAX_STRING = 100_000
MAX_ITEMS = 100_000
MAX_INT_BITS = 4_096
MAX_FORMAT_NUMBER = 1_000
MAX_STEPS = 200_000
MAX_SECONDS = 1.0
# Everything one evaluation creates (characters of strings, items of lists, ...)
# counts against one total, so many values each under MAX_STRING stay bounded.
MAX_TOTAL_SIZE = 4_000_000
# Single C-level operations are checked before they run: none may cost more
# than about this many elementary steps (strip's character set x string, ...).
MAX_OPERATION_COST = 10_000_000
MAX_ROUND_DIGITS = 1_000
MAX_INT_TEXT = 4_300  # Python's own default limit of int('...') digits
# All evaluations of one config load (or of one plan) share this much time.
DEFAULT_TOTAL_SECONDS = 10.0


class TimeBudget:
    """Wall-clock time shared by every evaluation of one load or one plan, so
    many variants of a slow expression cannot add up to minutes."""

    def __init__(self, seconds: float = DEFAULT_TOTAL_SECONDS) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds


def _sum(values: Any, start: Any = 0) -> Any:
    """sum() of numbers only: summing lists or strings is quadratic and unbounded."""
    items = list(values)
    if not all(isinstance(v, (int, float)) for v in [*items, start]):
        raise ExpressionError("sum() adds numbers only")
    return sum(items, start)


def _round(number: Any, ndigits: Any = None) -> Any:
    """round(); a huge ``ndigits`` makes one C call compute 10 ** ndigits."""
    if ndigits is not None:
        if not isinstance(ndigits, int) or isinstance(ndigits, bool):
            raise ExpressionError("round()'s digits must be a whole number")
        if abs(ndigits) > MAX_ROUND_DIGITS:
            raise ExpressionError(f"round() to {ndigits} digits: at most {MAX_ROUND_DIGITS} either way")
    return round(number, ndigits) if ndigits is not None else round(number)


def _int(value: Any = 0, *base: Any) -> Any:
    """int(); text longer than Python's digit limit is refused up front."""
    if isinstance(value, str) and len(value) > MAX_INT_TEXT:
        raise ExpressionError(f"int() of a {len(value):,}-character string (at most {MAX_INT_TEXT:,})")
    return int(value, *base)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min,
    "max": max,
    "sum": _sum,
    "len": len,
    "abs": abs,
    "round": _round,
    "int": _int,
    "float": float,
    "str": str,
    "bool": bool,
    "ceil": math.ceil,
    "floor": math.floor,
}
STR_METHODS = frozenset(
    {"split", "join", "upper", "lower", "replace", "strip", "startswith", "endswith", "format"}
)

TRIAL_NAME = "__trial__"
ROOT_NAME = "__root__"
UID_NAME = "uid"
_REF_PREFIX = "__ref"

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Not: operator.not_,
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
_ALLOWED_NODES: tuple[type, ...] = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.BinOp, ast.UnaryOp, ast.BoolOp,
    ast.And, ast.Or, ast.Compare, ast.IfExp, ast.JoinedStr, ast.FormattedValue, ast.Subscript,
    ast.Slice, ast.Attribute, ast.Call, ast.keyword, ast.List, ast.Tuple, ast.Dict,
    ast.ListComp, ast.GeneratorExp, ast.comprehension, ast.Store,
    *_BINOPS, *_UNARY, *_COMPARE,
)


class ExpressionError(Exception):
    """An expression is not allowed or failed; the caller adds file/line/path."""


class Expression(Record):
    """A parsed, whitelisted expression; ``$`` references are not yet bound."""

    __slots__ = ("source", "tree", "uses_trial", "uses_uid", "root_chains")

    def __init__(
        self, source: str, tree: ast.Expression, uses_trial: bool, uses_uid: bool, root_chains: list[list[Any]] | None = None
    ) -> None:
        self.source, self.tree, self.uses_trial, self.uses_uid = source, tree, uses_trial, uses_uid
        self.root_chains = root_chains if root_chains is not None else []


# `$` is not Python: it is swapped for a marker letter (an identifier character)
# before parsing, and the parsed tree says which markers were code. In string
# literals the marker is turned back into `$`, so `'costs $5'` stays text.
_MARKERS = ("\ua66e", "\u1405", "\u01c2", "\u0b83")


def _marker_for(text: str) -> str:
    for marker in _MARKERS:
        if marker not in text:
            return marker
    raise ExpressionError("expression uses every reserved marker character")


class _Dollars(ast.NodeTransformer):
    """Bind marker names to ``$`` / ``$trial`` and restore ``$`` in text."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if self.marker in node.id:
            if node.id == self.marker:
                node.id = ROOT_NAME
            elif node.id == self.marker + "trial":
                node.id = TRIAL_NAME
            else:
                shown = node.id.replace(self.marker, "$")
                raise ExpressionError(f"unknown name '{shown}' (use $trial.algorithm, $trial.dataset or $.path)")
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        node.attr = node.attr.replace(self.marker, "$")
        return self.generic_visit(node)

    def visit_keyword(self, node: ast.keyword) -> ast.AST:
        if node.arg is not None and self.marker in node.arg:
            raise ExpressionError(f"keyword '{node.arg.replace(self.marker, '$')}' is not allowed")
        return self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, str) and self.marker in node.value:
            node.value = node.value.replace(self.marker, "$")
        return node


def compile_expression(text: str, extra_names: tuple[str, ...] = ()) -> Expression:
    """Parse and check an expression; raises ExpressionError naming what is refused.

    ``extra_names`` are further names the caller binds (``run`` in a job name expression)."""
    if not isinstance(text, str):
        raise ExpressionError("$eval takes a string expression")
    if len(text) > MAX_SOURCE_CHARS:
        raise ExpressionError(f"expression is longer than {MAX_SOURCE_CHARS:,} characters")
    _check_text(text)
    marker = _marker_for(text)
    source = text.strip().replace("$", marker)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"invalid expression syntax: {exc.msg.replace(marker, '$')}") from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError("expression is too deeply nested") from None
    _check_depth(tree)
    tree = _Dollars(marker).visit(tree)
    names = _check(tree, extra_names)
    chains = _root_chains(tree)
    return Expression(
        source=text,
        tree=tree,
        uses_trial=TRIAL_NAME in names,
        uses_uid=UID_NAME in names,
        root_chains=chains,
    )


def _reparse(text: str) -> ast.Expression:
    """A new tree of an expression that compiled: what ``compile_expression`` built, made
    again in less than half the time a deep copy of it takes."""
    marker = _marker_for(text)
    return _Dollars(marker).visit(ast.parse(text.strip().replace("$", marker), mode="eval"))


def _check_depth(tree: ast.AST) -> None:
    """Depth first, iteratively: the transformers that follow recurse."""
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_AST_DEPTH:
            raise ExpressionError("expression is too deeply nested")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _check_text(value: str) -> None:
    """Strings must be valid UTF-8: a lone surrogate ('\\ud800') cannot be written out."""
    problem = utf8_problem(value)
    if problem:
        raise ExpressionError(f"text {problem}")


def _check(tree: ast.AST, extra_names: tuple[str, ...] = ()) -> set[str]:
    """Reject every construct outside the whitelist; returns the names used."""
    names: set[str] = set()
    comp_vars: set[str] = set()
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_AST_DEPTH:
            raise ExpressionError("expression is too deeply nested")
        if not isinstance(node, _ALLOWED_NODES):
            raise ExpressionError(_refusal(node))
        if isinstance(node, ast.Name):
            if node.id.startswith("__") and node.id not in (TRIAL_NAME, ROOT_NAME):
                raise ExpressionError(f"name '{node.id}' is not allowed")
            if isinstance(node.ctx, ast.Store):
                comp_vars.add(node.id)
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                raise ExpressionError(f"access to private attribute '{node.attr}' is not allowed")
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, (bytes, complex)) or node.value is Ellipsis:
                raise ExpressionError(f"{type(node.value).__name__} literals are not allowed")
        elif isinstance(node, ast.Call):
            _check_callee(node)
        elif isinstance(node, ast.comprehension):
            if node.is_async or not isinstance(node.target, (ast.Name, ast.Tuple)):
                raise ExpressionError("only simple comprehension targets are allowed")
        for child in ast.iter_child_nodes(node):
            stack.append((child, depth + 1))
    allowed = set(FUNCTIONS) | {TRIAL_NAME, ROOT_NAME, UID_NAME} | comp_vars | set(extra_names)
    unknown = sorted(n for n in names if n not in allowed)
    if unknown:
        raise ExpressionError(
            f"unknown name '{unknown[0]}' (allowed: {', '.join(sorted(FUNCTIONS))}, uid, $trial, $.path)"
        )
    return names


def _check_callee(node: ast.Call) -> None:
    func = node.func
    if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
        raise ExpressionError("argument unpacking (*, **) is not allowed")
    if isinstance(func, ast.Name):
        if func.id not in FUNCTIONS:
            raise ExpressionError(f"calling '{func.id}' is not allowed")
        return
    if isinstance(func, ast.Attribute):
        if func.attr not in STR_METHODS:
            raise ExpressionError(
                f"calling method '{func.attr}' is not allowed (allowed str methods: {', '.join(sorted(STR_METHODS))})"
            )
        return
    raise ExpressionError("only calls of allowed functions and str methods are allowed")


def _refusal(node: ast.AST) -> str:
    kind = type(node).__name__
    human = {
        "Lambda": "lambda functions are not allowed",
        "SetComp": "set comprehensions are not allowed",
        "DictComp": "dict comprehensions are not allowed",
        "Set": "set literals are not allowed (their order is not deterministic)",
        "NamedExpr": "assignment expressions (:=) are not allowed",
        "Starred": "argument unpacking (*) is not allowed",
        "Await": "await is not allowed",
        "Yield": "yield is not allowed",
        "YieldFrom": "yield is not allowed",
    }
    if isinstance(node, (ast.LShift, ast.RShift, ast.BitAnd, ast.BitOr, ast.BitXor, ast.Invert, ast.MatMult)):
        return f"operator {kind} is not allowed"
    return human.get(kind, f"{kind} expressions are not allowed")


def _constant_step(node: ast.AST) -> Any:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        value = node.slice.value
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return value
    return None


def _chain_of(node: ast.AST) -> list[Any] | None:
    """Constant access steps from ``$`` to ``node``, or None if not a pure chain."""
    steps: list[Any] = []
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        step = _constant_step(node)
        if step is None:
            return None
        steps.append(step)
        node = node.value
    if isinstance(node, ast.Name) and node.id == ROOT_NAME:
        return steps[::-1]
    return None


def _root_chains(tree: ast.AST) -> list[list[Any]]:
    """The maximal constant ``$.a.b[0]`` chains, outermost first."""
    chains: list[list[Any]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            chain = _chain_of(node)
            if chain is not None:
                chains.append(chain)
                return
        if isinstance(node, ast.Name) and node.id == ROOT_NAME:
            raise ExpressionError("'$' must be followed by a path, e.g. $.my_dataset.meta.freq")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return chains


def bind_root_chains(expr: Expression, prefix_lengths: list[int]) -> tuple[ast.Expression, list[str]]:
    """Replace the first ``n`` steps of each ``$`` chain by a reference name.

    The remaining steps (e.g. ``.split`` in ``$.a.b.split(',')``) stay as
    ordinary accesses on the referenced value. Returns the new tree and the
    reference names in chain order.
    """
    if not prefix_lengths:  # no `$.path` in it (most): the compiled tree, which nothing changes
        return expr.tree, []
    names = [f"{_REF_PREFIX}{i}__" for i in range(len(prefix_lengths))]
    wanted = {i: (tuple(c), n) for i, (c, n) in enumerate(zip(expr.root_chains, prefix_lengths))}
    counter = iter(range(len(prefix_lengths)))

    class Binder(ast.NodeTransformer):
        def _visit_access(self, node: ast.AST) -> ast.AST:
            chain = _chain_of(node)
            if chain is None:
                return self.generic_visit(node)
            index = next(counter)
            _, keep = wanted[index]
            # Walk down to the node covering exactly `keep` steps and swap it.
            outer: list[ast.AST] = []
            cursor = node
            for _ in range(len(chain) - keep):
                outer.append(cursor)
                cursor = cursor.value  # type: ignore[attr-defined]
            replacement: ast.AST = ast.Name(id=names[index], ctx=ast.Load())
            if not outer:
                return ast.copy_location(replacement, node)
            parent = outer[-1]
            parent.value = ast.copy_location(replacement, cursor)  # type: ignore[attr-defined]
            return node

        visit_Attribute = _visit_access
        visit_Subscript = _visit_access

    tree = Binder().visit(_reparse(expr.source))
    ast.fix_missing_locations(tree)
    return tree, names


# --------------------------------------------------------------------------- evaluation


def _check_format_spec(spec: str) -> None:
    if "{" in spec or "}" in spec:
        raise ExpressionError("nested fields in format specifications are not allowed")
    for number in re.findall(r"\d+", spec):
        if int(number) > MAX_FORMAT_NUMBER:
            raise ExpressionError(f"format width/precision {number} exceeds {MAX_FORMAT_NUMBER}")


def _format_fields(template: str) -> Any:
    import string  # here: its import compiles string.Template's pattern (~0.5 ms), rarely needed

    return string.Formatter().parse(template)


def _check_format_template(template: str) -> None:
    try:
        parsed = list(_format_fields(template))
    except ValueError as exc:
        raise ExpressionError(f"invalid format string: {exc}") from None
    for _, field_name, spec, _conversion in parsed:
        if field_name is None:
            continue
        if field_name and not (field_name.isdigit() or field_name.isidentifier()):
            raise ExpressionError(
                f"format field '{{{field_name}}}' uses attribute or index access, which is not allowed"
            )
        if spec:
            _check_format_spec(spec)


def _size_check(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_STRING:
        raise ExpressionError(f"string result longer than {MAX_STRING:,} characters")
    if isinstance(value, (list, tuple, dict)) and len(value) > MAX_ITEMS:
        raise ExpressionError(f"result with more than {MAX_ITEMS:,} items")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise ExpressionError(f"integer result larger than {MAX_INT_BITS} bits")
    return value


def _size_of(value: Any) -> int:
    """What a value costs against MAX_TOTAL_SIZE: characters, items, 64-bit words."""
    if isinstance(value, (str, list, tuple, dict)):
        return len(value) + 1
    if isinstance(value, int):
        return value.bit_length() // 64 + 1
    return 1


def _sized(value: Any) -> int:
    return len(value) if isinstance(value, (str, list, tuple)) else 0


def _precheck_binop(op: type, left: Any, right: Any) -> None:
    if op is ast.Pow and isinstance(left, int) and isinstance(right, int) and right > 0:
        if abs(left) > 1 and max(abs(left).bit_length() - 1, 1) * right > MAX_INT_BITS:
            raise ExpressionError(f"power result larger than {MAX_INT_BITS} bits")
    if op is ast.Mult:
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(count, int):
                if len(seq) * max(count, 0) > (MAX_STRING if isinstance(seq, str) else MAX_ITEMS):
                    raise ExpressionError("repetition result is too large")
        if isinstance(left, int) and isinstance(right, int):
            if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise ExpressionError(f"product larger than {MAX_INT_BITS} bits")
    if op is ast.Add and _sized(left) + _sized(right) > MAX_STRING:
        raise ExpressionError("concatenation result is too large")
    if op is ast.Mod and isinstance(left, str):
        raise ExpressionError("'%' string formatting is not allowed; use f-strings or str.format")


def _text_length(value: Any, conversion: str | None) -> int:
    """An upper bound of len(format(value)) before formatting it."""
    if isinstance(value, str) and conversion not in ("r", "a"):
        return len(value)
    if isinstance(value, (int, float, bool)) or value is None:
        return 1_300  # bounded ints (MAX_INT_BITS) and floats
    return 10 * len(repr(value)) if conversion in ("r", "a") else len(str(value))


def _precheck_str_method(receiver: str, method: str, args: list, kwargs: dict) -> None:
    """Bound what one C call on a string could build or cost, before calling it."""
    if method == "format":
        _check_format_template(receiver)
        total, auto = len(receiver), 0
        for _, field_name, spec, conversion in _format_fields(receiver):
            if field_name is None:
                continue
            if field_name == "":
                field_name, auto = str(auto), auto + 1
            if field_name.isdigit():
                index = int(field_name)
                value = args[index] if index < len(args) else ""
            else:
                value = kwargs.get(field_name, "")
            width = max((int(n) for n in re.findall(r"\d+", spec or "")), default=0)
            total += _text_length(value, conversion) + width
            if total > MAX_STRING:
                raise ExpressionError("format result is too large")
    elif method == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        count = receiver.count(args[0]) if args[0] else len(receiver) + 1
        if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
            count = min(count, args[2])
        if len(receiver) + count * (len(args[1]) - len(args[0])) > MAX_STRING:
            raise ExpressionError("replace result is too large")
    elif method == "join" and args:
        items = list(args[0]) if isinstance(args[0], (list, tuple, str, dict)) else []
        if not all(isinstance(item, str) for item in items):
            raise ExpressionError("join() takes a list of strings")
        if sum(map(len, items)) + len(receiver) * max(len(items) - 1, 0) > MAX_STRING:
            raise ExpressionError("join result is too large")
    elif method == "strip" and args and isinstance(args[0], str):
        # CPython looks each character up in the set by a linear scan.
        if len(receiver) * len(args[0]) > MAX_OPERATION_COST:
            raise ExpressionError(
                f"strip() of {len(args[0]):,} characters from a {len(receiver):,}-character string is too costly"
            )
    elif method == "split" and args and isinstance(args[0], str) and args[0]:
        pieces = receiver.count(args[0]) + 1
        limit = args[1] if len(args) > 1 else kwargs.get("maxsplit", -1)
        if isinstance(limit, int) and limit >= 0:
            pieces = min(pieces, limit + 1)
        if pieces > MAX_ITEMS:
            raise ExpressionError(f"split() gives more than {MAX_ITEMS:,} items")
    elif method in ("startswith", "endswith") and args and isinstance(args[0], tuple):
        if len(args[0]) > MAX_ITEMS:
            raise ExpressionError(f"{method}() of more than {MAX_ITEMS:,} prefixes")


class TrialView:
    """What ``$trial`` is: attribute access to the trial's algorithm and dataset."""

    __slots__ = ("algorithm", "dataset")

    def __init__(self, algorithm: Any, dataset: Any) -> None:
        self.algorithm = algorithm
        self.dataset = dataset


class Evaluation:
    """One evaluation: a step budget, a deadline, a size budget and a hook for lazy values.

    ``settle`` is called on every value read from a name, attribute or index;
    plan-time evaluation uses it to evaluate other trial-dependent values on
    demand (and to detect cycles between them). The deadline is the earlier
    of this evaluation's own and the shared ``budget``'s.
    """

    def __init__(
        self, names: dict[str, Any], settle: Callable[[Any], Any] | None = None, budget: TimeBudget | None = None
    ) -> None:
        self.names = names
        self.settle = settle or (lambda v: v)
        self.steps = 0
        self.size = 0
        self.budget = budget
        own = time.monotonic() + MAX_SECONDS
        self.deadline = min(own, budget.deadline) if budget else own

    def run(self, tree: ast.Expression) -> Any:
        try:
            result = self.eval(tree.body, {})
            result = self.plain(result)
            _check_strings(result)
            return result
        except ExpressionError:
            raise
        except RecursionError:
            raise ExpressionError("expression is too deeply nested") from None
        except (ArithmeticError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise ExpressionError(f"{type(exc).__name__}: {exc}") from None

    def plain(self, value: Any) -> Any:
        """Deep-settle a value into JSON-compatible data, counting every element
        against the size bound (aliased lists like ``[[0] * 1000] * 99999``
        are small to build but huge to copy)."""
        budget = [MAX_ITEMS]

        def convert(item: Any) -> Any:
            budget[0] -= 1
            if budget[0] < 0:
                raise ExpressionError(f"value with more than {MAX_ITEMS:,} elements in all")
            item = self.settle(item)
            if isinstance(item, TrialView):
                raise ExpressionError("$trial must be followed by .algorithm or .dataset")
            if isinstance(item, (list, tuple)):
                return [convert(v) for v in item]
            if isinstance(item, dict):
                return {str(k): convert(v) for k, v in item.items()}
            if item is None or isinstance(item, (str, int, float, bool)):
                return item
            raise ExpressionError(f"result of type {type(item).__name__} is not allowed")

        if value is None or isinstance(value, (str, int, float)):
            return value  # the common case: nothing to copy
        result = convert(value)
        self.charge(MAX_ITEMS - budget[0])  # the copy is made of that many new values
        return result

    def made(self, value: Any) -> Any:
        """Account for a value this evaluation created."""
        _size_check(value)
        self.charge(_size_of(value))
        return value

    def charge(self, size: int) -> None:
        self.size += size
        if self.size > MAX_TOTAL_SIZE:
            raise ExpressionError(
                f"expression creates more than {MAX_TOTAL_SIZE:,} characters and items in all"
            )
        if size > 64:
            self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            if self.budget is not None and self.deadline == self.budget.deadline:
                raise ExpressionError(
                    f"the config's $eval expressions take longer than {self.budget.seconds:g} s in all"
                )
            raise ExpressionError(f"expression takes longer than {MAX_SECONDS:g} s")

    def tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise ExpressionError(f"expression takes more than {MAX_STEPS:,} steps")
        if self.steps & 7 == 0:
            self.check_time()

    def eval(self, node: ast.AST, local: dict[str, Any]) -> Any:
        self.tick()
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:  # pragma: no cover - _check rejects these first
            raise ExpressionError(_refusal(node))
        return method(node, local)

    # Each handler mirrors one whitelisted node type.
    def _Constant(self, node: ast.Constant, local: dict) -> Any:
        return node.value

    def _Name(self, node: ast.Name, local: dict) -> Any:
        if node.id in local:
            return local[node.id]
        if node.id in self.names:
            return self.settle(self.names[node.id])
        if node.id in FUNCTIONS:
            raise ExpressionError(f"'{node.id}' must be called")
        raise ExpressionError(f"name '{node.id}' is not available here")

    def _BinOp(self, node: ast.BinOp, local: dict) -> Any:
        left = self.plain(self.eval(node.left, local))
        right = self.plain(self.eval(node.right, local))
        _precheck_binop(type(node.op), left, right)
        return self.made(_BINOPS[type(node.op)](left, right))

    def _UnaryOp(self, node: ast.UnaryOp, local: dict) -> Any:
        return _UNARY[type(node.op)](self.plain(self.eval(node.operand, local)))

    def _BoolOp(self, node: ast.BoolOp, local: dict) -> Any:
        value: Any = None
        for operand in node.values:
            value = self.plain(self.eval(operand, local))
            if isinstance(node.op, ast.And) and not value:
                return value
            if isinstance(node.op, ast.Or) and value:
                return value
        return value

    def _Compare(self, node: ast.Compare, local: dict) -> Any:
        left = self.plain(self.eval(node.left, local))
        for op, comparator in zip(node.ops, node.comparators):
            right = self.plain(self.eval(comparator, local))
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True

    def _IfExp(self, node: ast.IfExp, local: dict) -> Any:
        test = self.plain(self.eval(node.test, local))
        return self.eval(node.body if test else node.orelse, local)

    def _JoinedStr(self, node: ast.JoinedStr, local: dict) -> Any:
        parts = [str(self.eval(v, local)) for v in node.values]
        if sum(map(len, parts)) > MAX_STRING:
            raise ExpressionError(f"string result longer than {MAX_STRING:,} characters")
        return self.made("".join(parts))

    def _FormattedValue(self, node: ast.FormattedValue, local: dict) -> Any:
        value = self.plain(self.eval(node.value, local))
        if node.conversion == ord("r"):
            value = self.made(repr(value))
        elif node.conversion == ord("s"):
            value = self.made(str(value))
        elif node.conversion == ord("a"):
            value = self.made(ascii(value))
        spec = "" if node.format_spec is None else self.eval(node.format_spec, local)
        _check_format_spec(spec)
        return self.made(format(value, spec))

    def _Subscript(self, node: ast.Subscript, local: dict) -> Any:
        target = self.settle(self.eval(node.value, local))
        if isinstance(node.slice, ast.Slice):
            parts = [None if p is None else self.plain(self.eval(p, local)) for p in (node.slice.lower, node.slice.upper, node.slice.step)]
            return self.made(target[slice(*parts)])
        key = self.plain(self.eval(node.slice, local))
        if isinstance(target, TrialView):
            return self.settle(self._trial_attr(target, key))
        if isinstance(target, dict) and key not in target:
            raise ExpressionError(f"no key {key!r} (available: {_available(target)})")
        return self.settle(target[key])

    def _trial_attr(self, trial: TrialView, name: Any) -> Any:
        if name == "algorithm":
            return trial.algorithm
        if name == "dataset":
            return trial.dataset
        raise ExpressionError(f"$trial has no '{name}' (use $trial.algorithm or $trial.dataset)")

    def _Attribute(self, node: ast.Attribute, local: dict) -> Any:
        target = self.settle(self.eval(node.value, local))
        if isinstance(target, TrialView):
            return self.settle(self._trial_attr(target, node.attr))
        if isinstance(target, dict):
            if node.attr not in target:
                raise ExpressionError(f"no key '{node.attr}' (available: {_available(target)})")
            return self.settle(target[node.attr])
        raise ExpressionError(
            f"'.{node.attr}' is only for looking up config keys, not on a {type(target).__name__}"
        )

    def _Call(self, node: ast.Call, local: dict) -> Any:
        args = [self.plain(self.eval(a, local)) for a in node.args]
        kwargs = {k.arg: self.plain(self.eval(k.value, local)) for k in node.keywords}
        func = node.func
        if isinstance(func, ast.Name):
            if func.id in local:
                raise ExpressionError(f"'{func.id}' is not callable")
            return self.made(FUNCTIONS[func.id](*args, **kwargs))
        receiver = self.plain(self.eval(func.value, local))  # type: ignore[attr-defined]
        method = func.attr  # type: ignore[attr-defined]
        if not isinstance(receiver, str):
            raise ExpressionError(f"method '{method}' is only available on strings")
        _precheck_str_method(receiver, method, args, kwargs)
        return self.made(getattr(receiver, method)(*args, **kwargs))

    def _List(self, node: ast.List, local: dict) -> Any:
        return self.made([self.eval(e, local) for e in node.elts])

    _Tuple = _List

    def _Dict(self, node: ast.Dict, local: dict) -> Any:
        out = {}
        for k, v in zip(node.keys, node.values):
            if k is None:
                raise ExpressionError("dict unpacking (**) is not allowed")
            key = self.plain(self.eval(k, local))
            if not isinstance(key, str):
                raise ExpressionError("dict keys must be strings")
            out[key] = self.eval(v, local)
        return self.made(out)

    def _ListComp(self, node: ast.ListComp | ast.GeneratorExp, local: dict) -> Any:
        results: list[Any] = []

        def loop(index: int, scope: dict) -> None:
            if index == len(node.generators):
                results.append(self.eval(node.elt, scope))
                if len(results) > MAX_ITEMS:
                    raise ExpressionError(f"comprehension produces more than {MAX_ITEMS:,} items")
                self.charge(1)
                return
            gen = node.generators[index]
            iterable = self.plain(self.eval(gen.iter, scope))
            if not isinstance(iterable, (list, str, dict)):
                raise ExpressionError("comprehensions iterate only over lists, strings and mappings")
            for item in iterable:
                self.tick()
                inner = dict(scope)
                _assign(gen.target, item, inner)
                if all(self.plain(self.eval(cond, inner)) for cond in gen.ifs):
                    loop(index + 1, inner)

        loop(0, dict(local))
        return results

    _GeneratorExp = _ListComp


def _available(mapping: dict) -> str:
    keys = list(itertools.islice(mapping, 20))
    more = ", ..." if len(mapping) > len(keys) else ""
    return (", ".join(map(str, keys)) + more) if keys else "none"


def _check_strings(value: Any) -> None:
    """Every string of a result is valid UTF-8 (requests and plans are written as UTF-8)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())

def _assign(target: ast.AST, value: Any, scope: dict) -> None:
    if isinstance(target, ast.Name):
        scope[target.id] = value
        return
    elts = target.elts  # type: ignore[attr-defined]
    values = list(value)
    if len(values) != len(elts):
        raise ExpressionError("cannot unpack value in comprehension")
    for t, v in zip(elts, values):
        _assign(t, v, scope)


def evaluate(
    tree: ast.Expression,
    names: dict[str, Any],
    settle: Callable[[Any], Any] | None = None,
    budget: TimeBudget | None = None,
) -> Any:
    """Evaluate a checked tree; the result is JSON-compatible data."""
    return Evaluation(names, settle, budget).run(tree)


def evaluate_text(text: str, names: dict[str, Any] | None = None) -> Any:
    """Convenience for tests and docs: compile and evaluate with no config references."""
    expr = compile_expression(text)
    if expr.root_chains:
        raise ExpressionError("'$.' references need a config")
    return evaluate(expr.tree, names or {})
