"""More answered customers than agents, through a real Asterisk: the ones no agent takes
within the connect timeout hear the safe-harbour message and may press the opt-out key.

One agent, a `ratio` campaign dialling three customers per free agent, customers who all
answer after one second: one reaches the agent, two wait `connect_timeout_s` (2 s) in the
queue, get `DialerQueueResult` TIMEOUT, the message and the one-digit read.
"""

from __future__ import annotations

from pathlib import Path

from ami.client import AMIClient
from dialer.campaigns import service as campaign_service
from dialer.db.database import Database
from dialer.engine.queries import DNC_BLOCKED
from tests.asterisk.pbx import (
    Recorder,
    login_agents,
    recording,
    rig_campaign,
    rig_numbers,
    running_engine,
    set_pstn,
)
from tests.asterisk.rig import AsteriskRig
from tests.engine.harness import campaign_state, fetch, wait_for

RATIO = {"dial_mode": "ratio", "pacing": {"dial_level": 3.0}, "regulation": "none"}


async def _completed(url: str, name: str) -> bool:
    return await campaign_state(url, name) == "completed"


async def _three_customers_one_agent(url: str, tmp: Path, rig: AsteriskRig, pbx: AMIClient,
                                     events: Recorder, start: int) -> tuple[str, list[dict[str, object]]]:
    """Dial three answering customers for agent 1001; the campaign's attempts once it completes."""
    numbers = rig_numbers("000", start=start)
    await login_agents(pbx, events, ["1001"])
    name = await rig_campaign(url, tmp, numbers, agents=1, **RATIO)
    async with running_engine(url, rig):
        await wait_for(lambda: _completed(url, name), 90, "the campaign to complete")
    rows = await fetch(url, "SELECT a.id::text AS id, a.number, a.outcome, a.agent_id, a.connected_at"
                       " FROM call_attempts a JOIN campaigns c ON c.id = a.campaign_id WHERE c.name = $1", name)
    assert sorted(r["number"] for r in rows) == sorted(numbers), "each customer dialled exactly once"
    return name, [dict(r) for r in rows]


def _by_outcome(rows: list[dict[str, object]]) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        out.setdefault(str(row["outcome"]), []).append(row)
    return out


async def _dnc(url: str, numbers: list[str]) -> list[str]:
    return sorted(r["number"] for r in await fetch(url, DNC_BLOCKED, numbers, None))


def _assert_one_connected(rows: list[dict[str, object]], events: Recorder) -> dict[str, object]:
    answered = _by_outcome(rows).get("answered", [])
    assert len(answered) == 1, rows
    assert answered[0]["agent_id"] == "1001" and answered[0]["connected_at"] is not None
    connects = events.named("AgentConnect")
    assert [e.get("MemberName") for e in connects] == ["Agent/1001"]
    assert connects[0].get("Uniqueid") == answered[0]["id"]
    return answered[0]


def _assert_timed_out(events: Recorder, attempt_ids: set[str]) -> None:
    results = {e.get("AttemptId"): e.get("QueueStatus") for e in events.user_events("DialerQueueResult")}
    assert results == dict.fromkeys(attempt_ids, "TIMEOUT")


async def test_opt_out_key_puts_abandoned_customers_on_dnc(database_url: str, tmp_path: Path,
                                                            asterisk: AsteriskRig, pbx: AMIClient) -> None:
    # Everybody answers after 1 s and presses 9 every second from ~3 s on: the two left
    # waiting are in the opt-out read by then (2 s queue + the message).
    await set_pstn(pbx, ring=1, talk=10, press="9")
    async with recording(pbx) as events:
        await login_agents(pbx, events, ["1002"])  # for the second campaign only
        # A second campaign holding the same numbers, loaded before anybody opted out.
        later = rig_numbers("000", start=200) + rig_numbers("4", start=210)
        second = await rig_campaign(database_url, tmp_path, later, agents=2, name="c2", start=False)
        name, rows = await _three_customers_one_agent(database_url, tmp_path, asterisk, pbx, events, 200)
        connected = _assert_one_connected(rows, events)
        opted = _by_outcome(rows).get("opt_out", [])
        assert len(opted) == 2, rows
        opted_ids = {str(r["id"]) for r in opted}
        _assert_timed_out(events, opted_ids)
        optouts = {e.get("AttemptId"): e.get("Digit") for e in events.user_events("DialerOptOut")}
        assert optouts == dict.fromkeys(opted_ids, "9")
        opted_numbers = sorted(str(r["number"]) for r in opted)
        assert await _dnc(database_url, later) == opted_numbers
        sources = await fetch(database_url, "SELECT number, campaign_id, source FROM dnc_numbers ORDER BY number")
        assert [(r["number"], r["campaign_id"], r["source"]) for r in sources] == [
            (n, None, "opt_out_key") for n in opted_numbers]

        # Never dialled again: the second campaign dials the rest of its list, not them.
        await set_pstn(pbx, ring=1, talk=1)
        db = Database(database_url)
        try:
            for command in ("approve", "start"):
                await campaign_service.change_state(db, second, command, "test")
        finally:
            await db.close()
        async with running_engine(database_url, asterisk):
            await wait_for(lambda: _completed(database_url, second), 60, "the second campaign to complete")
    dialled = await fetch(database_url, "SELECT a.number FROM call_attempts a JOIN campaigns c"
                          " ON c.id = a.campaign_id WHERE c.name = $1", second)
    assert sorted(r["number"] for r in dialled) == sorted([str(connected["number"]), later[-1]])
    blocked = await fetch(database_url, "SELECT c.number FROM contacts c JOIN campaigns k ON k.id = c.campaign_id"
                          " WHERE k.name = $1 AND c.state = 'blocked'", second)
    assert sorted(r["number"] for r in blocked) == opted_numbers
    originated = [e.get("Channel") or "" for e in events.named("Newchannel")]
    for number in opted_numbers:
        assert sum(1 for c in originated if c.startswith(f"Local/{number}@sim-pstn") and c.endswith(";1")) == 1


async def test_no_key_leaves_an_abandoned_call_off_dnc(database_url: str, tmp_path: Path,
                                                       asterisk: AsteriskRig, pbx: AMIClient) -> None:
    await set_pstn(pbx, ring=1, talk=15)
    async with recording(pbx) as events:
        _, rows = await _three_customers_one_agent(database_url, tmp_path, asterisk, pbx, events, 300)
    _assert_one_connected(rows, events)
    abandoned = _by_outcome(rows).get("abandoned", [])
    assert len(abandoned) == 2, rows
    abandoned_ids = {str(r["id"]) for r in abandoned}
    _assert_timed_out(events, abandoned_ids)
    optouts = {e.get("AttemptId"): e.get("Digit") or "" for e in events.user_events("DialerOptOut")}
    assert optouts == dict.fromkeys(abandoned_ids, "")
    assert await _dnc(database_url, [str(r["number"]) for r in rows]) == []
    states = await fetch(database_url, "SELECT state FROM contacts WHERE number = ANY($1::text[])",
                         [str(r["number"]) for r in abandoned])
    assert [r["state"] for r in states] != [] and all(r["state"] != "blocked" for r in states)
