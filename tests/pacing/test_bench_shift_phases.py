"""scripts/bench_shift_phases.py end to end, on a results file the sampler script wrote."""

from __future__ import annotations

import json
from pathlib import Path

from tests.pacing.scripts import ROOT, SAMPLER, run

SCRIPT = ROOT / "scripts" / "bench_shift_phases.py"
HOURS = 0.1  # six-minute shifts, split at two minutes


def _results(tmp_path: Path) -> Path:
    results = tmp_path / "rows.jsonl"
    made = run(SAMPLER, "--scenarios", "12", "--seeds", "2", "--hours", str(HOURS),
               "--sample-seed", "7", "--only", "s011", "--policies", "progressive,predictive",
               "--out", str(results))
    assert made.returncode == 0, made.stderr
    return results


def test_splits_busy_time_and_budget_spent_ticks_at_the_split(tmp_path: Path) -> None:
    results, out = _results(tmp_path), tmp_path / "phases.jsonl"
    args = ("--results", str(results), "--only", "s011", "--seeds", "1,2", "--split", "2",
            "--out", str(out))
    got = run(SCRIPT, *args)
    assert got.returncode == 0, got.stderr
    assert "1 scenarios x 2 seeds: 2 shifts to play" in got.stdout
    played = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(p["seed"] for p in played) == [1, 2]
    for p in played:
        # The two parts, weighted by their length, make up the shift's own busy time.
        first, after = p["busy_parts"]
        whole = (first * 2.0 + after * (HOURS * 60.0 - 2.0)) / (HOURS * 60.0)
        assert abs(whole - p["busy"]) < 0.05, p
        assert all(0.0 <= e <= 1.0 for e in p["exhausted_parts"])
    assert "| scenario | G | G after 2 min |" in got.stdout
    assert "1 scenarios, seeds 1,2:" in got.stdout
    # Resumed: nothing played twice.
    again = run(SCRIPT, *args)
    assert again.returncode == 0 and "0 shifts to play" in again.stdout
    # A budget that can never be positive: every tick with agents is paced progressively.
    spent = run(SCRIPT, *args, "--settings", '{"budget_margin": 1000000}')
    assert spent.returncode == 0, spent.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    broke = [r for r in rows if r["settings"] == {"budget_margin": 1000000}]
    assert len(broke) == 2
    assert all(min(r["exhausted_parts"]) > 0.9 for r in broke), broke
    assert "budget spent on > 10 % of the first 2 min's ticks: 1" in spent.stdout


def test_refuses_bad_settings_a_bad_split_and_a_missing_file(tmp_path: Path) -> None:
    missing = run(SCRIPT, "--results", str(tmp_path / "none.jsonl"))
    assert missing.returncode != 0 and "no results file" in missing.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"kind": "meta", "sample_seed": 7, "hours": 0.1}\n')
    refusals = ((("--settings", "{theta: 1}"), "--settings"),
                (("--settings", "[1]"), "JSON object"),
                (("--settings", '{"thetaa": 1}'), "thetaa"),
                (("--split", "0"), "--split must be > 0"),
                (("--split", "6"), "shorter than the shift"))
    for extra, says in refusals:
        refused = run(SCRIPT, "--results", str(empty), *extra)
        assert refused.returncode != 0 and says in refused.stderr, (extra, refused.stderr)
    got = run(SCRIPT, "--results", str(empty), "--split", "2")
    assert got.returncode != 0 and "no scenario chosen" in got.stderr
