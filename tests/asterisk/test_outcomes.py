"""Every outcome the imitation PSTN can give, dialled by the real engine through a real
Asterisk, and AMD on a person and a machine."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ami.client import AMIClient
from tests.asterisk.pbx import (
    engine_on,
    login_agents,
    recording,
    rig_campaign,
    rig_numbers,
    set_pstn,
)
from tests.asterisk.rig import AsteriskRig
from tests.engine.harness import assert_no_overlapping_attempts, campaign_state, fetch, wait_for

# Last digit -> what asterisk-conf's [sim-pstn] does, and the outcome it must be stored as.
EXPECTED = {
    "0": "answered", "1": "answered", "2": "answered", "3": "answered",
    "4": "busy", "5": "busy",
    "6": "no_answer",  # rings until the engine's ring timeout
    "7": "no_answer",  # rings; the ring timeout (10 s) ends it before the network does (30 s)
    "8": "congestion",
    "9": "answered",  # an answering machine; without AMD it is just an answered call
}


async def _run_to_completion(url: str, rig: AsteriskRig, name: str, within: float) -> None:
    engine = engine_on(url, rig)
    task = asyncio.create_task(engine.run())
    try:
        await wait_for(lambda: _done(url, name), within, "the campaign to complete")
    finally:
        engine.request_stop()
        await asyncio.wait_for(task, 60)


async def _done(url: str, name: str) -> bool:
    return await campaign_state(url, name) == "completed"


async def test_every_outcome_by_last_digit(database_url: str, tmp_path: Path, asterisk: AsteriskRig,
                                           pbx: AMIClient) -> None:
    await set_pstn(pbx, ring=1, talk=2)
    numbers = rig_numbers("0123456789")
    log_mark = len(asterisk.log_text())
    async with recording(pbx) as events:
        await login_agents(pbx, events, ["1001", "1002", "1003", "1004", "1005"])
        name = await rig_campaign(database_url, tmp_path, numbers, agents=5)
        await _run_to_completion(database_url, asterisk, name, 120)
    rows = await fetch(database_url, "SELECT a.id, a.number, a.outcome, a.answered_at, a.connected_at,"
                       " a.agent_id, a.originate_reason, a.hangup_cause, a.ended_at FROM call_attempts a")
    assert len(rows) == len(numbers)
    got = {row["number"][-1]: row for row in rows}
    assert {d: got[d]["outcome"] for d in EXPECTED} == EXPECTED
    for digit, row in got.items():
        assert row["ended_at"] is not None
        if EXPECTED[digit] == "answered":
            assert row["answered_at"] is not None and row["connected_at"] is not None, digit
            assert row["agent_id"] in {"1001", "1002", "1003", "1004", "1005"}, digit
            assert row["hangup_cause"] == 16
        else:
            assert row["answered_at"] is None and row["agent_id"] is None, digit
    await assert_no_overlapping_attempts(database_url)
    # A failed originate runs the `failed` extension, not the answered-customer flow.
    failed_ids = {str(r["id"]) for r in rows if EXPECTED[r["number"][-1]] != "answered"}
    for name_ in ("DialerQueueResult", "DialerOptOut", "DialerAMD"):
        stray = [e for e in events.user_events(name_) if e.get("AttemptId") in failed_ids]
        assert not stray, f"{name_} sent for a call nobody answered: {stray}"
    new_log = asterisk.log_text()[log_mark:]
    assert "Unable to join queue" not in new_log
    assert " ERROR[" not in new_log, [line for line in new_log.splitlines() if " ERROR[" in line]


async def test_amd_tells_a_person_from_a_machine(database_url: str, tmp_path: Path, asterisk: AsteriskRig,
                                                 pbx: AMIClient) -> None:
    await set_pstn(pbx, ring=1, talk=8)
    numbers = rig_numbers("09", start=100)
    async with recording(pbx) as events:
        await login_agents(pbx, events, ["1001", "1002"])
        name = await rig_campaign(database_url, tmp_path, numbers, agents=2, amd=True)
        await _run_to_completion(database_url, asterisk, name, 120)
    rows = {r["number"][-1]: r for r in await fetch(
        database_url, "SELECT number, outcome, amd_result, agent_id FROM call_attempts")}
    assert rows["0"]["outcome"] == "answered" and rows["0"]["amd_result"] == "HUMAN", dict(rows["0"])
    assert rows["0"]["agent_id"] is not None
    assert rows["9"]["outcome"] == "machine" and rows["9"]["amd_result"] == "MACHINE"
    assert rows["9"]["agent_id"] is None
