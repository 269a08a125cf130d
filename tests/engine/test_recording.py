"""Recorded calls on the simulator and PostgreSQL: the path Asterisk reports, the recorded
seconds, no path for a call not recorded, and the screen pop and call-ended events over the
real MQTT broker."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiomqtt

from ami.simulator import PbxSimulator
from dialer.outputs.bus import MqttBus
from dialer.outputs.observers import EngineEvents
from pacing.world import Duration, WorldModel
from tests.engine.harness import (
    campaign_state,
    engine_for,
    fetch,
    make_campaign,
    numbers,
    sim_config,
    wait_for,
)
from tests.engine.test_engine_failures import _engine_process

MQTT_URL = os.environ.get("DIALER_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
RECORDINGS = "/srv/recordings/dialer"
# People, machines, busy and unanswered lines: every way a call can end up recorded or not.
MIXED = WorldModel(
    human_rate=0.45, machine_rate=0.25, busy_rate=0.1, congestion_rate=0.05, invalid_rate=0.0,
    talk=Duration.exponential(30.0), wrap=Duration.fixed(3.0), patience=Duration.exponential(60.0),
)
HUMAN = {"answered", "abandoned", "queue_hangup", "opt_out"}
NOT_ANSWERED = {"no_answer", "busy", "congestion", "failed"}

ROWS = ("SELECT id::text AS id, outcome, amd_result, recording_path, recording_seconds, answered_at,"
        " connected_at, ended_at FROM call_attempts")


async def _run(url: str, tmp: Path, *, record: bool, count: int, observer: Any = None,
               engine_id: str = "e1") -> dict[str, Any]:
    name = await make_campaign(url, tmp, numbers(count), agents=3, record=record, amd=True)
    async with PbxSimulator(sim_config(world=MIXED, recording_dir=RECORDINGS, seed=11)) as sim:
        engine = engine_for(url, sim, engine_id, observer)
        task = asyncio.create_task(engine.run())
        try:
            async def done() -> bool:
                return await campaign_state(url, name) == "completed"

            await wait_for(done, 120, "the campaign to complete")
        finally:
            engine.request_stop()
            await task
        return {"name": name, "recorded": sim.stats.outcomes["recorded"]}


async def test_recorded_campaign_stores_path_and_seconds(database_url: str, tmp_path: Path) -> None:
    run = await _run(database_url, tmp_path, record=True, count=40)
    rows = [dict(r) for r in await fetch(database_url, ROWS)]
    outcomes = {r["outcome"] for r in rows}
    assert {"answered", "machine"} <= outcomes and outcomes & NOT_ANSWERED, outcomes
    recorded = [r for r in rows if r["recording_path"] is not None]
    # every call the simulated dialplan recorded, and only those, has its path stored
    assert len(recorded) == run["recorded"] > 0
    for r in rows:
        if r["outcome"] in HUMAN:
            assert r["recording_path"] == f"{RECORDINGS}/{r['id']}.wav", r
            # recorded from just before the queue to the end: at least the talk time, at
            # most the time since the answer
            assert r["recording_seconds"] is not None and r["recording_seconds"] > 0, r
            answered_s = (r["ended_at"] - r["answered_at"]).total_seconds()
            assert r["recording_seconds"] <= answered_s + 0.05, r
            if r["connected_at"] is not None:
                talk_s = (r["ended_at"] - r["connected_at"]).total_seconds()
                assert r["recording_seconds"] >= talk_s - 0.05, r
        else:
            # AMD hung up on the machine before MixMonitor, or nobody answered
            assert r["outcome"] == "machine" or r["outcome"] in NOT_ANSWERED, r
            assert (r["recording_path"], r["recording_seconds"]) == (None, None), r
    machines = [r for r in rows if r["outcome"] == "machine"]
    assert machines and all(r["amd_result"] == "MACHINE" for r in machines)


async def test_campaign_not_recorded_has_no_path(database_url: str, tmp_path: Path) -> None:
    run = await _run(database_url, tmp_path, record=False, count=20)
    rows = await fetch(database_url, ROWS)
    assert run["recorded"] == 0
    assert any(r["outcome"] == "answered" for r in rows)
    assert all(r["recording_path"] is None and r["recording_seconds"] is None for r in rows)


async def test_screen_pop_and_call_ended_carry_the_recording(database_url: str, tmp_path: Path) -> None:
    engine_id = f"rec{uuid.uuid4().hex[:6]}"
    received: list[tuple[str, dict[str, Any]]] = []
    broker = urlsplit(MQTT_URL)
    bus = MqttBus(MQTT_URL, engine_id, share_group=None)
    async with aiomqtt.Client(broker.hostname or "127.0.0.1", broker.port or 1883) as listener:
        await listener.subscribe(f"dialer/{engine_id}/calls/#", qos=1)
        await listener.subscribe("dialer/agents/+/screenpop", qos=1)

        async def listen() -> None:
            async for message in listener.messages:
                received.append((str(message.topic), json.loads(message.payload)))  # type: ignore[arg-type]

        listening = asyncio.create_task(listen())
        await bus.start()
        try:
            await _run(database_url, tmp_path, record=True, count=30, engine_id=engine_id,
                       observer=EngineEvents(None, bus))
            rows = {r["id"]: dict(r) for r in await fetch(database_url, ROWS)}
            await wait_for(lambda: sum(1 for _, p in received if p.get("event") == "ended") == len(rows),
                           15, "an ended event per attempt")
        finally:
            await bus.stop()
            listening.cancel()
    pops = [p for t, p in received if t.endswith("/screenpop")]
    assert pops, "no call was connected"
    for pop in pops:
        assert pop["recording_path"] == rows[pop["attempt_id"]]["recording_path"] is not None
    for ended in (p for _, p in received if p.get("event") == "ended"):
        row = rows[ended["attempt_id"]]
        assert ended["recording_path"] == row["recording_path"]
        if row["recording_seconds"] is None:
            assert ended["recording_seconds"] is None
        else:
            assert abs(ended["recording_seconds"] - row["recording_seconds"]) <= 0.051  # rounded to 0.1 s
    assert any(p["recording_path"] is None for _, p in received if p.get("event") == "ended")


async def test_a_restart_keeps_the_path_and_guesses_no_length(database_url: str, tmp_path: Path) -> None:
    """An engine killed while a recorded call is up: the restarted engine closes it with the
    path stored during the call, and no recorded seconds (the start was heard by the dead one)."""
    people = WorldModel(human_rate=1.0, machine_rate=0.0, busy_rate=0.0, congestion_rate=0.0,
                        invalid_rate=0.0, talk=Duration.fixed(60.0), wrap=Duration.fixed(1.0),
                        patience=Duration.fixed(600.0))
    name = await make_campaign(database_url, tmp_path, numbers(4), agents=2, record=True)
    async with PbxSimulator(sim_config(agents=2, world=people, recording_dir=RECORDINGS, time_scale=10.0)) as sim:
        async def stored_while_up() -> bool:
            return bool(await fetch(database_url, "SELECT 1 FROM call_attempts WHERE ended_at IS NULL"
                                    " AND connected_at IS NOT NULL AND recording_path IS NOT NULL"))

        first = await _engine_process(database_url, sim.port, "k1")
        try:
            await wait_for(stored_while_up, 60, "a connected call's recording path stored", step=0.05)
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()
        up = {r["id"] for r in await fetch(database_url, "SELECT id::text FROM call_attempts WHERE ended_at IS NULL"
                                           " AND recording_path IS NOT NULL")}
        second = engine_for(database_url, sim, "k1")
        task = asyncio.create_task(second.run())
        try:
            await wait_for(lambda: campaign_state(database_url, name), 5, "engine start")

            async def done() -> bool:
                return await campaign_state(database_url, name) == "completed"

            await wait_for(done, 120, "the campaign to complete")
        finally:
            second.request_stop()
            await task
    rows = {r["id"]: dict(r) for r in await fetch(database_url, ROWS)}
    assert up
    for attempt in up:
        assert rows[attempt]["outcome"] == "answered", rows[attempt]
        assert rows[attempt]["recording_path"] == f"{RECORDINGS}/{attempt}.wav"
        assert rows[attempt]["recording_seconds"] is None, rows[attempt]
    later = [r for a, r in rows.items() if a not in up and r["ended_at"] > r["answered_at"]]
    assert later and all(r["recording_seconds"] is not None for r in later if r["recording_path"])
