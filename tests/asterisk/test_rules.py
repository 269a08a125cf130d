"""Issue 13's contact rules through a real Asterisk: the gap between calls to one number
across campaigns, the uk no-repeat periods after a queue hang-up and a machine, the safe
window of a New York number whose record says Los Angeles, a campaign of exhausted contacts
completing, and an agent logged off through the agent pool leaving the agent count."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from ami import actions
from ami.client import AMIClient
from ami.events import Event
from dialer.engine.agents import AgentState
from dialer.outputs.metrics import DialerMetrics, parse_exposition
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
from tests.engine.harness import (
    WEEK,
    campaign_state,
    fetch,
    fetchval,
    make_campaign,
    wait_for,
)
from tests.engine.test_contact_rules import _open_in_la_closed_in_new_york

SHARED_QUEUES = ("sales", "survey")


def _dialled(events: Recorder) -> Counter[str]:
    """Originates per number: the customer side of each `Local/<number>@sim-pstn` call."""
    out: Counter[str] = Counter()
    for e in events.named("Newchannel"):
        channel = e.get("Channel") or ""
        if "@sim-pstn" in channel and channel.endswith(";1"):
            out[channel.removeprefix("Local/").split("@", 1)[0]] += 1
    return out


async def _leave_queues(pbx: AMIClient, queues: tuple[str, ...]) -> None:
    for queue in queues:
        for item in await pbx.queue_status(queue):
            if item.get("Event") == "QueueMember" and item.get("Location"):
                with contextlib.suppress(Exception):
                    await pbx.queue_remove(queue, item.get("Location") or "")


async def _settled(url: str) -> bool:
    """Nothing claimed, on a call or due now; every attempt ended."""
    busy = await fetchval(url, "SELECT count(*) FROM contacts WHERE state IN ('claimed', 'in_call')"
                          " OR (state = 'ready' AND next_attempt_at <= now())")
    open_attempts = await fetchval(url, "SELECT count(*) FROM call_attempts WHERE ended_at IS NULL")
    return bool(busy == 0 and open_attempts == 0)


async def test_two_campaigns_on_the_same_numbers_call_each_number_once(
    database_url: str, tmp_path: Path, asterisk: AsteriskRig, pbx: AMIClient
) -> None:
    """min_gap_min = 60 in both campaigns: one call per number, whichever campaign made it;
    the other campaign's contact waits for the gap."""
    await set_pstn(pbx, ring=1, talk=1)
    shared = rig_numbers("40450454", start=900)  # busy lines, two quick answers
    gap: dict[str, Any] = {"retry": {"min_gap_min": 60}, "agents": 2, "ring_timeout_s": 10}
    for name in SHARED_QUEUES:
        await make_campaign(database_url, tmp_path, shared, name=name, queue=name, **gap)
    try:
        async with recording(pbx) as events:
            await login_agents(pbx, events, ["1001", "1002"])
            async with running_engine(database_url, asterisk):
                await wait_for(lambda: _called(database_url, len(shared)), 90, "every number called")
                await wait_for(lambda: _settled(database_url), 60, "nothing left due now")
    finally:
        await _leave_queues(pbx, SHARED_QUEUES)
    attempts = Counter(r["number"] for r in await fetch(database_url, "SELECT number FROM call_attempts"))
    assert attempts == Counter(shared), attempts
    assert _dialled(events) == Counter(shared)
    waiting = await fetch(database_url, "SELECT state, next_attempt_at > now() + interval '55 minutes' AS waits"
                          " FROM contacts c WHERE NOT EXISTS"
                          " (SELECT 1 FROM call_attempts a WHERE a.contact_id = c.id)")
    assert len(waiting) == len(shared) and all(r["state"] == "ready" and r["waits"] for r in waiting)


async def _called(url: str, count: int) -> bool:
    return bool(await fetchval(url, "SELECT count(DISTINCT number) FROM call_attempts") == count)


async def _hang_up_queued_callers(events: Recorder, pbx: AMIClient, done: list[str]) -> None:
    """The customer hangs up while queued: each caller who joins the queue while the one agent
    is taken by another caller (seen by an AgentConnect of another Uniqueid) hangs up then."""
    seen, waiting = 0, []
    while True:
        waiting += [e for e in events.events[seen:] if e.name == "QueueCallerJoin"]
        seen = len(events.events)
        connected = {e.get("Uniqueid") for e in events.events if e.name == "AgentConnect"}
        for join in list(waiting):
            if join.get("Uniqueid") in connected:
                waiting.remove(join)
            elif connected:
                waiting.remove(join)
                with contextlib.suppress(Exception):  # gone already: not ours to hang up
                    # The customer's half of the Local channel (`;2`) puts the phone down.
                    await pbx.hangup((join.get("Channel") or "").removesuffix(";1") + ";2")
                    done.append(join.get("Uniqueid") or "")
        await asyncio.sleep(0.02)


async def test_uk_queue_hangup_and_machine_not_called_again_within_their_periods(
    database_url: str, tmp_path: Path, asterisk: AsteriskRig, pbx: AMIClient
) -> None:
    """A uk campaign with AMD, one agent, three customers at once: one person is connected,
    one hangs up while queued (72 h), one is a machine (24 h)."""
    await set_pstn(pbx, ring=1, talk=8)
    extra: dict[str, Any] = {"regulation": "uk", "amd": True, "dial_mode": "ratio", "pacing": {"dial_level": 3.0},
                             "retry": {"max_attempts": 5, "max_attempts_per_day": 3, "min_gap_min": 0},
                             "ring_timeout_s": 15}
    await rig_campaign(database_url, tmp_path, rig_numbers("009", start=920), agents=1, **extra)
    hung_up: list[str] = []
    decided = "SELECT count(*) FROM call_attempts WHERE decided_at IS NOT NULL"
    async with recording(pbx) as events:
        await login_agents(pbx, events, ["1001"])
        watcher = asyncio.create_task(_hang_up_queued_callers(events, pbx, hung_up))
        try:
            async with running_engine(database_url, asterisk):
                await wait_for(lambda: _count_is(database_url, decided, 3), 90, "three attempts decided")
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    rows = await fetch(database_url, "SELECT a.id::text AS id, a.outcome, a.ended_at, c.state, c.next_attempt_at"
                       " FROM call_attempts a JOIN contacts c ON c.id = a.contact_id")
    by_outcome = {r["outcome"]: r for r in rows}
    assert sorted(by_outcome) == ["answered", "machine", "queue_hangup"], [dict(r) for r in rows]
    assert by_outcome["queue_hangup"]["id"] in hung_up
    for outcome, hours in (("queue_hangup", 72), ("machine", 24)):
        row = by_outcome[outcome]
        assert row["state"] == "ready", dict(row)
        assert row["next_attempt_at"] >= row["ended_at"] + timedelta(hours=hours), dict(row)
    assert len(_dialled(events)) == 3 and set(_dialled(events).values()) == {1}


async def _count_is(url: str, query: str, count: int) -> bool:
    return bool(await fetchval(url, query) == count)


async def test_new_york_number_with_los_angeles_record_waits_for_new_york(
    database_url: str, tmp_path: Path, asterisk: AsteriskRig, pbx: AMIClient
) -> None:
    """us profile, a window open in Los Angeles and closed in New York now: the Los Angeles
    number is dialled, the New York one (record: Los Angeles) goes back until both are open."""
    new_york, los_angeles = "+12125559404", "+12135559404"  # both busy lines
    await set_pstn(pbx, ring=1, talk=1)
    spans = _open_in_la_closed_in_new_york(datetime.now(UTC))
    async with recording(pbx) as events:
        await login_agents(pbx, events, ["1001"])
        await make_campaign(database_url, tmp_path, [new_york, los_angeles], record_zone="America/Los_Angeles",
                            queue="campaign1", agents=1, regulation="us", ring_timeout_s=15,
                            windows={d: spans for d in WEEK})
        async with running_engine(database_url, asterisk):
            await wait_for(lambda: _count_is(database_url, "SELECT count(*) FROM call_attempts", 1), 40,
                           "the Los Angeles number dialled")
            await wait_for(lambda: _released(database_url, new_york), 30, "the New York number put back")
            await asyncio.sleep(1)  # five pacing ticks more
    assert [r["number"] for r in await fetch(database_url, "SELECT number FROM call_attempts")] == [los_angeles]
    assert _dialled(events) == Counter([los_angeles])


async def _released(url: str, number: str) -> bool:
    return bool(await fetchval(url, "SELECT state = 'ready' AND next_attempt_at > now() + interval '1 hour'"
                               " FROM contacts WHERE number = $1", number))


async def test_campaign_of_exhausted_contacts_completes(
    database_url: str, tmp_path: Path, asterisk: AsteriskRig, pbx: AMIClient
) -> None:
    """Two contacts already at max_attempts, one dialled (busy, its last attempt): the
    campaign completes instead of putting the first two back every hour."""
    await set_pstn(pbx, ring=1, talk=1)
    numbers = rig_numbers("444", start=940)
    name = await rig_campaign(database_url, tmp_path, numbers, agents=1, retry={"max_attempts": 1})
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE contacts SET attempts = 1, last_attempt_at = now() - interval '3 days'"
                           " WHERE number = ANY($1::text[])", numbers[:2])
    finally:
        await conn.close()
    async with recording(pbx) as events:
        await login_agents(pbx, events, ["1001"])
        async with running_engine(database_url, asterisk):
            await wait_for(lambda: _completed(database_url, name), 60, "the campaign to complete")
    assert _dialled(events) == Counter(numbers[2:])
    states = await fetch(database_url, "SELECT number, state FROM contacts ORDER BY number")
    assert [r["state"] for r in states] == ["exhausted"] * 3, [tuple(r) for r in states]


async def _completed(url: str, name: str) -> bool:
    return await campaign_state(url, name) == "completed"


def _agents_gauge(status: dict[str, Any]) -> float:
    """sum(dialer_agents) as the exporter sets it from the engine's status."""
    metrics = DialerMetrics()
    metrics.set_agents(status["agents"])
    samples = parse_exposition(metrics.render().decode())
    return sum(v for (name, _), v in samples.items() if name == "dialer_agents")


async def test_agent_logged_off_through_the_pool_is_not_counted(
    database_url: str, tmp_path: Path, asterisk: AsteriskRig, pbx: AMIClient
) -> None:
    """Two agents logged in, one logged off by AgentLogoff over AMI: the engine's tracker and
    status count one logged-in agent, and so does dialer_agents."""
    # A running campaign with nothing due: its agents join its queue, nobody is dialled.
    await rig_campaign(database_url, tmp_path, rig_numbers("6", start=960), agents=2)
    await fetch(database_url, "UPDATE contacts SET next_attempt_at = now() + interval '1 day'")
    async with recording(pbx) as events, running_engine(database_url, asterisk) as engine:
        await wait_for(lambda: bool(engine.runners), 15, "the engine to load the campaign")
        await login_agents(pbx, events, ["1001", "1002"])
        await wait_for(lambda: _states(engine) == {"1001": AgentState.READY, "1002": AgentState.READY}, 20,
                       "both agents ready in the engine")
        assert _agents_gauge(engine.status()) == 2
        await pbx.send(actions.agent_logoff("1002"))
        await events.wait(_logoff_of("1002"), 10, "AgentLogoff of 1002")
        await wait_for(lambda: _states(engine).get("1002") is AgentState.LOGGED_OUT, 10,
                       "1002 logged out in the engine")
        status = engine.status()
    assert _states(engine)["1001"] is AgentState.READY
    assert status["agents"].get(AgentState.LOGGED_OUT.value) == 1
    assert sum(n for s, n in status["agents"].items() if s != AgentState.LOGGED_OUT.value) == 1
    assert _agents_gauge(status) == 1


def _states(engine: Any) -> dict[str, AgentState]:
    return {agent_id: agent.state for agent_id, agent in engine.agents.agents.items()}


def _logoff_of(agent_id: str) -> Any:
    return lambda e: isinstance(e, Event) and e.name == "AgentLogoff" and e.get("Agent") == agent_id
