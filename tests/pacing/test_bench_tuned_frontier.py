"""scripts/bench_tuned_frontier.py end to end, on a results file the sampler script wrote."""

from __future__ import annotations

import json
from pathlib import Path

from tests.pacing.scripts import ROOT, SAMPLER, run

SCRIPT = ROOT / "scripts" / "bench_tuned_frontier.py"


def test_the_frontier_is_the_best_run_set_within_the_cap(tmp_path: Path) -> None:
    results, out, report = tmp_path / "rows.jsonl", tmp_path / "frontier.jsonl", tmp_path / "f.md"
    made = run(SAMPLER, "--scenarios", "12", "--seeds", "1", "--hours", "0.1", "--sample-seed", "7",
               "--only", "s011", "--policies", "progressive,pi,predictive", "--out", str(results))
    assert made.returncode == 0, made.stderr
    got = run(SCRIPT, "--results", str(results), "--only", "s011", "--seeds", "1",
              "--out", str(out), "--markdown", str(report))
    assert got.returncode == 0, got.stderr
    assert "1 scenarios x 4 variants x 1 seeds: 4 shifts to play" in got.stdout
    played = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(played) == 4
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    # One seed: every run is a run set; the best of those within the cap (progressive's
    # always is) is the frontier.
    within = [r["busy"] for r in [*rows, *played] if r.get("kind", "run") == "run"
              and r["abandon_rate"] <= 0.03]
    line = next(x for x in report.read_text().splitlines() if x.startswith("| s011-"))
    assert abs(float(line.split("|")[3].split()[0]) - max(within)) < 1e-3
    # Resumed: nothing is played twice.
    again = run(SCRIPT, "--results", str(results), "--only", "s011", "--seeds", "1", "--out", str(out))
    assert again.returncode == 0 and "0 shifts to play" in again.stdout


def test_refuses_a_missing_file_and_an_empty_selection(tmp_path: Path) -> None:
    missing = run(SCRIPT, "--results", str(tmp_path / "none.jsonl"))
    assert missing.returncode != 0 and "no results file" in missing.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"kind": "meta", "sample_seed": 7, "hours": 0.1}\n')
    got = run(SCRIPT, "--results", str(empty))
    assert got.returncode != 0 and "no scenario to tune" in got.stderr
