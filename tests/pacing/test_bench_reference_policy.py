"""scripts/bench_reference_policy.py end to end, on a results file the sampler script wrote."""

from __future__ import annotations

from pathlib import Path

from tests.pacing.scripts import ROOT, SAMPLER, run

SCRIPT = ROOT / "scripts" / "bench_reference_policy.py"


def test_plays_the_reference_rule_of_plain_cmdp_scenarios(tmp_path: Path) -> None:
    out = tmp_path / "rows.jsonl"
    # Scenario 11 of sample 7 is exponential with no AMD, drift or churn (label `cmdp`);
    # scenario 9 is not (`cmdp-exponentialised`) and must be left out.
    made = run(SAMPLER, "--scenarios", "12", "--seeds", "1", "--hours", "0.1",
               "--sample-seed", "7", "--only", "s011", "--only", "s009",
               "--policies", "progressive,predictive", "--out", str(out))
    assert made.returncode == 0, made.stderr
    got = run(SCRIPT, "--results", str(out))
    assert got.returncode == 0, got.stderr
    assert "1 scenarios with a plain cmdp reference x 1 seeds" in got.stdout
    line = next(x for x in got.stdout.splitlines() if x.startswith("| s011-"))
    rule_g = float(line.split("|")[3].split()[0])
    assert -1.0 < rule_g < 2.0
    assert "s009" not in got.stdout
    assert "rule: median G" in got.stdout


def test_refuses_a_file_without_a_plain_cmdp_scenario(tmp_path: Path) -> None:
    missing = run(SCRIPT, "--results", str(tmp_path / "none.jsonl"))
    assert missing.returncode != 0 and "no results file" in missing.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"kind": "meta", "sample_seed": 7, "hours": 0.1}\n')
    got = run(SCRIPT, "--results", str(empty))
    assert got.returncode != 0 and "no scenario with a plain `cmdp` reference" in got.stderr
