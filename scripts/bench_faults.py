#!/usr/bin/env python3
"""The fault table for RELIABILITY.md: run the real-Asterisk fault tests and print, per
fault, what it cost (calls in progress at the fault, attempts, attempts lost, outcomes
wrong, double dials) and whether every attempt held true.

    export DIALER_TEST_ASTERISK=../shared/asterisk/asterisk
    export DIALER_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python scripts/bench_faults.py [-k EXPR] [--out table.md]

Each test's checker (tests/asterisk/truth.py `assert_every_attempt_true`) appends its
figures to a JSON-lines file named by DIALER_FAULT_RESULTS; a failing test still records
them first, and its problems (which attempt, stored vs. true outcome) follow the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS_ENV = "DIALER_FAULT_RESULTS"  # tests/asterisk/truth.py reads the same name
COLUMNS = ("fault", "calls in progress at the fault", "attempts", "attempts lost", "outcomes wrong",
           "double dials", "closed unknown (reason stored)", "all true")


def table(rows: list[dict[str, object]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        problems = r.get("problems") or []
        lines.append(
            f"| {r['fault']} | {r['in_progress']} | {r['attempts']} | {r['lost']} | {r['wrong']}"
            f" | {r['double_dials']} | {r.get('unknown', 0)}"
            f" | {'yes' if not problems else f'no ({len(problems)})'} |"  # type: ignore[arg-type]
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", default="fault", help="pytest -k expression (default: every fault test)")
    parser.add_argument("--out", type=Path, help="also write the markdown here")
    args = parser.parse_args()
    if not os.environ.get("DIALER_TEST_ASTERISK"):
        print("set DIALER_TEST_ASTERISK to an asterisk command (e.g. ../shared/asterisk/asterisk)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "faults.jsonl"
        env = {**os.environ, RESULTS_ENV: str(results),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/asterisk/test_faults.py",
             "-k", args.k, "-rf"],
            cwd=ROOT, env=env, capture_output=True, text=True,
        )
        rows = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    summary = [line for line in run.stdout.splitlines() if line.startswith(("FAILED", "ERROR")) or " passed" in line
               or " failed" in line]
    out = [table(rows), ""]
    for r in rows:
        for problem in r.get("problems") or []:
            out.append(f"- {r['fault']}: {problem}")
    out += ["", "```", *summary, "```"]
    text = "\n".join(out)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
