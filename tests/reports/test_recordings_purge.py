"""`dialer recordings purge`: recordings past their campaign's retention are deleted, the
attempt keeps its path and is stamped; everything else is left alone."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import asyncpg

from tests.engine.harness import make_campaign, numbers
from tests.foundation.helpers import dialer


def _write(path: Path, size: int) -> None:
    path.write_bytes(b"\0" * size)


async def _recorded(url: str, campaign: str, path: Path, age_days: float, size: int = 1000) -> uuid.UUID:
    """An ended, recorded attempt of `campaign`, `age_days` old, whose file is `path`
    (written with `size` bytes; size < 0: no file)."""
    if size >= 0:
        _write(path, size)
    conn = await asyncpg.connect(url)
    try:
        campaign_id, contact_id = await conn.fetchrow(
            "SELECT c.id, ct.id FROM campaigns c JOIN contacts ct ON ct.campaign_id = c.id WHERE c.name = $1 LIMIT 1",
            campaign)
        attempt_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO call_attempts (id, campaign_id, contact_id, number, attempt_no, engine_id, created_at,"
            " originated_at, ended_at, outcome, recording_path, recording_seconds)"
            " VALUES ($1, $2, $3, '+12125550100', 1, 'e1', now() - make_interval(days => $4),"
            " now() - make_interval(days => $4), now() - make_interval(days => $4), 'answered', $5, 30)",
            attempt_id, campaign_id, contact_id, age_days, str(path),
        )
        return attempt_id
    finally:
        await conn.close()


async def _purged(url: str) -> dict[uuid.UUID, tuple[str | None, bool]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT id, recording_path, recording_purged_at IS NOT NULL AS purged"
                                " FROM call_attempts")
        return {r["id"]: (r["recording_path"], r["purged"]) for r in rows}
    finally:
        await conn.close()


async def test_purge_deletes_only_past_retention(database_url: str, tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    calls.mkdir()
    # cn keeps recordings 30 days; `keep60` keeps them 60; `forever` (us) sets none.
    await make_campaign(database_url, tmp_path, numbers(1), start=False, name="cn30", regulation="cn",
                        compliance={"fallback_zone": "Asia/Shanghai"}, dial_template="Local/{number}@sim-pstn")
    await make_campaign(database_url, tmp_path, numbers(1, "312"), start=False, name="keep60",
                        compliance={"recording_retention_days": 60})
    await make_campaign(database_url, tmp_path, numbers(1, "415"), start=False, name="forever")
    old = await _recorded(database_url, "cn30", calls / "old.wav", 31)
    young = await _recorded(database_url, "cn30", calls / "young.wav", 29)
    gone = await _recorded(database_url, "cn30", calls / "gone.wav", 40, size=-1)
    mid = await _recorded(database_url, "keep60", calls / "mid.wav", 45)
    ancient = await _recorded(database_url, "keep60", calls / "ancient.wav", 61)
    never = await _recorded(database_url, "forever", calls / "never.wav", 400)

    dry = dialer(database_url, "recordings", "purge", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "cn30: kept 30 days; would delete 1 recordings" in dry.output and "1 already missing" in dry.output
    assert "keep60: kept 60 days; would delete 1 recordings" in dry.output
    assert "forever: no retention set, recordings kept" in dry.output
    assert all(p.exists() for p in calls.glob("*.wav")) and len(list(calls.glob("*.wav"))) == 5
    assert not any(purged for _, purged in (await _purged(database_url)).values())

    result = dialer(database_url, "recordings", "purge")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in calls.glob("*.wav")) == ["mid.wav", "never.wav", "young.wav"]
    state = await _purged(database_url)
    assert {a for a, (_, purged) in state.items() if purged} == {old, gone, ancient}
    # The audit trail keeps what was recorded and where.
    assert state[old][0] == str(calls / "old.wav")
    export = dialer(database_url, "attempts", "export", "--campaign", "cn30", "--format", "jsonl")
    rows = {r["attempt_id"]: r for r in map(json.loads, export.stdout.splitlines())}
    assert rows[str(old)]["recording_purged_at"] and rows[str(young)]["recording_purged_at"] is None
    assert rows[str(old)]["recording_path"] == str(calls / "old.wav")
    assert not state[young][1] and not state[mid][1] and not state[never][1]

    again = dialer(database_url, "recordings", "purge")
    assert "cn30: kept 30 days; deleted 0 recordings" in again.output


async def test_purge_maps_paths_and_refuses_bad_input(database_url: str, tmp_path: Path) -> None:
    here = tmp_path / "mounted"
    here.mkdir()
    await make_campaign(database_url, tmp_path, numbers(1), start=False, name="short",
                        compliance={"recording_retention_days": 7})
    # Asterisk wrote /var/spool/asterisk/monitor/dialer/<id>.wav; here it is under `mounted`.
    (here / "a.wav").write_bytes(b"x" * 10)
    attempt = await _recorded(database_url, "short", Path("/var/spool/asterisk/monitor/dialer/a.wav"), 8, size=-1)

    bad = dialer(database_url, "recordings", "purge", "--path-prefix", "nonsense")
    assert bad.exit_code == 1 and "--path-prefix 'nonsense': use ASTERISK_PATH=LOCAL_PATH" in bad.output
    unknown = dialer(database_url, "recordings", "purge", "--campaign", "nope")
    assert unknown.exit_code == 1 and "nope" in unknown.output
    assert not (await _purged(database_url))[attempt][1]

    result = dialer(database_url, "recordings", "purge", "--campaign", "short",
                    "--path-prefix", f"/var/spool/asterisk/monitor/dialer={here}")
    assert result.exit_code == 0, result.output
    assert "deleted 1 recordings" in result.output and not (here / "a.wav").exists()
    assert (await _purged(database_url))[attempt][1]


async def test_a_file_that_cannot_be_deleted_is_kept_for_the_next_purge(database_url: str, tmp_path: Path) -> None:
    await make_campaign(database_url, tmp_path, numbers(1), start=False, name="short",
                        compliance={"recording_retention_days": 1})
    stuck = tmp_path / "a.wav"
    attempt = await _recorded(database_url, "short", stuck, 3, size=-1)
    stuck.mkdir()  # unlink() fails on it (EISDIR), even for root
    result = dialer(database_url, "recordings", "purge")
    assert result.exit_code == 1 and "1 could not be deleted" in result.output
    assert not (await _purged(database_url))[attempt][1]
    stuck.rmdir()
    stuck.write_bytes(b"x")
    result = dialer(database_url, "recordings", "purge")
    assert result.exit_code == 0 and "deleted 1 recordings" in result.output and not stuck.exists()
    assert (await _purged(database_url))[attempt][1]


def test_a_retention_shorter_than_the_profile_requires_is_refused(tmp_path: Path) -> None:
    from dialer.campaigns.definition import parse_definition
    from dialer.errors import UserError

    base = {"name": "cnshort", "regulation": "cn", "caller_id": "x", "dial_template": "Local/{number}@sim-pstn",
            "compliance": {"recording_retention_days": 7}}
    try:
        parse_definition(base)
    except (UserError, ValueError) as exc:
        assert "recording_retention_days" in str(exc) and "30 days profile cn requires" in str(exc)
    else:
        raise AssertionError("a 7-day retention under cn was accepted")
