"""An engine run observed from outside: the Prometheus endpoint and the MQTT broker.

Metrics are scraped over HTTP during and after a run and checked against the attempts
table; call events, screen pops and dispositions travel through the real broker.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiomqtt

from ami.simulator import PbxSimulator
from dialer.db.database import Database
from dialer.outputs.bus import MqttBus
from dialer.outputs.metrics import DialerMetrics, parse_exposition
from dialer.outputs.observers import DatabaseDispositionSink, EngineEvents
from tests.engine.harness import (
    campaign_state,
    engine_for,
    fetch,
    fetchval,
    make_campaign,
    numbers,
    sim_config,
    wait_for,
)

MQTT_URL = os.environ.get("DIALER_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")


async def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    await writer.drain()
    body = await reader.read()
    writer.close()
    head, _, text = body.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:100]
    return parse_exposition(text.decode())


async def test_metrics_and_mqtt_during_a_run(database_url: str, tmp_path: Path) -> None:
    engine_id = f"obs{uuid.uuid4().hex[:6]}"
    name = await make_campaign(database_url, tmp_path, numbers(40), agents=3)
    received: list[tuple[str, dict[str, Any]]] = []
    broker = urlsplit(MQTT_URL)
    async with PbxSimulator(sim_config()) as sim, aiomqtt.Client(broker.hostname or "127.0.0.1", broker.port or 1883) as listener:
        await listener.subscribe(f"dialer/{engine_id}/#", qos=1)
        await listener.subscribe("dialer/agents/+/screenpop", qos=1)
        await listener.subscribe("dialer/agents/+/errors", qos=1)
        await listener.subscribe("dialer/agents/+/acks", qos=1)

        async def listen() -> None:
            async for message in listener.messages:
                received.append((str(message.topic), json.loads(message.payload)))  # type: ignore[arg-type]

        listening = asyncio.create_task(listen())
        engine = engine_for(database_url, sim, engine_id, disposition_timeout_s=60.0)
        metrics = DialerMetrics()
        sink_db = Database(database_url, pool_size=1)
        bus = MqttBus(MQTT_URL, engine_id, sink=DatabaseDispositionSink(sink_db), share_group=None)
        engine.observer = EngineEvents(metrics, bus)
        port = await metrics.start(0, host="127.0.0.1")
        await bus.start()
        task = asyncio.create_task(engine.run())
        try:
            # a scrape while calls are up
            await wait_for(lambda: len(engine.calls) > 0, 30, "calls in progress")
            live = await _scrape(port)
            assert live[("dialer_ami_up", ())] == 1.0

            async def finished() -> bool:
                return await campaign_state(database_url, name) == "completed" or not await fetchval(
                    database_url, "SELECT count(*) FROM contacts WHERE state IN ('ready', 'claimed')")

            await wait_for(finished, 90, "the list to be dialled")
            await wait_for(lambda: len(engine.calls) == 0, 60, "the last calls to end")
            await wait_for(lambda: not engine.closing.pending_closes, 10, "the writer")
            # dispositions over MQTT: a good one, and ones that must be refused
            connected = await fetch(
                database_url,
                "SELECT id::text, agent_id, contact_id FROM call_attempts WHERE connected_at IS NOT NULL"
                " ORDER BY ended_at LIMIT 2")
            assert len(connected) == 2
            good, other = connected
            async with aiomqtt.Client(broker.hostname or "127.0.0.1", broker.port or 1883) as desk:
                await desk.publish(f"dialer/agents/{good['agent_id']}/disposition",
                                   json.dumps({"attempt_id": good["id"], "code": "not_interested"}), qos=1)
                await desk.publish(f"dialer/agents/{other['agent_id']}/disposition",
                                   json.dumps({"attempt_id": other["id"], "code": "bogus"}), qos=1)
                wrong_agent = "1003" if other["agent_id"] != "1003" else "1002"
                await desk.publish(f"dialer/agents/{wrong_agent}/disposition",
                                   json.dumps({"attempt_id": other["id"], "code": "success"}), qos=1)
                await desk.publish(f"dialer/agents/{wrong_agent}/disposition",
                                   json.dumps({"attempt_id": str(uuid.uuid4()), "code": "success"}), qos=1)

            def errors() -> list[str]:
                return [p["error"] for t, p in received if t.endswith("/errors")]

            await wait_for(lambda: len(errors()) >= 3, 15, "three refusals on the error topics")
            assert sorted(errors()) == ["unknown_attempt", "unknown_code", "wrong_agent"]

            async def applied() -> bool:
                return await fetchval(database_url, "SELECT decided_at IS NOT NULL FROM call_attempts WHERE id = $1",
                                      uuid.UUID(good["id"]))

            await wait_for(applied, 15, "the MQTT disposition to be applied")
            assert await fetchval(database_url, "SELECT disposition FROM call_attempts WHERE id = $1",
                                  uuid.UUID(other["id"])) is None, "a refused disposition was applied"
            assert await fetchval(database_url, "SELECT state FROM contacts WHERE id = $1", good["contact_id"]) == "done"

            # the endpoint agrees with the attempts table
            final = await _scrape(port)
        finally:
            engine.request_stop()
            await task
            await bus.stop()
            await sink_db.close()
            await metrics.stop()
            listening.cancel()
    by_outcome = dict(await fetch(database_url, "SELECT outcome, count(*) FROM call_attempts GROUP BY 1"))
    for outcome, count in by_outcome.items():
        assert final[("dialer_attempts_total", (("campaign", name), ("outcome", outcome)))] == count
    connects = await fetchval(database_url, "SELECT count(*) FROM call_attempts WHERE connected_at IS NOT NULL")
    assert final[("dialer_agent_connects_total", (("campaign", name),))] == connects
    assert final[("dialer_time_to_agent_seconds_count", (("campaign", name),))] == connects
    total = sum(by_outcome.values())
    assert final[("dialer_connect_rate", (("campaign", name), ("kind", "connected"), ("window", "1h")))] == connects / total
    assert final[("dialer_calls_last_60m", (("campaign", name),))] == total
    # no phone numbers, names or attempt ids in any label
    attempt_ids = {r["id"] for r in await fetch(database_url, "SELECT id::text FROM call_attempts")}
    for (_, labels) in final:
        for key, value in labels:
            if key == "le":
                continue
            assert not re.fullmatch(r"\+?[0-9 ()-]{7,}", value), value
            assert value not in attempt_ids and not value.startswith("Contact"), value
    # MQTT: one ended event per attempt, a screen pop per connected call, to that agent
    ended = [p for t, p in received if t == f"dialer/{engine_id}/calls/{name}" and p["event"] == "ended"]
    assert sorted(p["attempt_id"] for p in ended) == sorted(
        r["id"] for r in await fetch(database_url, "SELECT id::text FROM call_attempts"))
    pops = [(t, p) for t, p in received if t.endswith("/screenpop")]
    assert len(pops) == connects
    for topic, pop in pops:
        assert topic == f"dialer/agents/{pop['agent_id']}/screenpop"
        assert pop["contact"]["fields"]["name"].startswith("Contact ")
