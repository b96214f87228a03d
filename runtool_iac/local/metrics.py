"""Metrics scraped from a job's log, as SageMaker does with MetricDefinitions.

Each definition's regex is searched in every log line; the first group is the
value, and the last match wins (SageMaker's ``FinalMetricDataList`` holds the
final value of each metric). Lines that match but do not hold a number are
ignored, as SageMaker ignores them.

A metric regex comes from a config file and runs on every log line, so it
must not be able to hang the run: ``(a|aa)+$`` on a long line backtracks for
hours in Python's ``re``, inside one C call that holds the GIL and ignores
Ctrl-C. Regexes run on RE2 (google-re2: linear time, no backtracking). The
few RE2 does not support (look-around, back-references) run in a helper
process with a time limit per batch of lines; one that exceeds it is dropped
for the rest of the job, with a log line saying so. Only the first
``executor.LINE_LIMIT`` characters of a line are searched. Lines are scraped
in batches (only the last value counts), matched line by line.
"""

from __future__ import annotations

import json
import re
import selectors
import subprocess
import sys
import threading
from typing import Any, Callable

try:
    import re2
except ImportError:  # no wheel for this platform: every regex takes the time-limited path
    re2 = None

FALLBACK_TIMEOUT_S = 1.0  # per batch of log lines, for a regex RE2 cannot run
BATCH_CHARS = 64 * 1024  # log lines are scraped in batches: one regex call per batch, not per line

_WORKER_SOURCE = r"""
import json, re, sys
pattern = re.compile(sys.argv[1])
for batch in sys.stdin:
    found = None
    for line in reversed(json.loads(batch)):
        values = []
        for m in pattern.finditer(line):
            try:
                values.append(float(m.group(1) if pattern.groups else m.group(0)))
            except (TypeError, ValueError):
                pass
        if values:
            found = values[-1]
            break
    sys.stdout.write(json.dumps(found) + "\n")
    sys.stdout.flush()
"""


class InvalidMetricRegex(ValueError):
    """A MetricDefinitions regex neither RE2 nor Python can compile."""


def _numbers(pattern: Any, text: str) -> list[float]:
    """The values of ``pattern``'s matches in ``text`` that are numbers (first group, else the match)."""
    values = []
    for match in pattern.finditer(text):
        try:
            values.append(float(match.group(1) if pattern.groups else match.group(0)))
        except (TypeError, ValueError):
            continue
    return values


class _Re2Pattern:
    """A regex on RE2, matched line by line (``(?m)``, never across a newline) over a batch of lines."""

    def __init__(self, compiled: Any) -> None:
        self._compiled = compiled

    @classmethod
    def compile(cls, regex: str) -> _Re2Pattern | None:
        """None if RE2 does not support the regex's syntax (or is not installed)."""
        if re2 is None:
            return None
        options = re2.Options()
        options.log_errors = False
        options.never_nl = True
        try:
            return cls(re2.compile(f"(?m){regex}", options))
        except re2.error:
            return None

    def last_value(self, lines: list[str]) -> float | None:
        """The last number matched in ``lines``: bisects to the last matching line (one call per halving,
        where Python code per match would cost more than the match itself)."""
        end = len(lines)
        while end > 0:
            if not self._compiled.search("\n".join(lines[:end])):
                return None
            start = 0
            while end - start > 1:
                middle = (start + end) // 2
                if self._compiled.search("\n".join(lines[middle:end])):
                    start = middle
                else:
                    end = middle
            values = _numbers(self._compiled, lines[start])
            if values:
                return values[-1]
            end = start
        return None

    def close(self) -> None:
        pass


class _BacktrackingPattern:
    """A Python ``re`` pattern run in a helper process, each batch of lines with a time limit."""

    def __init__(self, regex: str, on_drop: Callable[[str], None]) -> None:
        self.regex: str | None = regex
        self._on_drop = on_drop
        self._proc: subprocess.Popen[str] | None = None

    def last_value(self, lines: list[str]) -> float | None:
        if self.regex is None:
            return None
        if self._proc is None:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _WORKER_SOURCE, self.regex],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
            )
        assert self._proc.stdin and self._proc.stdout
        try:
            self._proc.stdin.write(json.dumps(lines) + "\n")
            self._proc.stdin.flush()
            with selectors.DefaultSelector() as selector:
                selector.register(self._proc.stdout, selectors.EVENT_READ)
                if selector.select(FALLBACK_TIMEOUT_S):
                    answer = self._proc.stdout.readline()
                    if answer:
                        return json.loads(answer)
        except (OSError, ValueError):
            pass
        self._on_drop(self.regex)
        self.regex = None
        self.close()
        return None

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None


class MetricScraper:
    def __init__(self, definitions: list[dict], on_drop: Callable[[str], None] = lambda regex: None) -> None:
        self._names = [d["Name"] for d in definitions]
        self._patterns: list[tuple[str, _Re2Pattern | _BacktrackingPattern]] = []
        for d in definitions:
            pattern: _Re2Pattern | _BacktrackingPattern | None = _Re2Pattern.compile(d["Regex"])
            if pattern is None:
                try:
                    re.compile(d["Regex"])
                except re.error as exc:
                    raise InvalidMetricRegex(f"metric '{d['Name']}': invalid regex {d['Regex']!r}: {exc}") from None
                pattern = _BacktrackingPattern(d["Regex"], on_drop)
            self._patterns.append((d["Name"], pattern))
        self._values: dict[str, float] = {}
        self._pending: list[str] = []
        self._pending_chars = 0
        self._lock = threading.Lock()

    def feed(self, line: str) -> None:
        with self._lock:
            self._pending.append(line)
            self._pending_chars += len(line) + 1
            if self._pending_chars >= BATCH_CHARS:
                self._flush()

    def _flush(self) -> None:
        lines, self._pending, self._pending_chars = self._pending, [], 0
        if not lines:
            return
        for name, pattern in self._patterns:
            value = pattern.last_value(lines)
            if value is not None:
                self._values[name] = value

    def close(self) -> None:
        """Scrape what is pending, then end the helper processes."""
        with self._lock:
            self._flush()
            for _, pattern in self._patterns:
                pattern.close()

    @property
    def values(self) -> dict[str, float]:
        """The last value of each metric seen so far."""
        with self._lock:
            self._flush()
            return dict(self._values)

    def final_metric_data(self) -> list[dict]:
        """``FinalMetricDataList`` in definition order (only metrics that were seen)."""
        values = self.values
        return [{"MetricName": name, "Value": values[name]} for name in dict.fromkeys(self._names) if name in values]
