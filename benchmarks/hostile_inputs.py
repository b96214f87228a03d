"""Issue 13's campaign, re-run: hostile $eval payloads, fuzzed configs, CLI and runtool.yml cases.

Every case is classified by what a user would see:

- ``ok``            a value, a plan or "ok:" (for fuzzed configs: the plan's requests also pass an
                    independent check of AWS's name/tag rules)
- ``located``       a ConfigError whose every line is ``file:line:col: ...`` (or, for CLI
                    arguments that are not files, one ``error: ...`` line and exit 1/2)
- ``unlocated``     an error without a position
- ``multiline``     one problem spread over several lines
- ``traceback``     any other exception
- ``slow``          took longer than the bound (a hang, cut by SIGALRM where Python can be interrupted)
- ``aws-refuses``   accepted, but a request breaks AWS's rules

Not a test (the tests hold the reproductions); the counts go in the README.
Runs in about a minute on an idle machine, under a 4 GiB address-space limit:

    python benchmarks/hostile_inputs.py            # all areas
    python benchmarks/hostile_inputs.py --json     # machine-readable counts
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import resource
import signal
import sys
import tempfile
import textwrap
import time
import unicodedata
from pathlib import Path
from typing import Any, Callable

BOUND_S = 5.0
LOCATED = re.compile(r"^[^\n]+:\d+:\d+: ")
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/algo:1"


class Slow(BaseException):
    """Raised by SIGALRM; a BaseException so no `except Exception` in the code under test swallows it."""


def _alarm(*_: Any) -> None:
    raise Slow()


def classify(run: Callable[[], Any], check: Callable[[Any], str] | None = None) -> tuple[str, float]:
    from runtool_iac.errors import ConfigError
    from runtool_iac.expressions import ExpressionError

    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, BOUND_S * 2)
    started = time.monotonic()
    try:
        value = run()
        outcome = check(value) if check else "ok"
    except Slow:
        outcome = "slow"
    except ConfigError as exc:
        lines = str(exc).splitlines()
        if len(lines) != len(exc.problems):
            outcome = "multiline"
        elif all(LOCATED.match(line) for line in lines):
            outcome = "located"
        else:
            outcome = "unlocated"
    except ExpressionError as exc:
        outcome = "located" if "\n" not in str(exc) else "multiline"  # the caller adds the location
    except Exception:  # noqa: BLE001 - that is what we count
        outcome = "traceback"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    elapsed = time.monotonic() - started
    if elapsed > BOUND_S and outcome != "slow":
        outcome = "slow"
    return outcome, elapsed


# ----------------------------------------------------------------------------- AWS oracle


def aws_tag_text(value: str) -> bool:
    """AWS's tag pattern ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$, independently of runtool_iac."""
    return all(unicodedata.category(c)[0] in "LZN" or c in "_.:/=+-@" for c in value)


def aws_problems(request: dict) -> list[str]:
    out = []
    name = request["TrainingJobName"]
    if not re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name):
        out.append(f"name {name!r}")
    image = request["AlgorithmSpecification"]["TrainingImage"]
    if not re.fullmatch(r"\S+", image) or len(image) > 255:
        out.append(f"image {image!r}")
    count = request["ResourceConfig"].get("InstanceCount")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:  # the model allows 0 (instance groups)
        out.append(f"InstanceCount {count!r}")
    for tag in request["Tags"]:
        key, value = tag["Key"], tag["Value"]
        if not (1 <= len(key) <= 128 and aws_tag_text(key)) or key.startswith("aws:"):
            out.append(f"tag key {key!r}")
        if len(value) > 256 or not aws_tag_text(value):
            out.append(f"tag value {value!r}")
    for key, value in request["HyperParameters"].items():
        if len(key) > 256 or not isinstance(value, str) or len(value) > 2500:
            out.append(f"hyperparameter {key!r}")
    try:
        json.dumps(request, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        out.append("not UTF-8")
    return out


def plan_all(text: str, name: str = "fuzz.yml") -> list[dict]:
    from runtool_iac.config import Experiment, loads
    from runtool_iac.plan import build_plan

    config = loads(text, name)
    requests = []
    for node_name in config:
        node = config[node_name]
        if isinstance(node, Experiment):
            requests += build_plan(node).requests()
    return requests


def check_plan(requests: list[dict]) -> str:
    return "aws-refuses" if any(aws_problems(r) for r in requests) else "ok"


# ----------------------------------------------------------------------------- $eval payloads

EVAL_PAYLOADS = [
    # single C calls
    "round(1, -10**8)", "round(1.5, 10**9)", "round(10**1000, -1500)", "round(2**4000, -1000)",
    "('ā'*100000).strip('ē'*99999+'ā')", "('a'*100000).strip('a'*100000)", "('x'*99999).split('x')",
    "('ab'*50000).split('a', 99999)", "('a'*100000).replace('a', 'bb')", "('a'*100000).replace('', '-')",
    "('a'*50000).replace('a', 'a'*100, 1000)", "(' '*99999).join(['a']*30000)", "(' '*99999).join($.big)",
    "'-'.join('a'*99999)", "('{0}'*33333).format('a'*100000)", "('{}'*3).format('a'*60000, 'b', 'c')",
    "('{:>999}'*200).format(*[])", "'{x:>1000}'.format(x='a'*99999)", "int('9'*5000)", "int('9'*4300)",
    "int('1'*5000, 2)", "int('f'*2000, 16)", "str(2**4095)", "float('9'*99999)", "float('1e999999')",
    "2**4097", "9**9**9", "(-2)**4097", "10**-10**8", "2.0**10**8", "(2**4000)*(2**4000)", "(2**4096)//3",
    "'a'*100001", "[0]*100001", "('a',)*100001", "'a'*99999+'b'*2", "[1]*60000+[2]*60000",
    "ceil(1e308)", "floor(-1e308)", "ceil(float('inf'))", "abs(-2**4096)", "min('a'*100000)",
    "max([[0]*99999]*10)", "sum([1e308, 1e308])", "sum([2**4000]*100)", "sum([[1]]*10, [])", "len('a'*100000)",
    # totals across values
    "['a'*100000 for x in 'a'*3000]", "[('a'*99999) for x in 'a'*100]", "[[0]*99999 for x in 'ab'*30]",
    "[x*99999 for x in 'abcdefghijklmnopqrstuvwxyz'*3]", "{'a': 'x'*99999, 'b': 'y'*99999, 'c': 'z'*99999}",
    "[[[0]*1000]*1000]", "[[0]*1000]*99999", "[str(x)*9999 for x in [1]*500]", "f'{\"a\"*99999}{\"b\"*99999}'",
    "[f'{x:>999}' for x in 'a'*5000]", "[len(['x']*99999 + []) for y in 'a'*5000]",
    "[$.big == $.big for y in 'a'*10000]", "[x for x in 'a'*99999 for y in 'b'*99999]",
    "[[x for x in 'a'*2000] for y in 'b'*2000]", "sum(x for x in [1]*99999)", "len([x for x in $.big for y in $.big])",
    # time across variants is in the config campaign; deep and odd syntax here
    "(" * 200 + "1" + ")" * 200, "-" * 5000 + "1", "not " * 5000 + "1", "[" * 100 + "]" * 100, "1+" * 5000 + "1",
    "f'{1:{2:{3}}}'", "f'{1:>{10**9}}'", "'%s' % 1", "'%0999999999d' % 1", "1 << 10000",
    # escapes
    "__import__('os').system('true')", "().__class__.__bases__[0].__subclasses__()", "'{0.__class__}'.format(1)",
    "'{0[0]}'.format([1])", "f'{(1).__class__}'", "getattr('', '__class__')", "(lambda: 1)()", "globals()",
    "type(1)", "[].append(1)", "{'a': 1}.items()", "(x := 1)", "{1, 2}", "b'x'", "[*[1]]", "__builtins__",
    "_private", "$._x", "$trial.__class__", "uid.__class__", "'a'.__class__", "'abc'.encode()", "'{}'.format",
    # $ and text
    "'$.5 or $trial'", "'costs $5 and $trial.dataset'", "f'{$.big.k1}$.big.k1'", "\"$.big\" + '$trial'",
    "$", "$trail.x", "$ .big.k1", "$.big['k1']", "$.big.k1 if True else $.nope", "'\\ud800'", "'\\udfff' * 2",
    "['ok', '\\ud83d']", "{'k\\ud800': 1}", "'é' * 99999", "'\\x00\\x01'", "'\\u2028'", "'a\\nb'",
]


def eval_campaign() -> collections.Counter:
    from runtool_iac.config import loads

    big = "\n".join(f"    k{i}: {i}" for i in range(3000))
    counts: collections.Counter = collections.Counter()
    for payload in EVAL_PAYLOADS:
        text = f"big:\n{big}\nx:\n  v: {{$eval: {json.dumps(payload)}}}\n"
        outcome, _ = classify(lambda: loads(text, "eval.yml"), lambda c: _utf8_ok(c.x))
        counts[outcome] += 1
        show("eval", outcome, payload)
    return counts


def _utf8_ok(value: Any) -> str:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return "aws-refuses"
    return "ok"


# ----------------------------------------------------------------------------- fuzzed configs

BASE_CONFIG = textwrap.dedent(
    f"""\
    base:
      image: {IMAGE}
      instance: ml.m5.xlarge
      hyperparameters:
        lr: {{$each: [0.1, 0.01]}}
        epochs: 10
        freq: {{$eval: $trial.dataset.meta.freq}}
      tags: {{team: forecasting, flag: true}}
      metrics: {{loss: 'loss=([0-9.]+)'}}
    other: {{$from: base, image: {IMAGE}, hyperparameters: {{layers: {{$each: [1, 2]}}}}}}
    algorithms: [{{$ref: base}}, {{$ref: other}}]
    ds:
      path: {{train: 's3://bucket/train/', test: 's3://bucket/test/'}}
      meta: {{freq: D, prediction_length: 7}}
    exp: {{algorithm: {{$ref: algorithms}}, dataset: {{$ref: ds}}}}
    """
)
HOSTILE_SCALARS = [
    "!!bool maybe", "!!timestamp nope", "2024-02-30", "0x_", "!!int abc", "!!float x", "1" * 4301, "!!binary aGk=",
    "!!set {a, b}", "!custom 1", "!!python/object:os.system x", ".nan", "-.inf", "~", "''", '"\\ud800"', '"\\x01"',
    '"a\\nb"', '"\\u2028"', "'my image'", "'a' ", "2024-02-29", "0o17", "1_000", "1e400", "*nope", "&a x", "<<: {}",
    "[1, 2", "{a: 1", "'$.x'", "{$eval: '1 +'}", "{$each: []}", "{$each: [$None]}", "{$ref: nowhere}", "{$ref: ''}",
    "{$from: ds}", "{$eval: 'round(1, -10**8)'}", "{$eval: \"'\\\\ud800'\"}", "{$job_name: x}", "$None",
    "{'': 1}", "{$bad: 1}", "[{$ref: base}]", "{$eval: $trial.algorithm.image}", "{$eval: $trial}", "true", "3",
    "'x" + "y" * 300 + "'", "'" + "a" * 2600 + "'", "'aws:x'", "'ml.m5.xlarge\\n'", "\"ml.m5.xlarge\\n\"", "ml.nope.x",
]
HOSTILE_CHARS = ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\x85", "\u2028", "\u2029", "\ufeff", "\t", "\r", "\n",
                 "é", "\u00a0", "\u3000", ":", "-", "#", "&", "*", "!", "|", ">", "'", '"', "%", "@", "`", "{", "}",
                 "[", "]", ",", "?", "$", "\\"]
OVERRIDES = [
    "  $sagemaker.AlgorithmSpecification.TrainingImage: '{}'".format("i" * 300),
    "  $sagemaker.ResourceConfig.InstanceCount: true",
    "  $sagemaker.ResourceConfig.InstanceCount: 0",
    "  $sagemaker.ResourceConfig.VolumeSizeInGB: .nan",
    "  $sagemaker.StoppingCondition.MaxRuntimeInSeconds: -1",
    "  $sagemaker.RoleArn: 'not-an-arn'",
    "  $sagemaker.TrainingJobName: 'x'",
    "  $sagemaker: {EnableNetworkIsolation: 'yes'}",
    "  image: 'my image'",
    "  image: \"img\\n\"",
    "  tags: {\"k\\n\": v}",
    "  tags: {k: \"v\\n\"}",
    "  tags: {aws:k: v}",
    "  $job_name: \"name\\n\"",
    "  $job_name: {$eval: \"'-' * 100\"}",
    "  $job_name: {$eval: \"'\\\\ud800'\"}",
]


def mutations(rng: random.Random) -> list[str]:
    lines = BASE_CONFIG.splitlines()
    out = []
    # 1. every hostile scalar at every value position of the base config
    positions = [i for i, line in enumerate(lines) if ": " in line]
    for scalar in HOSTILE_SCALARS:
        for i in rng.sample(positions, 6):
            key, _, _ = lines[i].partition(": ")
            out.append("\n".join(lines[:i] + [f"{key}: {scalar}"] + lines[i + 1:]) + "\n")
    # 2. hostile characters inserted at random places
    text = BASE_CONFIG
    for _ in range(1400):
        chars = "".join(rng.choice(HOSTILE_CHARS) for _ in range(rng.randint(1, 3)))
        at = rng.randrange(len(text))
        out.append(text[:at] + chars + text[at:])
    # 3. lines deleted, duplicated or swapped
    for _ in range(500):
        mutated = list(lines)
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        choice = rng.randrange(3)
        if choice == 0:
            del mutated[i]
        elif choice == 1:
            mutated.insert(i, mutated[j])
        else:
            mutated[i], mutated[j] = mutated[j], mutated[i]
        out.append("\n".join(mutated) + "\n")
    # 4. request overrides SageMaker refuses, on the algorithm
    for override in OVERRIDES:
        for where in (1, 10):
            out.append("\n".join(lines[:where] + [override] + lines[where:]) + "\n")
    # 5. sizes: axes, nesting, aliases, long lists, deep $ref chains, many keys
    for axes in range(10, 21):
        out.append(BASE_CONFIG.replace("    epochs: 10\n", "".join(f"    a{k}: {{$each: [1, 2]}}\n" for k in range(axes))))
    for depth in (50, 99, 101, 500, 5000):
        out.append("x: " + "[" * depth + "]" * depth + "\n")
        out.append("x: " + "{a: " * depth + "1" + "}" * depth + "\n")
    for count in (10, 100, 1000):
        out.append("a: &a [" + ", ".join(["x"] * count) + "]\nb: [" + ", ".join(["*a"] * count) + "]\n")
    for items in (10_000, 200_000, 1_100_000):
        out.append("x: [" + ",".join(["1"] * items) + "]\n")
    for chain in (10, 63, 64, 65, 200):
        out.append("n0: {v: 1}\n" + "".join(f"n{k + 1}: {{$ref: n{k}}}\n" for k in range(chain)))
    out.append("".join(f"k{k}: {k}\n" for k in range(100_000)))
    # 6. random YAML-ish noise
    alphabet = HOSTILE_CHARS + ["a", "b", " ", "  ", "$ref", "$each", "$from", "$eval", "$None", "<<", "!!str", "0x"]
    for _ in range(300):
        out.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 80))))
    return out


SHOW = False
BAD = ("unlocated", "multiline", "traceback", "slow", "aws-refuses")


def show(area: str, outcome: str, case: Any) -> None:
    if SHOW and outcome in BAD:
        print(f"[{area}] {outcome}: {str(case)[:300]!r}", file=sys.stderr)


def config_campaign(seed: int) -> tuple[collections.Counter, int, float]:
    cases = mutations(random.Random(seed))
    counts: collections.Counter = collections.Counter()
    slowest = 0.0
    for text in cases:
        outcome, elapsed = classify(lambda: plan_all(text), check_plan)
        counts[outcome] += 1
        slowest = max(slowest, elapsed)
        show("configs", outcome, (round(elapsed, 1), text))
    return counts, len(cases), slowest


# ----------------------------------------------------------------------------- CLI and runtool.yml


def cli_case(args: list[str], cwd: Path) -> str:
    """A CLI invocation in-process (output captured, SystemExit caught): exit code and output shape.

    Any other exception reaches ``classify`` and counts as a traceback.
    """
    import contextlib
    import io

    from runtool_iac.cli import main

    os.chdir(cwd)

    def run() -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main.main(args, prog_name="runtool-iac")
                code = 0
            except SystemExit as exc:
                code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
        return code, out.getvalue(), err.getvalue()

    def check(result: tuple[int, str, str]) -> str:
        code, stdout, stderr = result
        lines = [l for l in (stdout + stderr).splitlines() if l.strip()]
        if code == 0:
            return "ok"
        if code == 2:
            return "located"  # a usage error: one "Error: ..." message naming the option
        errors = [l for l in lines if not l.startswith(("  ", "Usage:", "Try "))]
        if all(LOCATED.match(l) or l.startswith("error: ") for l in errors) and errors:
            return "located"
        return "unlocated"

    outcome, _ = classify(run, check)
    return outcome


def cli_campaign(tmp: Path) -> tuple[collections.Counter, collections.Counter, list[tuple[str, str]]]:
    config = tmp / "c.yml"
    config.write_text(BASE_CONFIG)
    fifo = tmp / "fifo.yml"
    os.mkfifo(fifo)
    (tmp / "dir.yml").mkdir()
    (tmp / "empty.yml").write_text("")
    (tmp / "binary.yml").write_bytes(bytes(range(256)))
    (tmp / "latin1.yml").write_bytes(b"a: caf\xe9\n")
    with open(tmp / "huge.yml", "wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    (tmp / "list.yml").write_text("x: [" + ",".join(["1"] * 200_000) + "]\n")
    c = str(config)
    expected_refusals: list[tuple[str, str]] = []
    argument_cases: list[list[str]] = [
        ["validate", c], ["validate", "/dev/zero"], ["validate", "/dev/null"], ["validate", "/dev/urandom"],
        ["validate", str(fifo)], ["validate", str(tmp / "dir.yml")], ["validate", str(tmp / "empty.yml")],
        ["validate", str(tmp / "binary.yml")], ["validate", str(tmp / "latin1.yml")], ["validate", str(tmp / "huge.yml")],
        ["validate", str(tmp / "list.yml")], ["validate", str(tmp / "missing.yml")], ["validate", c, c],
        ["validate", "--project", str(fifo)], ["validate", "--project", "/dev/zero"], ["validate", "--project", str(tmp / "dir.yml")],
        ["plan", c, "-e", "exp"], ["plan", c, "-e", "algorithms * ds"], ["plan", c, "-e", "(" * 5000 + "exp" + ")" * 5000],
        ["plan", c, "-e", "(" * 100 + "exp" + ")" * 100], ["plan", c, "-e", " + ".join(["exp"] * 40000)],
        ["plan", c, "-e", " + ".join(["base"] * 40000) + " * ds"], ["plan", c, "-e", ""], ["plan", c, "-e", "   "],
        ["plan", c, "-e", "exp +"], ["plan", c, "-e", "exp )"], ["plan", c, "-e", "(exp"], ["plan", c, "-e", "ds * ds"],
        ["plan", c, "-e", "nope"], ["plan", c, "-e", "exp\n"], ["plan", c, "-e", "exp $"], ["plan", c, "-e", "é"],
        ["plan", c, "-e", "exp\x00"], ["plan", c, "-e", "'exp'"], ["plan", c, "-e", "base"], ["plan", str(fifo), "-e", "exp"],
        ["plan", "/dev/zero", "-e", "exp"], ["plan", c, "-e", "exp", "--experiment-name", ""],  # "" is the default name
    ]
    refused = [
        ["--bucket", "192.168.1.1"], ["--bucket", "my-bucket\n"], ["--bucket", "xn--bucket"], ["--bucket", "a..b"],
        ["--bucket", "ab"], ["--bucket", "B" * 10], ["--experiment-name", "x\n"],
        ["--experiment-name", "a" * 101], ["--experiment-name", "-x"], ["--tag", "k\n=v"], ["--tag", "k=v\n"],
        ["--tag", "aws:k=v"], ["--tag", "k=" + "v" * 257], ["--tag", "=v"], ["--tag", "novalue"], ["--runs", "0"],
        ["--runs", "1001"], ["--runs", "x"], ["--format", "xml"], ["--tag", "run_number=1"],
    ]
    for extra in refused:
        argument_cases.append(["plan", c, "-e", "exp", *extra])
        expected_refusals.append(("plan " + " ".join(extra), "refused"))
    arguments: collections.Counter = collections.Counter()
    for args in argument_cases:
        outcome = cli_case(args, tmp)
        if args[-2:] in [r[-2:] for r in refused] and outcome == "ok":
            outcome = "aws-refuses"
        arguments[outcome] += 1
        show("cli", outcome, args)

    project_cases = project_mutations()
    projects: collections.Counter = collections.Counter()
    for i, (text, must_refuse) in enumerate(project_cases):
        folder = tmp / f"p{i}"
        folder.mkdir()
        (folder / "c.yml").write_text(BASE_CONFIG)
        (folder / "runtool.yml").write_text(text)
        outcome = cli_case(["validate", "--project", str(folder / "runtool.yml")], folder)
        if must_refuse and outcome == "ok":
            outcome = "aws-refuses"
        projects[outcome] += 1
        show("runtool.yml", outcome, text)
    return arguments, projects, expected_refusals


PROJECT_BASE = {
    "project": "p",
    "configs": ["c.yml"],
    "defaults": {"create_role": True, "create_bucket": True},
    "experiments": {"e": {"experiment": "exp"}},
}
# (path, value, AWS or the product refuses it)
PROJECT_VALUES = [
    (("defaults", "log_retention_days"), v, v not in (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653))
    for v in (1, 2, 4, 30, 31, 366, 3653, 3654, 0, -1, 7.0, 7.5, "30", True, None, float("nan"))
] + [
    (("defaults", "tolerated_failure_percentage"), v, not (isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 100))
    for v in (0, 5, 100, 100.5, -1, float("nan"), float("inf"), float("-inf"), "5", True, 1e-300)
] + [
    (("defaults", "max_concurrency"), v, not (isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 10000))
    for v in (1, 0, 10000, 10001, 2.5, float("nan"), "3", True)
] + [
    (("defaults", "instance_limits"), {k: 2}, k not in ("ml.m5.xlarge", "ml.c5.xlarge", "ml.p3.2xlarge"))
    for k in ("ml.m5.xlarge", "ml.c5.xlarge", "ml.p3.2xlarge", "ml.nope.xlarge", "ml.", "ml.m5.xlarge\n", "m5.xlarge", "ML.M5.XLARGE")
] + [
    (("defaults", "instance_limits"), {"ml.m5.xlarge": v}, not (isinstance(v, int) and not isinstance(v, bool) and v >= 1))
    for v in (1, 0, -1, 2.5, float("nan"), True)
] + [
    (("defaults", "tags"), t, bad)
    for t, bad in (
        ({"team": "x"}, False), ({"flag": True}, False), ({"n": 3}, False), ({"k\n": "v"}, True), ({"k": "v\n"}, True),
        ({"k\t": "v"}, True), ({"aws:k": "v"}, True), ({"k" * 129: "v"}, True), ({"k": "v" * 257}, True), ({"": "v"}, True),
        ({"é k": "v\u3000w"}, False), ({"k": "a\u2028b"}, False), ({"k": None}, False), ({"run_number": "1"}, True),
    )
] + [
    (("defaults", "bucket"), b, bad)
    for b, bad in (("my-bucket", False), ("192.168.1.1", True), ("my-bucket\n", True), ("xn--b", True), ("a..b", True),
                   ("b-s3alias", True), ("UPPER", True), ("ab", True), ("my_bucket", True))
] + [
    (("defaults", "role_arn"), r, bad)
    for r, bad in (("arn:aws:iam::123456789012:role/r", False), ("arn:aws:iam::123456789012:role/r\n", True),
                   ("arn:aws:iam::12345678901:role/r", True), ("arn:aws:iam::١٢٣٤٥٦٧٨٩٠١٢:role/r", True), ("r", True))
] + [
    (("defaults", "notification_email"), e, bad)
    for e, bad in (("a@b.co", False), ("a@b.co\n", True), ("nope", True))
] + [
    (("project",), p, bad)
    for p, bad in (("p", False), ("p\n", True), ("1p", True), ("p" * 33, True), ("", True), ("p_q", True))
] + [
    (("job_prefix",), p, bad)
    for p, bad in (("fc", False), ("fc\n", True), ("FC", True), ("f" * 17, True))
] + [
    (("experiments",), e, bad)
    for e, bad in (({"e\n": {"experiment": "exp"}}, True), ({"e": {"experiment": "(" * 5000 + "exp" + ")" * 5000}}, True),
                   ({"e": {"experiment": "exp", "runs": 0}}, True), ({"e": {"experiment": "exp", "runs": 2.0}}, False),
                   ({"e": {"experiment": "exp", "runs": float("nan")}}, True), ({"e": {"experiment": ""}}, True),
                   ({"e": {"experiment": "exp", "tags": {"k\n": 1}}}, True))
] + [
    (("limits",), l, bad)
    for l, bad in (({"jobs_per_plan": 1}, True), ({"jobs_per_plan": 100}, False), ({"variants_per_node": 1}, True),
                   ({"variants_total": 3}, True), ({"eval_seconds": 0}, True), ({"eval_seconds": float("nan")}, True),
                   ({"nope": 1}, True))
]


def project_mutations() -> list[tuple[str, bool]]:
    import copy

    import yaml

    out = []
    for path, value, bad in PROJECT_VALUES:
        doc = copy.deepcopy(PROJECT_BASE)
        node = doc
        for key in path[:-1]:
            node = node.setdefault(key, {})
        if path[-1] in ("bucket", "role_arn"):
            node.pop("create_bucket" if path[-1] == "bucket" else "create_role", None)
        node[path[-1]] = value
        out.append((yaml.safe_dump(doc, allow_unicode=False), bad))
    for text in ("", "[]", "project: p", "{project: p, configs: [], experiments: {}}", "project: p\nconfigs: ['*.nope']\nexperiments: {e: {experiment: exp}}\n",
                 "project: p\nconfigs: [/dev/zero]\nexperiments: {e: {experiment: exp}}\n", "\x01", "!!binary aGk="):
        out.append((text, True))
    return out


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--show", action="store_true", help="print every case that is not ok or located (stderr)")
    args = parser.parse_args()
    global SHOW
    SHOW = args.show
    limit = 4 * 1024**3
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sys.setrecursionlimit(10_000)
    started = time.monotonic()
    report: dict[str, Any] = {}
    report["eval"] = dict(eval_campaign())
    configs, total, slowest = config_campaign(args.seed)
    report["configs"] = dict(configs)
    report["configs_slowest_s"] = round(slowest, 2)
    with tempfile.TemporaryDirectory() as tmp:
        here = os.getcwd()
        try:
            arguments, projects, _ = cli_campaign(Path(tmp))
        finally:
            os.chdir(here)
    report["cli_arguments"] = dict(arguments)
    report["runtool_yml"] = dict(projects)
    report["seconds"] = round(time.monotonic() - started, 1)
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    outcomes = ["ok", "located", "unlocated", "multiline", "traceback", "slow", "aws-refuses"]
    print("| area | cases | " + " | ".join(outcomes) + " |")
    print("|---|---:|" + "---:|" * len(outcomes))
    for area in ("eval", "configs", "cli_arguments", "runtool_yml"):
        counts = report[area]
        print(f"| {area} | {sum(counts.values()):,} | " + " | ".join(f"{counts.get(o, 0):,}" for o in outcomes) + " |")
    print(f"\nslowest fuzzed config: {report['configs_slowest_s']} s; whole campaign {report['seconds']} s, peak RSS {report['peak_rss_mb']} MB")


if __name__ == "__main__":
    main()
