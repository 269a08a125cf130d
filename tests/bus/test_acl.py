"""Each desktop is one agent (issue 14): the shipped broker ACL, and the engine's own guard.

Against a private Mosquitto run from deploy/mosquitto/ (tests/bus/acl_broker.py): an agent
publishes and reads only on his own topics, a refused publish never reaches the engine,
a wrong password or no login at all is refused, and the engine (user "dialer") takes
dispositions through its shared subscription. Against the open shared broker: the
engine refuses a disposition for another agent's call by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import asyncpg
import pytest

from dialer.db.database import Database
from dialer.outputs import bus_topics as topics
from dialer.outputs.bus import MqttBus, MqttSettings
from dialer.outputs.observers import DatabaseDispositionSink
from tests.bus.acl_broker import (
    ENGINE_PASSWORD,
    ENGINE_USER,
    AclBroker,
    Desktop,
    started_broker,
)
from tests.bus.conftest import subscribe
from tests.engine.harness import make_campaign, numbers

SUCCESS, NOT_AUTHORIZED = 0, 135


@pytest.fixture
def acl_broker(tmp_path: Path) -> Iterator[AclBroker]:
    with started_broker(tmp_path / "broker") as broker:
        yield broker


async def _attempts(url: str, tmp_path: Path, agents: list[str | None]) -> list[uuid.UUID]:
    """Connected attempts of a campaign, one per agent given (None: an attempt naming no agent)."""
    await make_campaign(url, tmp_path, numbers(2), start=False)
    conn = await asyncpg.connect(url)
    try:
        campaign_id, contact_id = await conn.fetchrow("SELECT campaign_id, id FROM contacts LIMIT 1")
        ids = []
        for agent in agents:
            attempt_id = uuid.uuid4()
            await conn.execute(
                "INSERT INTO call_attempts (id, campaign_id, contact_id, number, attempt_no, engine_id,"
                " originated_at, answered_at, connected_at, ended_at, outcome, agent_id)"
                " VALUES ($1, $2, $3, '+12125550100', 1, 'e1', now(), now(), now(), now(), 'answered', $4)",
                attempt_id, campaign_id, contact_id, agent,
            )
            ids.append(attempt_id)
        return ids
    finally:
        await conn.close()


async def _dispositions(url: str) -> dict[uuid.UUID, tuple[str | None, str | None]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT id, disposition, disposition_by FROM call_attempts")
        return {r["id"]: (r["disposition"], r["disposition_by"]) for r in rows}
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def _engine(url: str, database_url: str, **bus: Any) -> AsyncIterator[MqttBus]:
    sink_db = Database(database_url, pool_size=1)
    engine = MqttBus(url, f"acl-{uuid.uuid4().hex[:6]}", sink=DatabaseDispositionSink(sink_db),
                     persistent_session=False, **bus)
    await engine.start()
    try:
        await asyncio.wait_for(engine.wait_connected(), 20)
        yield engine
    finally:
        await engine.stop()
        await sink_db.close()


async def _next_json(desk: aiomqtt.Client) -> tuple[str, Any]:
    async def first() -> tuple[str, Any]:
        async for message in desk.messages:
            return str(message.topic), json.loads(message.payload)  # type: ignore[arg-type]
        raise AssertionError("the desktop's connection ended")

    return await asyncio.wait_for(first(), 20)  # a guard against hanging, not a timing assertion


def _body(attempt: uuid.UUID, code: str) -> str:
    return json.dumps({"attempt_id": str(attempt), "code": code})


async def test_agent_writes_only_his_own_dispositions(
    acl_broker: AclBroker, database_url: str, tmp_path: Path
) -> None:
    mine, theirs = await _attempts(database_url, tmp_path, ["1001", "1002"])
    # the engine as deployed: user "dialer", dispositions through $share/dialer/...
    async with _engine(acl_broker.engine_url(), database_url), \
            acl_broker.desktop("1001") as desk_1001, acl_broker.desktop("1002") as desk_1002:
        for desk, agent in ((desk_1001, "1001"), (desk_1002, "1002")):
            await desk.subscribe(topics.acks(agent), qos=1)
            await desk.subscribe(topics.errors(agent), qos=1)

        assert await desk_1001.publish_for_code(topics.disposition("1001"), _body(mine, "not_interested")) == SUCCESS
        topic, ack = await _next_json(desk_1001)
        assert topic == "dialer/agents/1001/acks" and ack["attempt_id"] == str(mine) and ack["status"] == "applied"

        # 1001 speaking for 1002's call on 1002's topic: refused by the broker, so the
        # engine never hears it (its own check could not tell: the topic names 1002)
        assert await desk_1001.publish_for_code(topics.disposition("1002"), _body(theirs, "refused")) == NOT_AUTHORIZED
        # 1002's own disposition, sent after, is the first the engine sees for that call
        assert await desk_1002.publish_for_code(topics.disposition("1002"), _body(theirs, "success")) == SUCCESS
        topic, ack = await _next_json(desk_1002)
        assert topic == "dialer/agents/1002/acks" and ack["attempt_id"] == str(theirs), ack

        # a desktop cannot forge the engine's replies or events either
        for forged in (topics.acks("1001"), topics.screenpop("1001"), topics.errors("1002"),
                       topics.calls("engine-1", "sales"), "dialer/agents/1001/offer"):
            assert await desk_1001.publish_for_code(forged, b"{}") == NOT_AUTHORIZED, forged
    assert (await _dispositions(database_url))[mine] == ("not_interested", "agent 1001")
    assert (await _dispositions(database_url))[theirs] == ("success", "agent 1002")


async def test_agent_answers_previews_only_for_himself(acl_broker: AclBroker) -> None:
    async with subscribe(acl_broker.engine_url(), f"{topics.AGENTS}/+/preview") as engine, \
            acl_broker.desktop("1001") as desk:
        assert await desk.publish_for_code("dialer/agents/1002/preview", b'{"n": 1}') == NOT_AUTHORIZED
        assert await desk.publish_for_code("dialer/agents/1001/preview", b'{"n": 2}') == SUCCESS
        topic, payload, _ = await engine.next()
    assert (topic, payload) == ("dialer/agents/1001/preview", {"n": 2})


async def test_agent_reads_only_his_own_topics(acl_broker: AclBroker) -> None:
    async with acl_broker.desktop("1001") as desk, aiomqtt.Client(
            "127.0.0.1", acl_broker.engine_port, username=ENGINE_USER, password=ENGINE_PASSWORD) as engine:
        granted = []
        for filter_ in ("dialer/agents/1002/#", "dialer/agents/+/screenpop", "dialer/#", "dialer/agents/1001/#"):
            codes = await desk.subscribe(filter_, qos=1)
            granted.append((filter_, _value(codes[0])))
        assert granted[-1][1] < 0x80, "1001's own topics must be granted"
        # Mosquitto 2.0 grants any subscription and filters on delivery; a refusing SUBACK is
        # fine too: either way 1002's screen pop (a customer's number) never reaches 1001
        await engine.publish(topics.screenpop("1002"), b'{"for": "1002"}', qos=1)
        await engine.publish(topics.calls("engine-1", "sales"), b'{"for": "wallboards"}', qos=1)
        await engine.publish(topics.screenpop("1001"), b'{"for": "1001"}', qos=1)
        received = []
        while not received or received[-1][1] != {"for": "1001"}:
            received.append(await _next_json(desk))
    assert {payload["for"] for _, payload in received} == {"1001"}, (granted, received)


@pytest.mark.parametrize(("listener", "user", "password"), [
    ("agents", "1001", "not-his-password"),
    ("agents", None, None),
    ("agents", "1009", "pw-1001"),  # no such login
    ("engine", None, None),
    ("engine", ENGINE_USER, "guess"),
])
async def test_logins_refused(acl_broker: AclBroker, listener: str, user: str | None, password: str | None) -> None:
    port = acl_broker.agent_port if listener == "agents" else acl_broker.engine_port
    client = Desktop("127.0.0.1", port, username=user, password=password, timeout=20)
    with pytest.raises(aiomqtt.MqttError) as refused:
        async with client:
            pass
    assert "not authori" in str(refused.value).lower() or "bad user name or password" in str(refused.value).lower()


async def test_engine_refuses_another_agents_call_on_an_open_broker(
    broker_url: str, database_url: str, tmp_path: Path
) -> None:
    """No ACL at all (the shared test broker is anonymous): the engine's own check holds."""
    agent, other = (f"9{uuid.uuid4().int % 10**6:06d}" for _ in range(2))  # fresh ids: no other test's replies
    theirs, nobodys, mine = await _attempts(database_url, tmp_path, [other, None, agent])
    async with _engine(broker_url, database_url, share_group=None), \
            subscribe(broker_url, f"dialer/agents/{agent}/+") as replies, \
            aiomqtt.Client(**_anonymous(broker_url)) as desk:
        await desk.publish(topics.disposition(agent), _body(theirs, "refused"), qos=1)
        await desk.publish(topics.disposition(agent), _body(nobodys, "refused"), qos=1)
        await desk.publish(topics.disposition(agent), _body(mine, "success"), qos=1)
        answers: list[tuple[str, Any, bool]] = []
        while len(answers) < 3:
            answer = await replies.next()
            if not answer[0].endswith("/disposition"):  # the desk's own requests come back too
                answers.append(answer)
    assert [(t.rsplit("/", 1)[1], p.get("error"), p["attempt_id"]) for t, p, _ in answers] == [
        ("errors", "wrong_agent", str(theirs)),
        ("errors", "wrong_agent", str(nobodys)),
        ("acks", None, str(mine)),
    ]
    stored = await _dispositions(database_url)
    assert stored[theirs] == (None, None) and stored[nobodys] == (None, None), "a refused disposition was stored"
    assert stored[mine] == ("success", f"agent {agent}")


def _anonymous(url: str) -> dict[str, Any]:
    return MqttSettings.from_url(url).client_kwargs()


def _value(code: Any) -> int:
    """A SUBACK entry: a v5 reason code or a v3 granted QoS."""
    return int(code.value) if hasattr(code, "value") else int(code)
