"""Corruption campaign for `runtool-iac results` (issue 13, deliverable 6): outcomes by class.

    python tests/campaigns/results_corruptions.py             # the code in this checkout
    python tests/campaigns/results_corruptions.py --code DIR  # another checkout (e.g. before a change)

Each corruption of tests/test_results_damaged.py (CASES) is applied to one
of two local runs, and the CLI of the chosen checkout reads the folder, in
table and in JSON form. Outcome classes: clean (the damaged file named on
stderr, the other run shown, exit 3), traceback, hang (over 15 s), unnamed
(an error that does not name the file), hides-others (the undamaged run is
not shown), exit-code. Not collected by pytest (not named test_*).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from test_results_damaged import BAD_RUN, CASES, GOOD_RUN, entry  # noqa: E402

from runtool_iac import results  # noqa: E402

EXIT_SKIPPED = 3
TIMEOUT_S = 15


def fixture(folder: Path) -> Path:
    out = folder / "out"
    results.write_result_files(out / "exp" / "_results" / GOOD_RUN, [entry("good-1", "good")])
    results.write_result_files(out / "exp" / "_results" / BAD_RUN, [entry("bad-1", "bad"), entry("bad-2", "bad", "FAILED")])
    return out


def classify(name: str, fmt: str, code_dir: Path) -> list[str]:
    damage, reported, _ = CASES[name]
    out = fixture(Path(tempfile.mkdtemp(prefix="corrupt-")))
    damage(out)
    command = [sys.executable, "-m", "runtool_iac", "results", str(out), "--format", fmt]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=out.parent,  # not this checkout
                              env={"PYTHONPATH": str(code_dir), "PATH": "/usr/bin:/bin"})
    except subprocess.TimeoutExpired:
        return ["hang"]
    problems = []
    if "Traceback" in proc.stderr:
        problems.append("traceback")
    elif not any(reported in line and str(out) in line for line in proc.stderr.splitlines()):
        problems.append("unnamed")
    if "good-1" not in proc.stdout:
        problems.append("hides-others")
    if proc.returncode != EXIT_SKIPPED:
        problems.append("exit-code")
    return problems or ["clean"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose runtool_iac to run (default: this one)")
    options = parser.parse_args()
    by_class: dict[str, int] = {}
    runs = 0
    for name in sorted(CASES):
        for fmt in ("table", "json"):
            classes = classify(name, fmt, options.code.resolve())
            runs += 1
            for c in classes:
                by_class[c] = by_class.get(c, 0) + 1
            print(f"{', '.join(classes):<32} {name} ({fmt})", flush=True)
    print(f"\n{len(CASES)} corruptions x 2 formats = {runs} runs: " + ", ".join(f"{k} {v}" for k, v in sorted(by_class.items())))
    return 0 if set(by_class) <= {"clean"} else 1


if __name__ == "__main__":
    sys.exit(main())
