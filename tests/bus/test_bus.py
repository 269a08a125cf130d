"""The MQTT bus against real brokers: events out, dispositions in, broker down and back."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

import aiomqtt
import pytest

from dialer.outputs import bus_topics as topics
from dialer.outputs.bus import (
    DispositionRejected,
    DispositionRequest,
    MqttBus,
    MqttSettings,
    ScreenPop,
)
from tests.bus.conftest import PrivateBroker, free_port, subscribe


class RecordingSink:
    """The engine's side in miniature: attempts by agent, the campaign's codes."""

    def __init__(self, attempts: dict[uuid.UUID, str], codes: set[str]) -> None:
        self.attempts = attempts
        self.codes = codes
        self.applied: list[tuple[str, DispositionRequest]] = []

    async def apply(self, agent_id: str, request: DispositionRequest) -> None:
        owner = self.attempts.get(request.attempt_id)
        if owner is None:
            raise DispositionRejected("unknown_attempt", "no such attempt")
        if owner != agent_id:
            raise DispositionRejected("wrong_agent", "this call was handled by another agent")
        if request.code not in self.codes:
            raise DispositionRejected("unknown_code", f"{request.code!r} is not a disposition of this campaign")
        self.applied.append((agent_id, request))


def test_settings_from_url() -> None:
    s = MqttSettings.from_url("mqtts://dialer:p%40ss@broker.example:8884?ca=/etc/ca.pem")
    assert (s.host, s.port, s.username, s.password, s.tls, s.ca_file) == (
        "broker.example", 8884, "dialer", "p@ss", True, "/etc/ca.pem",
    )
    assert "p@ss" not in repr(s) and "p@ss" not in s.redacted()
    assert MqttSettings.from_url("mqtt://localhost").port == 1883
    assert MqttSettings.from_url("mqtts://localhost").port == 8883
    assert "tls_context" in MqttSettings.from_url("mqtts://localhost").client_kwargs()
    with pytest.raises(ValueError):
        MqttSettings.from_url("http://localhost")


def test_topics() -> None:
    assert topics.calls("eng1", "sales") == "dialer/eng1/calls/sales"
    assert topics.agent_events("eng1", "1001") == "dialer/eng1/agents/1001"
    assert topics.campaign_state("eng1", "sales") == "dialer/eng1/campaigns/sales"
    assert topics.screenpop("1001") == "dialer/agents/1001/screenpop"
    assert topics.errors("1001") == "dialer/agents/1001/errors"
    assert topics.agent_of_disposition("dialer/agents/1001/disposition") == "1001"
    assert topics.agent_of_disposition("dialer/agents/1001/errors") is None
    with pytest.raises(topics.TopicError):
        topics.calls("eng1", "sales/#")


async def test_events_reach_subscribers(broker_url: str, engine_id: str) -> None:
    bus = MqttBus(broker_url, engine_id, persistent_session=False)
    attempt = uuid.uuid4()
    async with subscribe(broker_url, f"dialer/{engine_id}/#") as engine_events, \
            subscribe(broker_url, topics.screenpop("1001")) as pops:
        await bus.start()
        await asyncio.wait_for(bus.wait_connected(), 10)
        bus.call_originated("sales", attempt, 42)
        bus.call_answered("sales", attempt, 42)
        bus.call_connected("sales", attempt, 42, "1001")
        bus.screen_pop("1001", ScreenPop(attempt, "sales", 42, "+13055550123", {"name": "Ann Lee"}, "Hello!",
                                         recording_path=f"/rec/{attempt}.wav"))
        bus.call_ended("sales", attempt, 42, "answered", agent_id="1001", recording_path=f"/rec/{attempt}.wav",
                       recording_seconds=61.5)
        bus.agent_event("1001", "state", "wrapup")
        bus.campaign_state("sales", "running", dial_level=1.8)
        received = [await engine_events.next() for _ in range(6)]
        pop_topic, pop, _ = await pops.next()
    await bus.stop()

    calls = [(t, p) for t, p, _ in received if "/calls/" in t]
    assert [p["event"] for _, p in calls] == ["originated", "answered", "connected", "ended"]
    assert {t for t, _ in calls} == {f"dialer/{engine_id}/calls/sales"}
    ended = calls[-1][1]
    assert ended["outcome"] == "answered" and ended["agent_id"] == "1001" and ended["attempt_id"] == str(attempt)
    assert all("+1305" not in json.dumps(p) for _, p in calls), "no phone numbers in call events"
    agent = next((t, p, r) for t, p, r in received if "/agents/" in t)
    assert agent[0] == f"dialer/{engine_id}/agents/1001" and agent[1]["state"] == "wrapup"
    campaign = next(p for t, p, _ in received if "/campaigns/" in t)
    assert campaign["state"] == "running" and campaign["dial_level"] == 1.8
    assert pop_topic == "dialer/agents/1001/screenpop"
    assert pop["contact"] == {"id": 42, "number": "+13055550123", "number_index": 0, "fields": {"name": "Ann Lee"}}
    assert pop["script"] == "Hello!" and pop["attempt_id"] == str(attempt)
    assert pop["recording_path"] == ended["recording_path"] == f"/rec/{attempt}.wav"
    assert ended["recording_seconds"] == 61.5

    # agent and campaign state are retained for late subscribers; clear them after the test
    async with subscribe(broker_url, f"dialer/{engine_id}/campaigns/#") as late:
        t, p, retained = await late.next()
        assert retained and p["state"] == "running"
    async with aiomqtt.Client("127.0.0.1", MqttSettings.from_url(broker_url).port) as c:
        await c.publish(topics.campaign_state(engine_id, "sales"), b"", retain=True)
        await c.publish(topics.agent_events(engine_id, "1001"), b"", retain=True)


async def test_dispositions_validated(
    broker_url: str, engine_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    sink = RecordingSink({mine: "1001", theirs: "1002"}, {"success", "callback", "not_interested"})
    # no shared group: the test's engine must get every message sent to it
    bus = MqttBus(broker_url, engine_id, sink=sink, share_group=None, persistent_session=False)
    agent = f"9{uuid.uuid4().int % 10**6:06d}"  # a fresh agent id: other tests' messages never mix in
    sink.attempts = {mine: agent, theirs: "1002"}
    caplog.set_level(logging.INFO, logger="dialer.outputs.bus")
    await bus.start()
    await asyncio.wait_for(bus.wait_connected(), 10)
    requests: list[tuple[Any, str | None]] = [
        ({"attempt_id": str(uuid.uuid4()), "code": "success"}, "unknown_attempt"),
        ({"attempt_id": str(theirs), "code": "success"}, "wrong_agent"),
        ({"attempt_id": str(mine), "code": "sold_twice"}, "unknown_code"),
        ({"attempt_id": str(mine), "code": "callback", "callback_at": "2026-06-11T10:00"}, "malformed"),
        ({"attempt_id": "not-a-uuid", "code": "success"}, "malformed"),
        ({"attempt_id": str(mine), "code": "success", "phone": "+13055550123"}, "malformed"),
        ("{not json", "malformed"),
        ({"attempt_id": str(mine), "code": "callback", "callback_at": "2026-06-11T10:00:00+02:00",
          "note": "after lunch"}, None),
    ]
    settings = MqttSettings.from_url(broker_url)
    async with subscribe(broker_url, f"dialer/agents/{agent}/+") as replies, \
            aiomqtt.Client(**settings.client_kwargs()) as desktop:
        for body, _ in requests:
            raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            await desktop.publish(topics.disposition(agent), raw, qos=1)
        answers: list[tuple[str, Any]] = []
        while len(answers) < len(requests):
            t, p, _ = await replies.next()
            if not t.endswith("/disposition"):
                answers.append((t, p))
    await bus.stop()

    errors = [p for t, p in answers if t == topics.errors(agent)]
    acks = [p for t, p in answers if t == topics.acks(agent)]
    assert [e["error"] for e in errors] == [want for _, want in requests if want]
    assert errors[0]["attempt_id"] and errors[2]["code"] == "sold_twice"
    assert len(acks) == 1 and acks[0]["code"] == "callback"
    # only the valid one was applied, with its callback time and note
    assert len(sink.applied) == 1
    applied_agent, request = sink.applied[0]
    assert applied_agent == agent and request.attempt_id == mine and request.note == "after lunch"
    assert request.callback_at is not None and request.callback_at.utcoffset() is not None
    assert bus.rejected == 7 and bus.applied == 1
    assert "+1305" not in caplog.text


async def test_broker_down_never_blocks_and_buffer_is_bounded(engine_id: str) -> None:
    bus = MqttBus(f"mqtt://127.0.0.1:{free_port()}", engine_id, buffer_size=5, backoff_min=0.05, backoff_max=0.1)
    await bus.start()
    for i in range(20):  # plain calls: nothing to await, nothing can block
        bus.call_ended("sales", f"a-{i:02d}", i, "busy")
    assert not bus.connected
    assert bus.buffered == 5 and bus.dropped == 15
    await bus.stop(flush_timeout=0.1)


async def test_broker_restart_delivers_buffered_events(private_broker: PrivateBroker, engine_id: str) -> None:
    url = private_broker.url
    sink = RecordingSink({}, {"success"})
    bus = MqttBus(url, engine_id, sink=sink, share_group=None, backoff_min=0.05, backoff_max=0.2)
    topic = f"dialer/{engine_id}/calls/#"
    # a persistent subscriber (a CRM): its session and subscription survive the restart
    crm = {"identifier": f"crm-{engine_id}", "clean_session": False}
    async with subscribe(url, topic, **crm) as before:
        await bus.start()
        await asyncio.wait_for(bus.wait_connected(), 10)
        bus.call_originated("sales", "a-00", 0)
        assert (await before.next())[1]["attempt_id"] == "a-00"

    private_broker.stop()
    await asyncio.wait_for(bus.wait_disconnected(), 10)
    for i in range(1, 11):  # the engine keeps dialling while the broker is down
        bus.call_ended("sales", f"a-{i:02d}", i, "no_answer")
    assert bus.buffered == 10 and bus.dropped == 0

    private_broker.start()
    await asyncio.wait_for(bus.wait_connected(), 20)
    await asyncio.wait_for(bus.wait_flushed(), 20)
    async with subscribe(url, topic, **crm) as after:
        got = [(await after.next())[1]["attempt_id"] for _ in range(10)]
    assert got == [f"a-{i:02d}" for i in range(1, 11)]
    assert bus.connects >= 2 and bus.buffered == 0

    # dispositions flow again after the restart (the bus subscribed anew)
    attempt = uuid.uuid4()
    sink.attempts[attempt] = "1001"
    async with aiomqtt.Client("127.0.0.1", private_broker.port) as desktop, \
            subscribe(url, topics.acks("1001")) as acks:
        await desktop.publish(topics.disposition("1001"), json.dumps({"attempt_id": str(attempt), "code": "success"}), qos=1)
        assert (await acks.next())[1]["status"] == "applied"
    await bus.stop()


async def test_engines_share_dispositions(private_broker: PrivateBroker) -> None:
    """Two engines in the default shared group: each disposition is applied exactly once."""
    attempts = {uuid.uuid4(): "1001" for _ in range(6)}
    sinks = [RecordingSink(attempts, {"success"}) for _ in range(2)]
    buses = [MqttBus(private_broker.url, f"eng{i}", sink=sinks[i]) for i in range(2)]
    for bus in buses:
        await bus.start()
        await asyncio.wait_for(bus.wait_connected(), 10)
    async with aiomqtt.Client("127.0.0.1", private_broker.port) as desktop, \
            subscribe(private_broker.url, topics.acks("1001")) as acks:
        for attempt in attempts:
            await desktop.publish(
                topics.disposition("1001"), json.dumps({"attempt_id": str(attempt), "code": "success"}), qos=1
            )
        for _ in attempts:
            await acks.next()
    for bus in buses:
        await bus.stop()
    applied = [r.attempt_id for s in sinks for _, r in s.applied]
    assert sorted(applied) == sorted(attempts)
