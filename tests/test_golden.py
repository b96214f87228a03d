"""Plans of the bundled examples are byte-identical to the stored ones (tests/golden/).

A failure here means planning output changed. If that was intended, run
`python tests/golden/regenerate.py` and commit the regenerated files with the change.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"
_spec = importlib.util.spec_from_file_location("golden_regenerate", GOLDEN / "regenerate.py")
regenerate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(regenerate)


@pytest.mark.parametrize("name", sorted(regenerate.CASES))
def test_plan_matches_the_stored_one(name):
    stored = (GOLDEN / name).read_text(encoding="utf-8")
    assert regenerate.CASES[name]() == stored, f"{name} changed; if intended, run python tests/golden/regenerate.py"


def test_every_stored_plan_has_a_case():
    stored = {p.name for p in GOLDEN.iterdir() if p.is_file() and p.name != "regenerate.py"}
    assert stored == set(regenerate.CASES)
