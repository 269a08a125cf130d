"""`dialer simulate`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dialer.cli.main import app

REQUIRED = {"policy", "occupancy", "busy", "abandon_rate", "calls_per_agent_hour",
            "mean_agent_wait_s", "attempts", "human_answers", "abandons", "optimum_busy",
            "gap_closure"}


def test_json_one_object_per_policy() -> None:
    r = CliRunner().invoke(app, ["simulate", "--agents", "4", "--hours", "0.2", "--json",
                                 "-p", "progressive", "-p", "predictive", "--seeds", "2"])
    assert r.exit_code == 0, r.output
    objs = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert [o["policy"] for o in objs] == ["progressive", "predictive"]
    for o in objs:
        assert set(o) >= REQUIRED
        assert o["optimum_busy"] is not None
    assert objs[0]["gap_closure"] == 0.0


def test_scenario_file_and_table(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text(
        'name = "pilot"\nagents = 3\nhours = 0.2\npolicies = ["ratio", "pi"]\n'
        '[world]\nhuman_rate = 0.4\ntalk = {kind = "lognormal", mean = 120, cv = 0.8}\n'
        '[policy.ratio]\nlevel = 1.5\n'
    )
    r = CliRunner().invoke(app, ["simulate", "--scenario", str(f), "--no-optimum"])
    assert r.exit_code == 0, r.output
    assert "ratio" in r.stdout and "pi" in r.stdout
    r2 = CliRunner().invoke(app, ["simulate", "--scenario", str(f), "--json"])
    objs = [json.loads(line) for line in r2.stdout.splitlines() if line.startswith("{")]
    assert {o["policy"] for o in objs} == {"ratio", "pi"}
    assert all(o["optimum_busy"] is None for o in objs)  # lognormal talk


def test_unknown_policy_is_an_error() -> None:
    r = CliRunner().invoke(app, ["simulate", "--hours", "0.1", "-p", "oracle"])
    assert r.exit_code != 0


def test_trace_records_every_tick_and_the_calibration_reads_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    trace = tmp_path / "trace.jsonl"
    r = CliRunner().invoke(app, ["simulate", "--agents", "30", "--hit-rate", "0.25", "--hours", "0.25",
                                 "-p", "predictive", "--seeds", "2", "--no-optimum", "--trace", str(trace)])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in trace.read_text().splitlines()]
    assert len(rows) == 900 and {row["seed"] for row in rows} == {1}  # one tick a second, first seed
    modelled = [row for row in rows if row["reason"] == "predictive"]
    assert modelled, "the policy never left its warm-up in 15 minutes"
    for key in ("expected_lost", "hit_rate", "answers_per_dial", "free_agents", "headroom", "horizon_s"):
        assert key in modelled[0]
    assert sum(row["calls"] for row in rows) > 0 and rows[-1]["answers"] > 0
    out = subprocess.run([sys.executable, "scripts/pacing_calibration.py", str(trace)],
                         capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[1].startswith("all ") and "answers per dial" in out


def test_trace_follows_one_policy(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["simulate", "--hours", "0.1", "-p", "pi", "-p", "predictive",
                                 "--trace", str(tmp_path / "t.jsonl")])
    assert r.exit_code != 0 and "--trace follows one policy" in r.output
    assert not (tmp_path / "t.jsonl").exists()
