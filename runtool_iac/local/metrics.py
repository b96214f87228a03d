"""Metrics scraped from a job's log, as SageMaker does with MetricDefinitions.

Each definition's regex is searched in every log line; the first group is the
value, and the last match wins (SageMaker's ``FinalMetricDataList`` holds the
final value of each metric). Lines that match but do not hold a number are
ignored, as SageMaker ignores them.
"""

from __future__ import annotations

import re


class MetricScraper:
    def __init__(self, definitions: list[dict]) -> None:
        self._patterns = [(d["Name"], re.compile(d["Regex"])) for d in definitions]
        self.values: dict[str, float] = {}

    def feed(self, line: str) -> None:
        for name, pattern in self._patterns:
            for match in pattern.finditer(line):
                try:
                    self.values[name] = float(match.group(1) if pattern.groups else match.group(0))
                except ValueError:
                    continue

    def final_metric_data(self) -> list[dict]:
        """``FinalMetricDataList`` in definition order (only metrics that were seen)."""
        return [{"MetricName": name, "Value": self.values[name]} for name, _ in self._patterns if name in self.values]
