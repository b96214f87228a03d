"""Caps that keep one config from expanding or computing without bound.

A few bytes of YAML can describe billions of variants (17 two-valued
``$each`` axes are 131,072), so sizes are checked *before* expanding, and
every ``$eval`` of one load (or one plan) shares one time budget. The
defaults fit the largest plans we benchmark (100,000 jobs); a project raises
them in ``runtool.yml`` under ``limits:``.
"""

from __future__ import annotations

from runtool_iac.records import Record


class Limits(Record):
    __slots__ = ("variants_per_node", "variants_total", "jobs_per_plan", "eval_seconds")

    def __init__(
        self,
        variants_per_node: int = 10_000,
        variants_total: int = 100_000,
        jobs_per_plan: int = 100_000,
        eval_seconds: float = 10.0,
    ) -> None:
        self.variants_per_node, self.variants_total = variants_per_node, variants_total
        self.jobs_per_plan, self.eval_seconds = jobs_per_plan, eval_seconds

    @staticmethod
    def hint(setting: str) -> str:
        return f"raise limits.{setting} in runtool.yml if this is intended"


DEFAULT_LIMITS = Limits()
