"""scripts/bench_predictive_ab.py end to end, on a results file the sampler script wrote."""

from __future__ import annotations

import json
from pathlib import Path

from tests.pacing.scripts import ROOT, SAMPLER, run

SCRIPT = ROOT / "scripts" / "bench_predictive_ab.py"


def _results(tmp_path: Path) -> Path:
    results = tmp_path / "rows.jsonl"
    made = run(SAMPLER, "--scenarios", "12", "--seeds", "1", "--hours", "0.1", "--sample-seed", "7",
               "--only", "s011", "--policies", "progressive,predictive", "--out", str(results))
    assert made.returncode == 0, made.stderr
    return results


def test_a_variant_is_compared_with_the_defaults_on_fresh_seeds(tmp_path: Path) -> None:
    results, out = _results(tmp_path), tmp_path / "ab.jsonl"
    args = ("--results", str(results), "--only", "s011", "--seeds", "2,3", "--out", str(out),
            "--variant", "same={}", "--variant", 'bold={"theta": 1.0, "min_observations": 1}')
    got = run(SCRIPT, *args)
    assert got.returncode == 0, got.stderr
    assert "1 scenarios x 4 plays x 2 seeds: 8 shifts to play" in got.stdout
    played = [json.loads(line) for line in out.read_text().splitlines()]
    assert {(p["variant"], p["seed"]) for p in played} == {
        (v, k) for v in ("progressive", "defaults", "same", "bold") for k in (2, 3)}
    # Common random numbers: the defaults under another name play the very same shifts.
    busy = {(p["variant"], p["seed"]): p["busy"] for p in played}
    assert all(busy[("same", k)] == busy[("defaults", k)] for k in (2, 3))
    lines = got.stdout.splitlines()
    paired = lines[lines.index("| variant - defaults | scenarios | mean difference in G (95 %) |"
                               " mean difference in busy (95 %) |"):]
    assert any(x.startswith("| same | 1 | +0.000 | +0.0000 |") for x in paired), paired
    assert any(x.startswith("| bold | 1 | ") for x in paired)
    # Resumed: nothing is played twice; changed settings under a label are played again.
    again = run(SCRIPT, *args)
    assert again.returncode == 0 and "0 shifts to play" in again.stdout
    changed = run(SCRIPT, *args[:-1], 'bold={"theta": 0.5}')
    assert changed.returncode == 0 and "2 shifts to play" in changed.stdout


def test_refuses_bad_variants_a_missing_file_and_an_empty_selection(tmp_path: Path) -> None:
    missing = run(SCRIPT, "--results", str(tmp_path / "none.jsonl"), "--variant", "a={}")
    assert missing.returncode != 0 and "no results file" in missing.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"kind": "meta", "sample_seed": 7, "hours": 0.1}\n')
    got = run(SCRIPT, "--results", str(empty), "--variant", "a={}")
    assert got.returncode != 0 and "no scenario chosen" in got.stderr
    for bad, says in (("theta=0.01", "must be a JSON object"), ("x={theta: 1}", "not JSON"),
                      ("={}", "LABEL=JSON"), ("defaults={}", "must be unique"),
                      ('typo={"thetaa": 0.01}', "thetaa")):
        refused = run(SCRIPT, "--results", str(empty), "--variant", bad)
        assert refused.returncode != 0 and says in refused.stderr, (bad, refused.stderr)
    none = run(SCRIPT, "--results", str(empty))
    assert none.returncode != 0 and "at least one --variant" in none.stderr
