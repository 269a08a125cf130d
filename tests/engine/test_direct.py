"""Agent-direct calls on the PBX simulator: a call placed for one chosen agent reaches him
and nobody else, queue calls never reach him while he is reserved, the reservation ends
with every ending of the call (connected, no agent, engine stop), and a pause asked for
meanwhile is kept."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ami.events import Event
from ami.simulator import PbxSimulator
from dialer.agents import service as agents_service
from dialer.db.database import Database
from dialer.engine.agents import AgentState
from dialer.engine.direct import dial_to_agent
from dialer.engine.engine import Engine
from dialer.engine.reservation import Reservation, release_agent, reserve_agent
from dialer.engine.runner import CampaignRunner
from tests.engine.harness import (
    engine_for,
    fetch,
    fetchval,
    make_campaign,
    numbers,
    sim_config,
    wait_for,
)

QUEUE = "c1"


@contextlib.asynccontextmanager
async def floor(url: str, tmp: Path, *, queue_calls: int = 40,
                **sim_extra: Any) -> AsyncIterator[tuple[PbxSimulator, Engine, list[str]]]:
    """Campaign c1 (3 agents) dialling `queue_calls` contacts through its queue, and three
    contacts kept out of the hopper (next attempt tomorrow) for the direct calls, numbers
    ending in 0 (a person answers, the simulator's last-digit plan). Yields the raw events."""
    directs = [direct_number(i) for i in (0, 1, 2, 4, 6)]  # 4: busy, 6: never answers
    await make_campaign(url, tmp, numbers(queue_calls) + directs, agents=3)
    conn_rows = await fetch(url, "UPDATE contacts SET next_attempt_at = now() + interval '1 day'"
                                 " WHERE number = ANY($1::text[]) RETURNING id", directs)
    assert len(conn_rows) == len(directs)
    events: list[str] = []
    async with PbxSimulator(sim_config(agents=3, number_plan="last-digit", wrapuptime={QUEUE: 2.0},
                                           opt_out_probability=0.0, **sim_extra)) as sim:
        sim.on_event_bytes(lambda data: events.append(data.decode(errors="replace")))
        engine = engine_for(url, sim, "direct")
        task = asyncio.create_task(engine.run())
        try:
            await wait_for(lambda: engine.runners and len(sim.queues[QUEUE].members) == 3, 20, "agents in the queue")
            yield sim, engine, events
        finally:
            engine.request_stop()
            await asyncio.wait_for(task, 60)


def direct_number(index: int) -> str:
    return f"+1415555019{index}"  # last digit 0-2: a person answers


def runner_of(engine: Engine) -> CampaignRunner:
    return next(iter(engine.runners.values()))


async def direct_contact(url: str, engine: Engine, index: int) -> int:
    return int(await fetchval(url, "SELECT id FROM contacts WHERE number = $1", direct_number(index)))


async def reserve(engine: Engine, agent_id: str) -> Reservation:
    """Reserve him as soon as he is ready (he may be on a queue call now)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        reservation = await reserve_agent(engine, agent_id, "test")
        if reservation is not None:
            return reservation
        await asyncio.sleep(0.05)
    raise AssertionError(f"agent {agent_id} never ready to reserve")


async def call_for(url: str, engine: Engine, index: int, agent_id: str) -> str:
    runner = runner_of(engine)
    contact_id = await direct_contact(url, engine, index)
    claimed = await engine.store.claim(runner.id, 1, [contact_id])
    assert [c.contact_id for c in claimed] == [contact_id]
    placed = await dial_to_agent(runner, claimed[0], agent_id)
    assert placed.attempt_id is not None, placed.refused
    return placed.attempt_id


async def ended(url: str, attempt_id: str) -> dict[str, object]:
    query = "SELECT * FROM call_attempts WHERE id = $1::uuid AND ended_at IS NOT NULL"
    await wait_for(lambda: fetch(url, query, attempt_id), 60, f"attempt {attempt_id} to end")
    return dict((await fetch(url, query, attempt_id))[0])


def member(sim: PbxSimulator, agent_id: str) -> tuple[bool, str]:
    m = next(m for m in sim.queues[QUEUE].members.values() if m.agent_id == agent_id)
    return m.paused, m.paused_reason


def agent_bridged(events: list[str], attempt_id: str) -> set[str]:
    """The agents whose login channel entered the bridge the customer `attempt_id` entered."""
    bridges = {_header(e, "BridgeUniqueid") for e in events
               if "Event: BridgeEnter" in e and _header(e, "Uniqueid") == attempt_id}
    return {(_header(e, "Channel") or "").split("@")[0].removeprefix("Local/") for e in events
            if "Event: BridgeEnter" in e and _header(e, "BridgeUniqueid") in bridges
            and "agent-login" in (_header(e, "Channel") or "")}


def _header(event: str, name: str) -> str | None:
    for line in event.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key == name:
            return value
    return None


async def test_direct_call_reaches_the_chosen_agent_and_no_queue_call_reaches_him(
    database_url: str, tmp_path: Path
) -> None:
    async with floor(database_url, tmp_path) as (sim, engine, events):
        await wait_for(lambda: sim.stats.originates >= 5, 30, "queue calls under way")
        await reserve(engine, "1002")
        reserved_at = await fetchval(database_url, "SELECT now()")
        assert member(sim, "1002") == (True, "reserved")
        attempt_id = await call_for(database_url, engine, 0, "1002")
        row = await ended(database_url, attempt_id)
        await wait_for(lambda: "1002" not in engine.membership.reserved, 10, "the reservation to end")
        assert row["outcome"] == "answered", (row["note"], row["originate_reason"], row["hangup_cause"])
        assert row["agent_id"] == "1002" and row["connected_at"] is not None
        assert agent_bridged(events, attempt_id) == {"1002"}, "the customer was bridged to someone else"
        await wait_for(lambda: member(sim, "1002") == (False, ""), 10, "1002 unpaused after his call")
        # Meanwhile the queue kept dialling, and none of its calls reached 1002 from his
        # reservation to the end of his call (after it he is released, and free for the queue).
        stolen = await fetchval(
            database_url, "SELECT count(*) FROM call_attempts WHERE agent_id = '1002' AND id <> $1::uuid"
            " AND connected_at BETWEEN $2 AND $3", attempt_id, reserved_at, row["ended_at"])
        assert stolen == 0
        assert await fetchval(database_url, "SELECT count(*) FROM call_attempts WHERE agent_id <> '1002'"
                              " AND id <> $1::uuid", attempt_id) > 0, "the queue dialled the others meanwhile"


async def only_free(engine: Engine, agent_id: str) -> None:
    """The other two agents reserved (paused in the queue)."""
    for other in sorted({"1001", "1002", "1003"} - {agent_id}):
        await reserve(engine, other)


async def offer_a_queue_call_to(url: str, sim: PbxSimulator, agent_id: str) -> None:
    """One contact that answers put back in the hopper: the campaign dials it and app_queue
    offers the answered call to `agent_id` (the only free agent)."""
    await fetch(url, "UPDATE contacts SET next_attempt_at = now() WHERE number = $1", direct_number(1))
    await wait_for(lambda: offered(sim, agent_id), 30, f"a queue call offered to {agent_id}", step=0.01)


def offered(sim: PbxSimulator, agent_id: str) -> bool:
    agent = sim.agents[agent_id]
    return agent.call is not None and not agent.call.connected_at


async def test_an_agent_offered_a_queue_call_is_not_reserved(database_url: str, tmp_path: Path) -> None:
    # app_queue sends AgentCalled and member Status 2 before AgentConnect (the agent's beep,
    # here 1 s): in between he looks ready, and a reservation would pause him too late.
    async with floor(database_url, tmp_path, queue_calls=0, agent_answer_delay=40.0) as (sim, engine, _):
        await only_free(engine, "1002")
        await offer_a_queue_call_to(database_url, sim, "1002")
        await wait_for(lambda: engine.agents.agents["1002"].member_status == 2, 10, "Status 2 applied", step=0.01)
        assert engine.agents.agents["1002"].state is AgentState.READY and offered(sim, "1002")
        assert await reserve_agent(engine, "1002", "test") is None
        assert "1002" not in engine.membership.reserved and member(sim, "1002") == (False, "")
        await wait_for(lambda: engine.agents.agents["1002"].state is AgentState.ON_CALL, 30, "the queue call to connect")


async def test_a_reservation_waits_for_the_events_sent_before_its_pause(database_url: str, tmp_path: Path) -> None:
    # The QueuePause response is read at once; the events before it wait in the engine's queue
    # behind a slow pass of its event loop (held here: it takes no event). The reservation must see them.
    async with floor(database_url, tmp_path, queue_calls=0, agent_answer_delay=40.0) as (sim, engine, _):
        await only_free(engine, "1002")
        gate, held = asyncio.Event(), asyncio.Event()
        events = engine._events
        assert events is not None
        get_many = events.get_many

        async def slow_get_many(limit: int = 1000) -> list[Event]:
            held.set()
            await gate.wait()
            return await get_many(limit)

        events.get_many = slow_get_many  # type: ignore[method-assign]
        await asyncio.wait_for(held.wait(), 10)
        await offer_a_queue_call_to(database_url, sim, "1002")
        assert engine.agents.agents["1002"].member_status == 1, "the offer's events were applied: not held"
        reserving = asyncio.ensure_future(reserve_agent(engine, "1002", "test"))
        await asyncio.sleep(0.3)
        assert not reserving.done(), "reserved on trackers that had not seen the events before the pause"
        gate.set()
        assert await asyncio.wait_for(reserving, 10) is None
        await wait_for(lambda: member(sim, "1002") == (False, ""), 10, "1002 given back to the queue")
        await wait_for(lambda: engine.agents.agents["1002"].state is AgentState.ON_CALL, 30, "the queue call to connect")


async def test_agent_gone_means_no_agent_abandoned_and_safe_harbour(database_url: str, tmp_path: Path) -> None:
    async with floor(database_url, tmp_path, queue_calls=0) as (sim, engine, events):
        await reserve(engine, "1001")
        attempt_id = await call_for(database_url, engine, 1, "1001")
        sim.agent_logoff_by_id("1001")  # before the customer answers (rings 2-8 s)
        row = await ended(database_url, attempt_id)
        assert row["outcome"] == "abandoned" and row["connected_at"] is None and row["queued_at"] is not None
        assert any("QueueStatus: AGENT_NOT_LOGGED_IN" in e for e in events)
        assert any("UserEvent: DialerOptOut" in e and attempt_id in e for e in events), "no safe-harbour message"
        await wait_for(lambda: "1001" not in engine.membership.reserved, 10, "the reservation to end")
        # Busy: 1002 is on a direct call when a second one asks for him (placed past the guard).
        await reserve(engine, "1002")
        first = await call_for(database_url, engine, 0, "1002")
        await wait_for(lambda: engine.agents.agents["1002"].state is AgentState.ON_CALL, 30, "1002 on the call")
        engine.membership.reserved["1002"] = None  # as if reserved again: AgentRequest must refuse
        second = await call_for(database_url, engine, 2, "1002")
        row = await ended(database_url, second)
        assert row["outcome"] == "abandoned"
        assert any("QueueStatus: AGENT_BUSY" in e and second in e for e in events)
        assert (await ended(database_url, first))["outcome"] == "answered"


async def test_pause_asked_while_reserved_is_kept_and_stop_releases(database_url: str, tmp_path: Path) -> None:
    async with floor(database_url, tmp_path, queue_calls=0) as (sim, engine, _):
        db = Database(database_url)
        try:
            await reserve(engine, "1003")
            await agents_service.pause(db, "1003", True, "training")
            await wait_for(lambda: "1003" in engine.membership.paused, 10, "the pause to reach the engine")
            assert member(sim, "1003") == (True, "reserved"), "the pause lifted the reservation"
            attempt_id = await call_for(database_url, engine, 0, "1003")
            await ended(database_url, attempt_id)
            await wait_for(lambda: member(sim, "1003") == (True, "training"), 10, "1003 paused for training")
            # Unpaused while reserved: unpaused after the reservation, not before.
            await agents_service.pause(db, "1003", False, None)
            await wait_for(lambda: member(sim, "1003") == (False, ""), 10, "1003 unpaused")
            await reserve(engine, "1003")
            await agents_service.pause(db, "1003", True, "lunch")
            await agents_service.pause(db, "1003", False, None)
            await wait_for(lambda: "1003" not in engine.membership.paused, 10, "the unpause to reach the engine")
            assert member(sim, "1003") == (True, "reserved")
        finally:
            await db.close()
        # The engine stops with 1003 reserved and no call: he is released.
        engine.request_stop()
        await wait_for(lambda: not engine.membership.reserved, 30, "the reservations to end at stop")
        assert member(sim, "1003") == (False, "")


async def test_a_release_asterisk_could_not_hear_is_given_back_later(database_url: str, tmp_path: Path) -> None:
    async with floor(database_url, tmp_path, queue_calls=0) as (sim, engine, _):
        await reserve(engine, "1001")
        sim.silent = True  # actions read, never answered: the release's QueuePause is not known done
        await release_agent(engine, "1001")
        assert "1001" in engine.membership.unrestored and "1001" not in engine.membership.reserved
        sim.silent = False
        await wait_for(lambda: not engine.membership.unrestored, 60, "the pause state given back once Asterisk hears")
        assert member(sim, "1001") == (False, "")


async def test_a_reservation_left_by_a_lost_run_is_given_back_at_resync(database_url: str, tmp_path: Path) -> None:
    async with floor(database_url, tmp_path, queue_calls=0) as (sim, engine, _):
        await reserve(engine, "1001")
        engine.membership.reserved.clear()  # as after a crash: Asterisk still has him paused "reserved"
        assert engine.ami is not None
        connections = engine.ami.connections
        sim.drop_connections()
        await wait_for(lambda: engine.ami is not None and engine.ami.connections > connections, 30, "a reconnect")
        await wait_for(lambda: member(sim, "1001") == (False, ""), 30, "1001 unpaused after the resync")


async def test_reservation_ends_with_a_busy_line_and_an_unanswered_call(database_url: str, tmp_path: Path) -> None:
    async with floor(database_url, tmp_path, queue_calls=0) as (sim, engine, _):
        for index, outcome in ((4, "busy"), (6, "no_answer")):
            await reserve(engine, "1001")
            attempt_id = await call_for(database_url, engine, index, "1001")
            row = await ended(database_url, attempt_id)
            assert row["outcome"] == outcome and row["agent_id"] == "1001"
            await wait_for(lambda: "1001" not in engine.membership.reserved, 10, "the reservation to end")
            await wait_for(lambda: member(sim, "1001") == (False, ""), 10, "1001 unpaused")
