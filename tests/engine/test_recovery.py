"""The truth about every call after an engine restart or an AMI reconnect.

Real parts: a real PostgreSQL, the PBX simulator over TCP, and (for the kill) an engine
in its own process killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ami.client import ResyncSnapshot
from ami.protocol import parse_message
from ami.sim.calls import DIALING, QUEUED, TALKING
from ami.simulator import PbxSimulator
from dialer.engine.call_life import Call, Phase
from dialer.outputs.metrics import DialerMetrics, parse_exposition
from dialer.outputs.observers import EngineEvents
from pacing.world import Duration, WorldModel
from tests.ami.rawclient import RawAMI
from tests.engine.harness import (
    assert_no_overlapping_attempts,
    campaign_state,
    engine_for,
    fetch,
    fetchval,
    make_campaign,
    sim_config,
    wait_for,
)
from tests.engine.test_engine_failures import _engine_process

AREAS = ("212", "213", "312", "415", "617")


def by_last_digit(digits: list[int]) -> list[str]:
    """Fictional numbers whose last digit picks the customer (the simulator's last-digit
    plan, like asterisk-conf's sim-pstn): 0-3 a person, 4-5 busy, 6-7 ring until the
    Originate timeout, 8 congestion, 9 a machine (no AMD here: it reaches the queue)."""
    used: dict[int, int] = {}
    out = []
    for d in digits:
        k = used.get(d, 0)
        used[d] = k + 1
        out.append(f"+1{AREAS[k // 10]}55501{k % 10}{d}")
    return out


class SimRecord:
    """What the simulator did, per attempt, from the events it emitted."""

    def __init__(self, sim: PbxSimulator) -> None:
        self.agent: dict[str, str] = {}  # attempt -> agent it was connected to
        self.response: dict[str, tuple[str, str]] = {}  # attempt -> (Response, Reason)
        sim.on_event_bytes(self._on)

    def _on(self, raw: bytes) -> None:
        m = parse_message(raw)
        name = m.get("Event")
        if name == "AgentConnect":
            self.agent[m.get("Uniqueid") or ""] = (m.get("MemberName") or "").removeprefix("Agent/")
        elif name == "OriginateResponse":
            self.response[m.get("Uniqueid") or ""] = (m.get("Response") or "", m.get("Reason") or "")


async def test_sigkill_with_calls_ringing_queued_and_connected(database_url: str, tmp_path: Path) -> None:
    # The first six dialled (ratio 3 x 2 agents): four people (two reach the agents, two
    # wait in the queue) and two that ring until the Originate timeout.
    digits = [0, 1, 2, 3, 6, 6, 4, 8, 9, 0, 6, 1, 5, 7, 2, 3, 0, 1, 4, 9]
    name = await make_campaign(
        database_url, tmp_path, by_last_digit(digits), agents=2, dial_mode="ratio",
        pacing={"dial_level": 3.0}, connect_timeout_s=30, ring_timeout_s=25,
    )
    world = WorldModel(wrap=Duration.fixed(5.0))
    async with PbxSimulator(sim_config(agents=2, time_scale=10.0, world=world, number_plan="last-digit",
                                       opt_out_probability=0.0)) as sim:
        record = SimRecord(sim)

        def stages() -> dict[str, list[Any]]:
            out: dict[str, list[Any]] = {}
            for call in sim.calls.values():
                if call.stage == TALKING and not call.connected_at:
                    continue  # the agent is being rung
                out.setdefault(call.stage, []).append(call)
            return out

        async def kill_moment() -> bool:
            now = stages()
            if not (len(now.get(TALKING, [])) == 2 and now.get(QUEUED) and now.get(DIALING)):
                return False
            # progress reached the database while the calls are up (before the fix it was
            # only written at the close)
            rows = await fetch(database_url, "SELECT id::text, agent_id FROM call_attempts"
                                             " WHERE ended_at IS NULL AND connected_at IS NOT NULL"
                                             " AND answered_at IS NOT NULL")
            stored = {r["id"]: r["agent_id"] for r in rows}
            return all(stored.get(c.attempt_id) == c.member.agent_id for c in now[TALKING])

        first = await _engine_process(database_url, sim.port, "k1")
        try:
            await wait_for(kill_moment, 60, "two calls talking (stored), one waiting, one ringing", step=0.02)
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()
        killed_at = datetime.now(UTC)
        at_kill = stages()
        talking = {c.attempt_id: c.member.agent_id for c in at_kill[TALKING]}
        queued = {c.attempt_id for c in at_kill.get(QUEUED, [])}
        ringing = {c.attempt_id for c in at_kill.get(DIALING, [])}
        # One conversation ends while no engine runs: only the database knows it was connected.
        ended_unseen = sorted(talking)[0]
        raw = await RawAMI.connect(sim.port)
        channel = sim.calls[ended_unseen].ch1
        assert channel is not None
        await raw.action("Hangup", Channel=channel.name)
        await wait_for(lambda: ended_unseen not in sim.calls, 10, "the hung-up call to end")
        await raw.close()

        metrics = DialerMetrics()
        second = engine_for(database_url, sim, "k1", observer=EngineEvents(metrics, None))
        task = asyncio.create_task(second.run())
        try:
            await wait_for(lambda: second.recovery.first_resync.is_set(), 30, "the restarted engine's resync")
            retracked = {a: c.phase for a, c in second.calls.calls.items()}
            # campaign, queue and the contact's fields (for a screen pop if it connects now)
            assert {(c.campaign, c.queue) for c in second.calls.calls.values()} == {(name, "c1")}
            assert all(c.fields.get("name", "").startswith("Contact ") for c in second.calls.calls.values())
            await wait_for(lambda: _completed(database_url, name), 120, "the campaign to finish")
        finally:
            second.request_stop()
            await task
        originated = list(sim.stats.originate_channel_ids)
        exposition = parse_exposition(metrics.render().decode())

    rows = {r["id"]: r for r in await fetch(
        database_url, "SELECT id::text, contact_id, outcome, note, answered_at, connected_at, agent_id,"
                      " hangup_cause, ended_at FROM call_attempts")}
    assert sorted(rows) == sorted(originated), "an Originate has no attempt row, or the reverse"
    assert all(r["ended_at"] is not None for r in rows.values()), "an attempt was left open"
    assert not [r for r in rows.values() if r["outcome"] == "failed"], "a guessed failure"
    assert all(r["note"] for r in rows.values() if r["outcome"] == "unknown"), "unknown without a reason"
    # every call the simulator connected to an agent: answered, with that agent and its times
    for attempt, agent in record.agent.items():
        r = rows[attempt]
        assert (r["outcome"], r["agent_id"]) == ("answered", agent), (attempt, dict(r))
        assert r["answered_at"] is not None and r["connected_at"] is not None, dict(r)
    assert set(talking) <= set(record.agent)
    for attempt in talking:  # the times stored while the call was up, not the restart's
        assert rows[attempt]["answered_at"] < rows[attempt]["connected_at"] < killed_at, dict(rows[attempt])
    assert "connected" in rows[ended_unseen]["note"], rows[ended_unseen]["note"]
    # calls still up at the restart were followed from what Asterisk and the database said
    assert {a for a in talking if a != ended_unseen} <= set(retracked)
    assert all(retracked[a] is Phase.CONNECTED for a in talking if a in retracked)
    for attempt in queued:
        assert rows[attempt]["answered_at"] is not None, dict(rows[attempt])
        assert rows[attempt]["outcome"] in ("answered", "abandoned", "opt_out", "queue_hangup", "unknown")
    assert ringing
    for attempt, (response, _) in record.response.items():  # as the simulator answered the Originate
        r = rows[attempt]
        if response == "Failure":
            assert r["outcome"] in ("no_answer", "busy", "congestion", "unknown"), dict(r)
        else:
            assert r["outcome"] in ("answered", "abandoned", "opt_out", "queue_hangup", "unknown"), dict(r)
            assert r["answered_at"] is not None or r["outcome"] == "unknown", dict(r)
    per_contact = await fetch(database_url, "SELECT contact_id, count(*) AS n FROM call_attempts GROUP BY 1")
    assert all(r["n"] == 1 for r in per_contact), "a contact was dialled twice"
    await assert_no_overlapping_attempts(database_url)
    # metrics of the re-tracked calls carry the campaign's name
    campaigns = {dict(labels).get("campaign") for (_, labels) in exposition} - {None}
    assert campaigns == {name}, campaigns
    ended = sum(v for (metric, labels), v in exposition.items()
                if metric == "dialer_attempts_total" and dict(labels).get("outcome") == "answered")
    assert ended >= len(talking)


async def _completed(url: str, name: str) -> bool:
    return await campaign_state(url, name) == "completed"


# --- AMI reconnect and lost originates (engine in this process) -----------------------

async def _idle_engine(database_url: str, tmp_path: Path, sim: PbxSimulator) -> Any:
    await make_campaign(database_url, tmp_path, ["+12125550100"], start=False)
    engine = engine_for(database_url, sim, "r1")
    task = asyncio.create_task(engine.run())
    await wait_for(lambda: engine.recovery.first_resync.is_set() and engine.ami is not None and engine.ami.connected,
                   30, "the engine to connect")
    return engine, task


async def _open_attempt(database_url: str, engine: Any, **call_fields: Any) -> Call:
    """An attempt row and its tracked call, as if this engine had placed it."""
    campaign_id, contact_id = (await fetch(database_url, "SELECT campaign_id, id FROM contacts"))[0]
    attempt = str(uuid.uuid4())
    await fetchval(database_url, "INSERT INTO call_attempts (id, campaign_id, contact_id, number, attempt_no,"
                                 " engine_id, originated_at) VALUES ($1, $2, $3, '+12125550100', 1, 'r1', now())"
                                 " RETURNING 1", uuid.UUID(attempt), campaign_id, contact_id)
    call = Call(attempt, campaign_id, contact_id, "+12125550100", "c1", time.monotonic() - 10.0,
                campaign="c1", **call_fields)
    engine.calls.add(call)
    return call


async def test_a_failing_channel_check_is_retried_then_closed_unknown(database_url: str, tmp_path: Path) -> None:
    async with PbxSimulator(sim_config()) as sim:
        engine, task = await _idle_engine(database_url, tmp_path, sim)
        try:
            lost = await _open_attempt(database_url, engine)
            sim.refuse_actions["coreshowchannels"] = "Permission denied"
            asked = sim.stats.actions["coreshowchannels"]
            engine.check_later(lost.attempt_id, delays=(0.05, 0.1, 0.2))
            await wait_for(lambda: lost.attempt_id not in engine.calls.calls, 10, "the check to give up")
            assert sim.stats.actions["coreshowchannels"] - asked == 3  # asked again after each failure
            # once Asterisk answers, a call with no channel is closed at the next try
            again = await _open_attempt(database_url, engine)
            engine.check_later(again.attempt_id, delays=(0.05, 0.3))
            await wait_for(lambda: sim.stats.actions["coreshowchannels"] - asked >= 4, 10, "the first try")
            sim.refuse_actions.clear()
            await wait_for(lambda: again.attempt_id not in engine.calls.calls, 10, "the second try")
            await wait_for(lambda: _closed(database_url, again.attempt_id), 10, "the close to be written")
            await wait_for(lambda: _closed(database_url, lost.attempt_id), 10, "the close to be written")
        finally:
            engine.request_stop()
            await task
    rows = {r["id"]: r for r in await fetch(database_url, "SELECT id::text, outcome, note FROM call_attempts")}
    assert rows[lost.attempt_id]["outcome"] == "unknown"
    assert "could not be asked" in rows[lost.attempt_id]["note"]
    assert rows[again.attempt_id]["outcome"] == "unknown"
    assert rows[again.attempt_id]["note"].startswith("originate outcome lost")


async def _closed(url: str, attempt: str) -> bool:
    return bool(await fetchval(url, "SELECT ended_at IS NOT NULL FROM call_attempts WHERE id = $1",
                               uuid.UUID(attempt)))


async def test_reconnect_resync_closes_with_what_is_known(database_url: str, tmp_path: Path) -> None:
    """A call whose channel vanished while AMI was down: connected -> answered with its agent;
    waiting for an agent -> unknown with the reason; placed after the channel list was
    requested -> not judged by that list."""
    async with PbxSimulator(sim_config()) as sim:
        engine, task = await _idle_engine(database_url, tmp_path, sim)
        try:
            talked = await _open_attempt(database_url, engine, answered_at=1.0, queued_at=1.5, connected_at=2.0,
                                         agent_id="1002", phase=Phase.CONNECTED)
            waited = await _open_attempt(database_url, engine, answered_at=1.0, queued_at=1.5, phase=Phase.QUEUED)
            fresh = await _open_attempt(database_url, engine)
            requested = time.monotonic() - 5.0  # `fresh` is placed 10 s ago: make it newer than the list
            fresh.placed_at = requested + 0.5
            await engine.recovery.resync(ResyncSnapshot([], [], True, requested))
            assert fresh.attempt_id in engine.calls.calls
            await wait_for(lambda: _closed(database_url, waited.attempt_id), 10, "the closes to be written")
        finally:
            engine.request_stop()
            await task
    rows = {r["id"]: r for r in await fetch(database_url, "SELECT id::text, outcome, note, agent_id FROM call_attempts")}
    assert (rows[talked.attempt_id]["outcome"], rows[talked.attempt_id]["agent_id"]) == ("answered", "1002")
    assert "AMI was down" in rows[talked.attempt_id]["note"]
    assert rows[waited.attempt_id]["outcome"] == "unknown"
    assert "waiting for an agent" in rows[waited.attempt_id]["note"]


async def test_progress_refused_by_the_database_is_kept_and_retried(database_url: str, tmp_path: Path) -> None:
    from ami.events import to_event
    from ami.protocol import Message

    async with PbxSimulator(sim_config()) as sim:
        engine, task = await _idle_engine(database_url, tmp_path, sim)
        try:
            call = await _open_attempt(database_url, engine)
            # The database refuses the write (a real error from PostgreSQL), as in an outage.
            await _execute(database_url, "ALTER TABLE call_attempts ADD CONSTRAINT refuse_answers"
                                         " CHECK (answered_at IS NULL) NOT VALID")
            answered = to_event(Message([("Event", "Newstate"), ("Uniqueid", call.attempt_id), ("ChannelState", "6")]))
            engine.calls.on_event(answered, time.monotonic())
            engine.closing.writer_wake.set()
            await asyncio.sleep(1.5)  # the writer tried and failed at least once
            stored = "SELECT answered_at FROM call_attempts WHERE id = $1"
            assert await fetchval(database_url, stored, uuid.UUID(call.attempt_id)) is None
            assert call.attempt_id in engine.calls.progressed, "the progress was dropped"
            await _execute(database_url, "ALTER TABLE call_attempts DROP CONSTRAINT refuse_answers")
            await wait_for(lambda: fetchval(database_url, stored, uuid.UUID(call.attempt_id)), 10,
                           "the progress to be written once the database accepts it")
            assert await fetchval(database_url, stored, uuid.UUID(call.attempt_id)) == call.wall["answered"]
            engine.calls.calls.pop(call.attempt_id)
        finally:
            engine.request_stop()
            await task


async def _execute(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()
