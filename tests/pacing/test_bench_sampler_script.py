"""scripts/bench_pacing_sampler.py end to end: runs, writes rows, resumes, re-runs one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pacing.policies import POLICY_NAMES

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "bench_pacing_sampler.py"
# Sample 7 starts with two small, cheap scenarios (6 and 22 agents).
ARGS = ["--scenarios", "2", "--seeds", "1", "--hours", "0.1", "--sample-seed", "7",
        "--workers", "2"]


def run(*args: str) -> str:
    proc = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True,
                          text=True, timeout=240, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_runs_resumes_and_reruns_one(tmp_path: Path) -> None:
    out = tmp_path / "rows.jsonl"
    md = tmp_path / "report.md"
    first = run(*ARGS, "--out", str(out), "--markdown", str(md))
    assert "12 tasks to do (2 references)" in first
    got = rows(out)
    runs = [r for r in got if r.get("kind") == "run"]
    optima = [r for r in got if r.get("kind") == "optimum"]
    metas = [r for r in got if r.get("kind") == "meta"]
    assert len(runs) == 2 * len(POLICY_NAMES) and len(optima) == 2 and len(metas) == 1
    assert {r["policy"] for r in runs} == set(POLICY_NAMES)
    assert {r["scenario"] for r in runs} == {o["scenario"] for o in optima}
    assert all(r["conservation_errors"] == [] and r["seed"] == 1 for r in runs)
    assert {o["label"] for o in optima} == {"cmdp-exponentialised+amd"}
    assert metas[0]["command"].startswith("scripts/bench_pacing_sampler.py --scenarios 2")
    report = md.read_text()
    assert "## Issue 11's criteria for predictive" in report
    assert "Runs: 10 shifts on 2 scenarios (1 with >= 20 agents, 1 with 5-19)" in report

    # Resume: nothing left to do, nothing re-run, the file unchanged.
    before = out.read_text()
    again = run(*ARGS, "--out", str(out))
    assert "0 tasks to do (0 references), 10 runs already" in again
    assert out.read_text() == before

    # A different sample in the same file is refused.
    other = ["--scenarios", "2", "--seeds", "1", "--hours", "0.2", "--sample-seed", "7"]
    proc = subprocess.run([sys.executable, str(SCRIPT), *other, "--out", str(out)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode != 0 and "not 7 with 0.2 h" in proc.stderr

    # --only re-runs one scenario's rows of the chosen policies, keeping the reference.
    name = next(o["scenario"] for o in optima if o["scenario"].startswith("s000-"))
    only = run(*ARGS, "--out", str(out), "--only", "s000", "--policies", "predictive")
    assert f"dropped 1 earlier rows of {name}" in only
    assert "1 tasks to do (0 references)" in only
    after = rows(out)
    assert len([r for r in after if r.get("kind") == "run"]) == 10
    assert len([r for r in after if r.get("kind") == "optimum"]) == 2

    # The report alone, from the file.
    alone = run("--report-only", "--out", str(out))
    assert "## Distribution over scenarios, >= 20 agents" in alone
    assert name in alone
