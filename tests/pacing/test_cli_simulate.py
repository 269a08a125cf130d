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
