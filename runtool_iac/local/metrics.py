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
process with a time limit per line; one that exceeds it is dropped for the
rest of the job, with a log line saying so. Only the first
``executor.LINE_LIMIT`` characters of a line are searched.
"""

from __future__ import annotations

import json
import re
import selectors
import subprocess
import sys
from typing import Any, Callable, Iterable

try:
    import re2
except ImportError:  # no wheel for this platform: every regex takes the time-limited path
    re2 = None

FALLBACK_TIMEOUT_S = 1.0  # per log line, for a regex RE2 cannot run

_WORKER_SOURCE = r"""
import json, re, sys
pattern = re.compile(sys.argv[1])
for line in sys.stdin:
    found = [m.group(1) if pattern.groups else m.group(0) for m in pattern.finditer(json.loads(line))]
    sys.stdout.write(json.dumps(found) + "\n")
    sys.stdout.flush()
"""


def _re2(regex: str) -> Any | None:
    """The regex compiled by RE2, or None if RE2 does not support its syntax (or is not installed)."""
    if re2 is None:
        return None
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(regex, options)
    except re2.error:
        return None


class InvalidMetricRegex(ValueError):
    """A MetricDefinitions regex neither RE2 nor Python can compile."""


class _BacktrackingPattern:
    """A Python ``re`` pattern run in a helper process, each line with a time limit."""

    def __init__(self, regex: str, on_drop: Callable[[str], None]) -> None:
        self.regex: str | None = regex
        self._on_drop = on_drop
        self._proc: subprocess.Popen[str] | None = None

    def matches(self, line: str) -> list[str]:
        if self.regex is None:
            return []
        if self._proc is None:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _WORKER_SOURCE, self.regex],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
            )
        assert self._proc.stdin and self._proc.stdout
        try:
            self._proc.stdin.write(json.dumps(line) + "\n")
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
        return []

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None


class MetricScraper:
    def __init__(self, definitions: list[dict], on_drop: Callable[[str], None] = lambda regex: None) -> None:
        self._names = [d["Name"] for d in definitions]
        self._patterns: list[tuple[str, Any]] = []
        for d in definitions:
            compiled = _re2(d["Regex"])
            if compiled is None:
                try:
                    re.compile(d["Regex"])
                except re.error as exc:
                    raise InvalidMetricRegex(f"metric '{d['Name']}': invalid regex {d['Regex']!r}: {exc}") from None
                compiled = _BacktrackingPattern(d["Regex"], on_drop)
            self._patterns.append((d["Name"], compiled))
        self.values: dict[str, float] = {}

    def feed(self, line: str) -> None:
        for name, pattern in self._patterns:
            if isinstance(pattern, _BacktrackingPattern):
                self._record(name, pattern.matches(line))
            else:
                self._record(name, (m.group(1) if pattern.groups else m.group(0) for m in pattern.finditer(line)))

    def _record(self, name: str, texts: Iterable[str | None]) -> None:
        for text in texts:
            try:
                self.values[name] = float(text)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue

    def close(self) -> None:
        for _, pattern in self._patterns:
            if isinstance(pattern, _BacktrackingPattern):
                pattern.close()

    def final_metric_data(self) -> list[dict]:
        """``FinalMetricDataList`` in definition order (only metrics that were seen)."""
        return [{"MetricName": name, "Value": self.values[name]} for name in dict.fromkeys(self._names) if name in self.values]
