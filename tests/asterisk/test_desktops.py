"""Each desktop is one agent, on the real Asterisk (issue 14): the engine as `dialer run`
wires it (its MQTT bus logged in as `dialer`) behind the SHIPPED Mosquitto logins and ACL
(tests/bus/acl_broker.py), two agents logged in on the real agent pool, a preview campaign.

Agent 1002's desktop cannot take agent 1001's offer, neither on 1001's topic (the broker
refuses the publish) nor on its own (the engine refuses: the offer is not his), and cannot
disposition 1001's call; 1001's own desktop accepts his offer, the customer is put through
to him on Asterisk, and his disposition is stored.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from ami.client import AMIClient
from dialer.outputs import bus_topics as topics
from dialer.outputs.observers import start_observers
from dialer.settings import Settings
from tests.asterisk.pbx import (
    engine_on,
    login_agents,
    recording,
    rig_campaign,
    rig_numbers,
    set_pstn,
)
from tests.asterisk.rig import AsteriskRig
from tests.bus.acl_broker import AclBroker, started_broker
from tests.engine.harness import fetch, wait_for

SUCCESS, NOT_AUTHORIZED = 0, 135


@pytest.fixture
def acl_broker(tmp_path: Path) -> Iterator[AclBroker]:
    with started_broker(tmp_path / "broker") as broker:
        yield broker


async def _next_on(desk: aiomqtt.Client, topic: str, **match: Any) -> dict[str, Any]:
    """The next message on `topic` whose payload has the `match` values."""
    async def first() -> dict[str, Any]:
        async for message in desk.messages:
            payload = json.loads(message.payload)  # type: ignore[arg-type]
            if str(message.topic) == topic and all(payload.get(k) == v for k, v in match.items()):
                return dict(payload)
        raise AssertionError("the desktop's connection ended")

    return await asyncio.wait_for(first(), 30)  # a guard against hanging, not a timing assertion


async def test_each_desktop_acts_only_for_its_agent(database_url: str, tmp_path: Path, asterisk: AsteriskRig,
                                                    pbx: AMIClient, acl_broker: AclBroker) -> None:
    await set_pstn(pbx, ring=1, talk=3)
    settings = Settings(mqtt_url=acl_broker.engine_url(), engine_id="e1", metrics_port=0)
    async with recording(pbx) as events, acl_broker.desktop("1001") as desk_1001, \
            acl_broker.desktop("1002") as desk_1002:
        for desk, agent in ((desk_1001, "1001"), (desk_1002, "1002")):
            await desk.subscribe(f"{topics.AGENTS}/{agent}/#", qos=1)
        await login_agents(pbx, events, ["1001", "1002"])
        await rig_campaign(database_url, tmp_path, rig_numbers("00", start=960), agents=2, dial_mode="preview")
        engine = engine_on(database_url, asterisk, disposition_timeout_s=120.0)
        async with start_observers(engine, settings):
            task = asyncio.create_task(engine.run())
            try:
                offer_1001 = await _next_on(desk_1001, "dialer/agents/1001/offer", state="offered")
                offer_1002 = await _next_on(desk_1002, "dialer/agents/1002/offer", state="offered")
                mine = json.dumps({"offer_id": offer_1001["offer_id"], "action": "accept"})

                # 1002 on 1001's topic: the broker refuses it. On his own: the engine does.
                assert await desk_1002.publish_for_code("dialer/agents/1001/preview", mine) == NOT_AUTHORIZED
                assert await desk_1002.publish_for_code("dialer/agents/1002/preview", mine) == SUCCESS
                error = await _next_on(desk_1002, "dialer/agents/1002/errors")
                assert error["error"] == "wrong_agent" and error["offer_id"] == offer_1001["offer_id"], error
                assert [r["state"] for r in await fetch(
                    database_url, "SELECT state FROM preview_offers WHERE id = $1", offer_1001["offer_id"])] == ["offered"]

                # 1001 accepts his own: the customer is called and put through to him.
                assert await desk_1001.publish_for_code("dialer/agents/1001/preview", mine) == SUCCESS
                pop = await _next_on(desk_1001, "dialer/agents/1001/screenpop")
                attempt_id = pop["attempt_id"]

                async def ended() -> bool:
                    rows = await fetch(database_url, "SELECT 1 FROM call_attempts WHERE id = $1::uuid"
                                       " AND ended_at IS NOT NULL", attempt_id)
                    return bool(rows)

                await wait_for(ended, 40, "1001's call to end")
                # 1002 cannot disposition 1001's call, on either topic.
                body = json.dumps({"attempt_id": attempt_id, "code": "not_interested"})
                assert await desk_1002.publish_for_code(topics.disposition("1001"), body) == NOT_AUTHORIZED
                assert await desk_1002.publish_for_code(topics.disposition("1002"), body) == SUCCESS
                error = await _next_on(desk_1002, "dialer/agents/1002/errors", attempt_id=attempt_id)
                assert error["error"] == "wrong_agent", error
                # 1001's own disposition is the one stored.
                body = json.dumps({"attempt_id": attempt_id, "code": "success"})
                assert await desk_1001.publish_for_code(topics.disposition("1001"), body) == SUCCESS
                ack = await _next_on(desk_1001, "dialer/agents/1001/acks", attempt_id=attempt_id)
                assert ack["status"] == "applied"
                skip = json.dumps({"offer_id": offer_1002["offer_id"], "action": "skip"})
                assert await desk_1002.publish_for_code("dialer/agents/1002/preview", skip) == SUCCESS
                ack = await _next_on(desk_1002, "dialer/agents/1002/acks", offer_id=offer_1002["offer_id"])
                assert (ack["action"], ack["status"]) == ("skip", "applied"), ack
            finally:
                engine.request_stop()
                await asyncio.wait_for(task, 60)
    [attempt] = await fetch(database_url, "SELECT agent_id, outcome, connected_at, disposition, disposition_by"
                                          " FROM call_attempts")
    assert (attempt["agent_id"], attempt["outcome"]) == ("1001", "answered") and attempt["connected_at"]
    assert (attempt["disposition"], attempt["disposition_by"]) == ("success", "agent 1001")
    states = {r["id"]: (r["agent_id"], r["state"])
              for r in await fetch(database_url, "SELECT id, agent_id, state FROM preview_offers")}
    assert states[offer_1001["offer_id"]] == ("1001", "accepted")
    assert states[offer_1002["offer_id"]] == ("1002", "skipped")
