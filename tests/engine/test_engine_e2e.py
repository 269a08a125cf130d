"""The engine end to end: engine <-> PBX simulator (real TCP) <-> PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ami.simulator import PbxSimulator
from dialer.campaigns import service as campaign_service
from dialer.contacts import dnc as dnc_service
from dialer.db.database import Database
from dialer.outputs.pacing_view import reason_text
from tests.engine.harness import (
    assert_no_overlapping_attempts,
    campaign_state,
    engine_for,
    fetch,
    fetchval,
    make_campaign,
    numbers,
    sim_config,
    wait_for,
)


async def test_every_originate_is_one_closed_attempt(database_url: str, tmp_path: Path) -> None:
    contacts = numbers(40)
    name = await make_campaign(database_url, tmp_path, contacts)
    async with PbxSimulator(sim_config()) as sim:
        engine = engine_for(database_url, sim)
        task = asyncio.create_task(engine.run())
        await wait_for(lambda: campaign_state(database_url, name), 5, "engine start")

        async def finished() -> bool:
            return await campaign_state(database_url, name) == "completed"

        await wait_for(finished, 90, "the campaign to complete")
        engine.request_stop()
        await task
        originated = list(sim.stats.originate_channel_ids)
    rows = await fetch(database_url, "SELECT id::text, outcome, ended_at, decided_at FROM call_attempts")
    assert sorted(originated) == sorted(r["id"] for r in rows)
    assert len(set(originated)) == len(originated), "an attempt id was originated twice"
    assert all(r["ended_at"] is not None and r["outcome"] for r in rows)
    assert all(r["decided_at"] is not None for r in rows), "every attempt got its decision"
    outcomes = {r["outcome"] for r in rows}
    assert "answered" in outcomes and outcomes <= {"answered", "no_answer", "busy", "congestion", "abandoned",
                                                    "queue_hangup", "opt_out"}
    # each contact dialled exactly once (max_attempts 1), none left dialable
    per_contact = await fetch(database_url, "SELECT contact_id, count(*) FROM call_attempts GROUP BY 1")
    assert len(per_contact) == len(contacts) and all(r["count"] == 1 for r in per_contact)
    states = dict(await fetch(database_url, "SELECT state, count(*) FROM contacts GROUP BY 1"))
    assert states.get("ready", 0) == states.get("claimed", 0) == states.get("in_call", 0) == 0
    # answered calls were connected to agents and timed
    answered = await fetch(
        database_url,
        "SELECT agent_id, answered_at, queued_at, connected_at, ended_at, disposition FROM call_attempts"
        " WHERE outcome = 'answered'",
    )
    for r in answered:
        assert r["agent_id"] in {"1001", "1002", "1003"}
        assert r["answered_at"] <= r["queued_at"] <= r["connected_at"] <= r["ended_at"]
        assert r["disposition"] == "no_disposition"  # nobody dispositioned: the system did
    await assert_no_overlapping_attempts(database_url)


async def test_dnc_and_windows_are_never_dialled(database_url: str, tmp_path: Path) -> None:
    contacts = numbers(30)
    closed_now = (datetime.now(UTC) + timedelta(hours=6)).strftime("%H:00")
    name = await make_campaign(database_url, tmp_path, contacts, start=False)
    db = Database(database_url)
    # A second campaign whose window is closed right now in the contacts' zone.
    now_ny = datetime.now(UTC).astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    start_hour = (now_ny.hour + 3) % 24
    end_hour = min(start_hour + 1, 24)
    span = f"{start_hour:02d}:00-{end_hour:02d}:00" if end_hour > start_hour else "00:00-00:30"
    closed = {day: [span] for day in ("monday", "tuesday", "wednesday", "thursday", "friday",
                                      "saturday", "sunday")}
    shut = await make_campaign(database_url, tmp_path, numbers(10, "415"), start=False, name="shut",
                               windows=closed)
    assert closed_now  # (kept for the message below)
    try:
        # Blocked before the run: one global, one for this campaign only.
        await dnc_service.add(db, contacts[0])
        await dnc_service.add(db, contacts[1], campaign=name)
        for campaign in (name, shut):
            for command in ("approve", "start"):
                await campaign_service.change_state(db, campaign, command, "test")
        async with PbxSimulator(sim_config(queues=(name, "shut"))) as sim:
            engine = engine_for(database_url, sim)
            task = asyncio.create_task(engine.run())
            await wait_for(lambda: sim.stats.originates >= 3, 20, "some calls")
            # Added while the engine runs: never dialled from now on.
            late = contacts[-1]
            await dnc_service.add(db, late)
            added_at = datetime.now(UTC)

            async def done() -> bool:
                left = await fetchval(
                    database_url,
                    "SELECT count(*) FROM contacts k JOIN campaigns c ON c.id = k.campaign_id"
                    " WHERE c.name = $1 AND k.state IN ('ready', 'claimed', 'in_call')", name)
                return left == 0

            await wait_for(done, 90, "every dialable contact to be dialled")
            engine.request_stop()
            await task
    finally:
        await db.close()
    dialled = await fetch(database_url, "SELECT number, originated_at, campaign_id FROM call_attempts")
    dialled_numbers = {r["number"] for r in dialled}
    assert contacts[0] not in dialled_numbers
    assert contacts[1] not in dialled_numbers
    assert all(r["originated_at"] < added_at for r in dialled if r["number"] == late)
    shut_id = await fetchval(database_url, "SELECT id FROM campaigns WHERE name = 'shut'")
    assert not [r for r in dialled if r["campaign_id"] == shut_id], "a closed window was dialled"
    # the closed-window contacts wait for their next opening
    waiting = await fetch(database_url, "SELECT state, next_attempt_at FROM contacts WHERE campaign_id = $1", shut_id)
    assert all(r["state"] == "ready" and r["next_attempt_at"] > datetime.now(UTC) for r in waiting)
    blocked = await fetchval(database_url, "SELECT count(*) FROM contacts WHERE state = 'blocked'")
    assert blocked >= 2


async def test_retries_follow_the_policy(database_url: str, tmp_path: Path) -> None:
    """Busy numbers come back after the busy delay, not before; at most `max` retries."""
    from pacing.world import WorldModel

    world = WorldModel(human_rate=0.0, busy_rate=1.0, congestion_rate=0.0, invalid_rate=0.0)
    name = await make_campaign(
        database_url, tmp_path, numbers(4), start=True,
        retry={"max_attempts": 5, "max_attempts_per_day": 5, "min_gap_min": 0.02,
               "rules": {"busy": {"delays_min": [0.05, 0.1], "max": 3}}},
    )
    async with PbxSimulator(sim_config(world=world)) as sim:
        engine = engine_for(database_url, sim)
        task = asyncio.create_task(engine.run())

        async def done() -> bool:
            return await campaign_state(database_url, name) == "completed"

        await wait_for(done, 60, "the busy contacts to run out of retries")
        engine.request_stop()
        await task
    rows = await fetch(
        database_url,
        "SELECT contact_id, originated_at, ended_at, outcome FROM call_attempts ORDER BY contact_id, originated_at",
    )
    by_contact: dict[int, list] = {}  # type: ignore[type-arg]
    for r in rows:
        by_contact.setdefault(r["contact_id"], []).append(r)
    assert len(by_contact) == 4
    for attempts in by_contact.values():
        assert [a["outcome"] for a in attempts] == ["busy"] * 3  # at most 3 attempts end busy
        gaps = [(b["originated_at"] - a["ended_at"]).total_seconds() for a, b in zip(attempts, attempts[1:], strict=False)]
        assert gaps[0] >= 3.0 - 0.5 and gaps[1] >= 6.0 - 0.5, gaps  # 0.05 and 0.1 minutes
    states = {r["state"] for r in await fetch(database_url, "SELECT state FROM contacts")}
    assert states == {"exhausted"}


async def test_pause_takes_effect_within_a_second(database_url: str, tmp_path: Path) -> None:
    from tests.foundation.helpers import dialer

    name = await make_campaign(database_url, tmp_path, numbers(300))
    async with PbxSimulator(sim_config(agents=5)) as sim:
        engine = engine_for(database_url, sim)
        task = asyncio.create_task(engine.run())
        await wait_for(lambda: sim.stats.originates >= 5, 20, "calls to start")
        result = await asyncio.to_thread(dialer, database_url, "campaign", "pause", name)
        assert result.exit_code == 0
        await asyncio.sleep(1.0)
        after_one_second = sim.stats.originates
        await asyncio.sleep(2.0)
        assert sim.stats.originates == after_one_second, "calls placed more than a second after pause"
        assert engine.runners[next(iter(engine.runners))].state == "paused"
        await asyncio.to_thread(dialer, database_url, "campaign", "resume", name)
        await wait_for(lambda: sim.stats.originates > after_one_second, 10, "dialling to resume")
        engine.request_stop()
        await task
    assert await fetchval(database_url, "SELECT count(*) FROM call_attempts WHERE ended_at IS NULL") == 0


async def test_agent_pause_and_queue_membership(database_url: str, tmp_path: Path) -> None:
    """Pause with a reason and unpause reach Asterisk (QueuePause); removed agents leave the queue."""
    from dialer.engine.agents import AgentState
    from tests.foundation.helpers import dialer

    await make_campaign(database_url, tmp_path, numbers(5), start=False, agents=2)
    async with PbxSimulator(sim_config(agents=2)) as sim:
        db = Database(database_url)
        for command in ("approve", "start"):
            await campaign_service.change_state(db, "c1", command, "test")
        await db.close()
        engine = engine_for(database_url, sim)
        task = asyncio.create_task(engine.run())
        try:
            await wait_for(lambda: engine.agents.agents.get("1001") is not None
                           and engine.agents.agents["1001"].state is not AgentState.LOGGED_OUT, 20, "agent 1001 ready")
            result = await asyncio.to_thread(dialer, database_url, "agents", "pause", "1001", "--reason", "training")
            assert result.exit_code == 0, result.output
            await wait_for(lambda: engine.agents.agents["1001"].state is AgentState.PAUSED, 10, "the pause")
            assert engine.agents.agents["1001"].pause_reason == "training"
            await asyncio.to_thread(dialer, database_url, "agents", "unpause", "1001")
            await wait_for(lambda: engine.agents.agents["1001"].state is not AgentState.PAUSED, 10, "the unpause")
            removed = await asyncio.to_thread(dialer, database_url, "agents", "remove", "1002", "--campaign", "c1")
            assert removed.exit_code == 0
            await wait_for(lambda: "c1" not in engine.agents.agents["1002"].queues, 10, "agent 1002 to leave the queue")
        finally:
            engine.request_stop()
            await task
    states = await fetch(database_url, "SELECT state, reason FROM agent_state_changes WHERE agent_id = '1001' ORDER BY id")
    assert ("paused", "training") in [(r["state"], r["reason"]) for r in states]


async def test_status_shows_the_running_engine(database_url: str, tmp_path: Path) -> None:
    from tests.foundation.helpers import dialer

    name = await make_campaign(database_url, tmp_path, numbers(200), agents=3)
    async with PbxSimulator(sim_config()) as sim:
        engine = engine_for(database_url, sim, "status-e1")
        task = asyncio.create_task(engine.run())
        try:
            await wait_for(lambda: sim.stats.originates >= 3, 20, "calls")
            await asyncio.sleep(1.0)  # a heartbeat carries the live view
            result = await asyncio.to_thread(dialer, database_url, "status")
        finally:
            engine.request_stop()
            await task
    assert result.exit_code == 0, result.output
    line = next(row for row in result.stdout.splitlines() if name in row)
    assert "running" in line and "status-e1" in line
    assert re.search(r"\b\d+\.\d\d (progressive|no agents active|held at \w+)", line), \
        "no dial level and its reason in the engine's live view"
    assert re.search(r"(ready|on_call|wrap_up) \d", line), "no agents in the engine's live view"
    # The engine has stopped: its last heartbeat is what status shows, value for value.
    beat = json.loads(await fetchval(database_url, "SELECT status FROM engines WHERE id = 'status-e1'"))
    info = beat["campaigns"][name]
    assert info["pacing_reason"], info
    again = await asyncio.to_thread(dialer, database_url, "status")
    line = next(row for row in again.stdout.splitlines() if name in row)
    shown = f"{info['dial_level']:.2f} {reason_text(info['pacing_reason'])}"
    assert shown in line, (shown, line)


async def test_a_persons_answer_reaches_the_pacing_estimators_when_it_queues(database_url: str,
                                                                           tmp_path: Path) -> None:
    """Counted when the call ended (minutes later on a real floor), a shift's first answers
    reached the estimators after the no-answers of the same dials and the hit rate read low
    just as the floor started dialling. Each line result is counted once, at queue join for
    a person."""
    from dialer.engine.call_life import Call
    from dialer.engine.ports import EngineObserver

    name = await make_campaign(database_url, tmp_path, numbers(30))
    seen: list[tuple[bool, int]] = []

    class Watch(EngineObserver):
        def connected(self, call: Call) -> None:
            runner = engine.runners[call.campaign_id]
            seen.append((call.result_observed, runner.estimators.times["human"].count))

    async with PbxSimulator(sim_config()) as sim:
        engine = engine_for(database_url, sim, observer=Watch())
        task = asyncio.create_task(engine.run())

        async def finished() -> bool:
            return await campaign_state(database_url, name) == "completed"

        try:
            await wait_for(finished, 90, "the campaign to complete")
            runner = next(iter(engine.runners.values()))
            est = runner.estimators
        finally:
            engine.request_stop()
            await task
    assert seen and all(observed and count >= 1 for observed, count in seen)
    rows = await fetch(database_url, "SELECT outcome, count(*) FROM call_attempts GROUP BY 1")
    by_outcome = {r["outcome"]: r["count"] for r in rows}
    people = sum(by_outcome.get(o, 0) for o in ("answered", "abandoned", "queue_hangup", "opt_out"))
    assert est.times["human"].count == people, "a person's answer counted twice or not at all"
    assert sum(t.count for t in est.times.values()) == sum(by_outcome.values())
