"""Preview dialling on the simulator, PostgreSQL and the real MQTT broker.

An engine runs a preview campaign; its offers reach the agent over MQTT and `dialer
preview show`; answers come back over MQTT and through `dialer preview ...`, and the
database says what became of every offer and contact.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt
import pytest

from ami.simulator import PbxSimulator
from dialer.db.database import Database
from dialer.engine.engine import Engine
from dialer.outputs.bus import MqttBus, MqttSettings
from dialer.outputs.observers import DatabasePreviewSink, EngineEvents
from tests.bus.conftest import Subscriber, subscribe
from tests.engine.harness import (
    WEEK,
    change_campaign_state,
    engine_for,
    fetch,
    fetchval,
    make_campaign,
    numbers,
    sim_config,
    wait_for,
)
from tests.foundation.helpers import dialer

MQTT_URL = os.environ.get("DIALER_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")


@dataclass
class Floor:
    url: str
    engine: Engine
    agents: list[str]
    messages: Subscriber  # everything on dialer/agents/<our agents>/...
    campaign: str = "c1"
    pbx: PbxSimulator | None = None
    bus: MqttBus | None = None

    async def restart(self) -> None:
        """Stop the engine (gracefully) and start another with the same id."""
        assert self.pbx is not None and self.bus is not None
        self.engine.request_stop()
        await asyncio.wait_for(self._task, 60)
        self.engine = engine_for(self.url, self.pbx, self.engine.config.engine_id,
                                 observer=EngineEvents(None, self.bus))
        self._task = asyncio.create_task(self.engine.run())

    _task: asyncio.Task[None] = None  # type: ignore[assignment]

    async def next(self, agent: str, leaf: str, check: Callable[[dict[str, Any]], bool] = lambda _: True
                   ) -> dict[str, Any]:
        """The next message on dialer/agents/<agent>/<leaf> that passes `check`."""
        while True:
            topic, payload, _ = await self.messages.next()
            if topic == f"dialer/agents/{agent}/{leaf}" and isinstance(payload, dict) and check(payload):
                return payload

    async def offer_to(self, agent: str) -> dict[str, Any]:
        return await self.next(agent, "offer", lambda p: p["state"] == "offered" and p["campaign"] == self.campaign)

    async def answer(self, agent: str, offer_id: int, action: str) -> None:
        settings = MqttSettings.from_url(MQTT_URL)
        async with aiomqtt.Client(**settings.client_kwargs()) as desk:
            await desk.publish(f"dialer/agents/{agent}/preview",
                               f'{{"offer_id": {offer_id}, "action": "{action}"}}', qos=1)

    async def offers(self) -> list[dict[str, Any]]:
        return [dict(r) for r in await fetch(self.url, "SELECT * FROM preview_offers ORDER BY id")]

    async def passes(self, count: int) -> None:
        """Until the campaign's preview desk has made `count` more passes."""
        runner = next(iter(self.engine.runners.values()))
        assert runner.preview is not None
        desk = runner.preview
        seen = {"n": 0}
        original = desk.tick

        async def counted() -> None:
            await original()
            seen["n"] += 1

        desk.tick = counted  # type: ignore[method-assign]
        try:
            await wait_for(lambda: seen["n"] >= count, 30, f"{count} preview passes")
        finally:
            desk.tick = original  # type: ignore[method-assign]


def cli(url: str, *args: str) -> tuple[int, str]:
    result = dialer(url, "preview", *args)
    return result.exit_code, result.output


@contextlib.asynccontextmanager
async def preview_floor(url: str, tmp: Path, *, contacts: int = 3, agents: int = 1,
                        sim: dict[str, Any] | None = None, **extra: Any) -> AsyncIterator[Floor]:
    # Agent numbers of our own: other test runs share the broker's dialer/agents/... topics.
    first = random.randrange(20, 90) * 100 + random.randrange(1, 50)
    ids = [str(first + i) for i in range(agents)]
    extra.setdefault("script", "Hello, this is Acme about your renewal")
    await make_campaign(url, tmp, numbers(contacts), dial_mode="preview", agents=ids, **extra)
    engine_id = f"pv{uuid.uuid4().hex[:6]}"
    sink_db = Database(url, pool_size=1)
    bus = MqttBus(MQTT_URL, engine_id, preview_sink=DatabasePreviewSink(sink_db), share_group=None,
                  persistent_session=False)
    async with PbxSimulator(sim_config(agents=agents, first_agent=first, **(sim or {}))) as pbx, \
            subscribe(MQTT_URL, "dialer/agents/+/#") as messages:
        engine = engine_for(url, pbx, engine_id, observer=EngineEvents(None, bus))
        await bus.start()
        floor = Floor(url, engine, ids, messages, pbx=pbx, bus=bus)
        floor._task = asyncio.create_task(engine.run())
        try:
            await bus.wait_connected()
            yield floor
        finally:
            floor.engine.request_stop()
            await asyncio.wait_for(floor._task, 60)
            await bus.stop()
            await sink_db.close()


async def test_offer_over_mqtt_and_cli_skip_goes_back_to_the_pool(database_url: str, tmp_path: Path) -> None:
    async with preview_floor(database_url, tmp_path, contacts=3) as floor:
        agent = floor.agents[0]
        offer = await floor.offer_to(agent)
        assert offer["script"] == "Hello, this is Acme about your renewal"
        assert offer["contact"]["number"].startswith("+1") and offer["contact"]["fields"]["name"].startswith("Contact")
        assert offer["on_timeout"] == "skip" and offer["more_time_left"] == 2
        code, out = await asyncio.to_thread(cli, database_url, "show", "--agent", agent)
        assert code == 0, out
        assert f"offer {offer['offer_id']} to agent {agent}" in out
        assert offer["contact"]["number"] in out and "Hello, this is Acme" in out
        code, out = await asyncio.to_thread(cli, database_url, "show", "--agent", agent, "--json")
        shown = json.loads(out)
        assert (shown["id"], shown["state"], shown["contact_id"]) == (offer["offer_id"], "offered", offer["contact"]["id"])
        # Skipped over MQTT: acknowledged, the contact back in the pool with no attempt.
        await floor.answer(agent, offer["offer_id"], "skip")
        ack = await floor.next(agent, "acks", lambda p: p.get("offer_id") == offer["offer_id"])
        assert ack["action"] == "skip" and ack["status"] == "applied"
        second = await floor.offer_to(agent)
        assert second["contact"]["id"] != offer["contact"]["id"], "a skipped contact was offered again at once"
        skipped = await fetch(database_url, "SELECT state, attempts FROM contacts WHERE id = $1",
                              offer["contact"]["id"])
        # In the pool: ready, or claimed again for another agent's offer; never attempted.
        assert skipped[0]["state"] in ("ready", "claimed") and skipped[0]["attempts"] == 0
        assert await fetchval(database_url, "SELECT count(*) FROM call_attempts") == 0
        rows = await floor.offers()
        assert [(r["state"], r["decided_by"]) for r in rows] == [("skipped", f"agent {agent}"), ("offered", None)]
        assert rows[0]["settled_at"] is not None
        # Skipped from the CLI too.
        code, out = await asyncio.to_thread(cli, database_url, "skip", "--agent", agent)
        assert code == 0 and f"offer {second['offer_id']}: skipped" in out, out
        third = await floor.offer_to(agent)
        assert third["contact"]["id"] not in (offer["contact"]["id"], second["contact"]["id"])
        # With every contact skipped by him, nothing more is offered to him (for reoffer_after_min).
        code, out = await asyncio.to_thread(cli, database_url, "skip", "--agent", agent)
        assert code == 0, out
        await floor.passes(5)
        assert [r["state"] for r in await floor.offers()] == ["skipped", "skipped", "skipped"]
        assert await fetchval(database_url, "SELECT count(*) FROM call_attempts") == 0
        code, out = await asyncio.to_thread(cli, database_url, "show", "--agent", agent)
        assert code == 0 and "has no open offer" in out and "was skipped" in out, out


async def _attempts(url: str) -> list[dict[str, Any]]:
    return [dict(r) for r in await fetch(
        url, "SELECT id::text AS id, contact_id, agent_id, outcome, connected_at, ended_at FROM call_attempts"
        " ORDER BY originated_at")]


async def test_accept_calls_the_customer_and_connects_the_agent(database_url: str, tmp_path: Path) -> None:
    # Numbers ending 0-3: a person answers (the simulator's last-digit plan).
    async with preview_floor(database_url, tmp_path, contacts=2, sim={"number_plan": "last-digit"}) as floor:
        agent = floor.agents[0]
        offer = await floor.offer_to(agent)
        assert await _attempts(database_url) == [], "nothing is dialled before the agent accepts"
        await floor.answer(agent, offer["offer_id"], "accept")
        ack = await floor.next(agent, "acks", lambda p: p.get("offer_id") == offer["offer_id"])
        assert ack["action"] == "accept"

        async def connected() -> bool:
            return any(a["connected_at"] is not None for a in await _attempts(database_url))

        await wait_for(connected, 30, "the customer connected to the agent")
        [attempt] = await _attempts(database_url)
        assert (attempt["agent_id"], attempt["contact_id"]) == (agent, offer["contact"]["id"])
        # While his call is up he is offered nothing and no other call is placed.
        assert [r["state"] for r in await floor.offers()] == ["accepted"]
        told = await floor.next(agent, "offer", lambda p: p["offer_id"] == offer["offer_id"] and "attempt_id" in p)
        assert (told["state"], told["attempt_id"]) == ("accepted", attempt["id"])

        async def ended() -> bool:
            return all(a["ended_at"] is not None for a in await _attempts(database_url))

        await wait_for(ended, 60, "the call to end")
        # Free again (after wrap-up): the next contact is offered to him.
        second = await floor.offer_to(agent)
        assert second["contact"]["id"] != offer["contact"]["id"]
        attempts = await _attempts(database_url)
        assert len(attempts) == 1 and attempts[0]["outcome"] == "answered"
        rows = await floor.offers()
        assert [(r["state"], str(r["attempt_id"]) if r["attempt_id"] else None) for r in rows] == [
            ("accepted", attempt["id"]), ("offered", None)]


async def test_on_timeout_dial_places_the_call(database_url: str, tmp_path: Path) -> None:
    async with preview_floor(database_url, tmp_path, contacts=1, sim={"number_plan": "last-digit"},
                             preview={"on_timeout": "dial"}) as floor:
        agent = floor.agents[0]
        offer = await floor.offer_to(agent)
        assert offer["on_timeout"] == "dial"
        await fetch(database_url, "UPDATE preview_offers SET expires_at = now() - interval '1 second'"
                                  " WHERE id = $1", offer["offer_id"])

        async def connected() -> bool:
            return any(a["connected_at"] is not None for a in await _attempts(database_url))

        await wait_for(connected, 30, "the customer connected to the agent")
        [row] = await floor.offers()
        assert (row["state"], row["decided_by"]) == ("accepted", "timeout")
        [attempt] = await _attempts(database_url)
        assert attempt["agent_id"] == agent and str(row["attempt_id"]) == attempt["id"]


async def test_a_number_put_on_dnc_while_offered_is_not_dialled(database_url: str, tmp_path: Path) -> None:
    async with preview_floor(database_url, tmp_path, contacts=2, sim={"number_plan": "last-digit"}) as floor:
        agent = floor.agents[0]
        offer = await floor.offer_to(agent)
        added = await asyncio.to_thread(dialer, database_url, "dnc", "add", offer["contact"]["number"])
        assert added.exit_code == 0, added.output
        code, out = await asyncio.to_thread(cli, database_url, "accept", "--agent", agent)
        assert code == 0, out
        told = await floor.next(agent, "offer", lambda p: p["offer_id"] == offer["offer_id"] and p["state"] != "offered")
        assert (told["state"], told["not_dialled"]) == ("accepted", "dnc")
        assert await _attempts(database_url) == []
        blocked = await fetch(database_url, "SELECT state, attempts FROM contacts WHERE id = $1", offer["contact"]["id"])
        assert tuple(blocked[0]) == ("blocked", 0)
        [row] = [r for r in await floor.offers() if r["id"] == offer["offer_id"]]
        assert (row["state"], row["attempt_id"], row["note"]) == ("accepted", None, "not dialled: dnc")
        # He is free again: the other contact is offered to him.
        nxt = await floor.offer_to(agent)
        assert nxt["contact"]["id"] != offer["contact"]["id"]


async def test_wrong_agent_and_bad_answers_are_refused(database_url: str, tmp_path: Path) -> None:
    async with preview_floor(database_url, tmp_path, contacts=4, agents=2) as floor:
        first, second = floor.agents
        offers = {agent: await floor.offer_to(agent) for agent in (first, second)}
        mine = offers[first]["offer_id"]
        # The second agent answers the first agent's offer: refused, on his errors topic.
        await floor.answer(second, mine, "accept")
        error = await floor.next(second, "errors", lambda p: p.get("offer_id") == mine)
        assert error["error"] == "wrong_agent"
        await floor.answer(first, 999_999, "skip")
        error = await floor.next(first, "errors", lambda p: p.get("offer_id") == 999_999)
        assert error["error"] == "unknown_offer"
        settings = MqttSettings.from_url(MQTT_URL)
        async with aiomqtt.Client(**settings.client_kwargs()) as desk:
            await desk.publish(f"dialer/agents/{first}/preview", '{"offer_id": "x", "action": "dance"}', qos=1)
        error = await floor.next(first, "errors", lambda p: p.get("error") == "malformed")
        assert "offer_id" in error["message"]
        code, out = await asyncio.to_thread(cli, database_url, "accept", "--agent", second, "--offer", str(mine))
        assert code == 1 and "made to another agent" in out, out
        code, out = await asyncio.to_thread(cli, database_url, "skip", "--agent", "no-such-agent")
        assert code == 1 and "has no open offer" in out, out
        # Nothing was decided, nothing dialled.
        assert [r["state"] for r in await floor.offers()] == ["offered", "offered"]
        assert await fetchval(database_url, "SELECT count(*) FROM call_attempts") == 0


async def test_more_time_is_bounded_and_republished(database_url: str, tmp_path: Path) -> None:
    async with preview_floor(database_url, tmp_path, preview={"more_time_s": 30, "max_more_time": 1}) as floor:
        agent = floor.agents[0]
        offer = await floor.offer_to(agent)
        assert offer["more_time_left"] == 1
        before = datetime.fromisoformat(offer["expires_at"])
        code, out = await asyncio.to_thread(cli, database_url, "more-time", "--agent", agent)
        assert code == 0 and f"offer {offer['offer_id']}: open until" in out, out
        again = await floor.offer_to(agent)
        assert again["offer_id"] == offer["offer_id"] and again["more_time_left"] == 0
        assert (datetime.fromisoformat(again["expires_at"]) - before).total_seconds() == 30
        await floor.answer(agent, offer["offer_id"], "more_time")
        error = await floor.next(agent, "errors", lambda p: p.get("offer_id") == offer["offer_id"])
        assert error["error"] == "no_more_time"
        rows = await floor.offers()
        assert [(r["state"], r["more_time"]) for r in rows] == [("offered", 1)]


async def test_an_offer_left_unanswered_expires_and_its_contact_goes_back(database_url: str, tmp_path: Path) -> None:
    async with preview_floor(database_url, tmp_path, contacts=2) as floor:
        agent = floor.agents[0]
        offer = await floor.offer_to(agent)
        # The clock moved on: the offer's time is up (preview.timeout_s).
        await fetch(database_url, "UPDATE preview_offers SET expires_at = now() - interval '1 second'"
                                  " WHERE id = $1", offer["offer_id"])
        update = await floor.next(agent, "offer", lambda p: p["offer_id"] == offer["offer_id"]
                                  and p["state"] != "offered")
        assert update["state"] == "expired"
        rows = await floor.offers()
        assert (rows[0]["state"], rows[0]["decided_by"]) == ("expired", "timeout")
        # An answer after the timeout is refused.
        code, out = await asyncio.to_thread(cli, database_url, "accept", "--agent", agent, "--offer",
                                            str(offer["offer_id"]))
        assert code == 1 and "already expired" in out, out
        contact = await fetch(database_url, "SELECT state, attempts FROM contacts WHERE id = $1",
                              offer["contact"]["id"])
        assert contact[0]["attempts"] == 0 and contact[0]["state"] in ("ready", "claimed")
        assert await fetchval(database_url, "SELECT count(*) FROM call_attempts") == 0
        # The agent gets the other contact next.
        nxt = await floor.offer_to(agent)
        assert nxt["contact"]["id"] != offer["contact"]["id"]


async def test_skipped_contacts_never_starve_the_agent(database_url: str, tmp_path: Path) -> None:
    async with preview_floor(database_url, tmp_path, contacts=8) as floor:
        agent = floor.agents[0]
        seen: list[int] = []
        for _ in range(6):
            offer = await floor.offer_to(agent)
            seen.append(offer["contact"]["id"])
            await floor.answer(agent, offer["offer_id"], "skip")
        assert len(set(seen)) == 6, f"a skipped contact was offered to the same agent again: {seen}"
        assert await fetchval(database_url, "SELECT sum(attempts) FROM contacts") == 0


async def test_pausing_the_campaign_closes_its_open_offers(database_url: str, tmp_path: Path) -> None:
    async with preview_floor(database_url, tmp_path, contacts=2) as floor:
        agent = floor.agents[0]
        offer = await floor.offer_to(agent)
        await change_campaign_state(database_url, floor.campaign, "pause")
        update = await floor.next(agent, "offer", lambda p: p["offer_id"] == offer["offer_id"]
                                  and p["state"] != "offered")
        assert (update["state"], update["reason"]) == ("expired", "campaign paused")
        [row] = await floor.offers()
        assert (row["state"], row["note"]) == ("expired", "campaign paused")
        assert await fetchval(database_url, "SELECT count(*) FROM contacts WHERE state <> 'ready'") == 0
        code, out = await asyncio.to_thread(cli, database_url, "accept", "--agent", agent)
        assert code == 1 and "has no open offer" in out, out


async def test_a_restarted_engine_takes_its_open_offers_up_again(database_url: str, tmp_path: Path) -> None:
    async with preview_floor(database_url, tmp_path, contacts=3) as floor:
        agent = floor.agents[0]
        offer = await floor.offer_to(agent)
        await floor.restart()
        # Published again by the new engine, the same offer (same contact), still open.
        again = await floor.offer_to(agent)
        assert (again["offer_id"], again["contact"]["id"]) == (offer["offer_id"], offer["contact"]["id"])
        held = await fetch(database_url, "SELECT state, claimed_by FROM contacts WHERE id = $1",
                           offer["contact"]["id"])
        assert tuple(held[0]) == ("claimed", floor.engine.config.engine_id)
        code, out = await asyncio.to_thread(cli, database_url, "skip", "--agent", agent)
        assert code == 0, out
        nxt = await floor.offer_to(agent)
        assert nxt["contact"]["id"] != offer["contact"]["id"]
        assert [r["state"] for r in await floor.offers()] == ["skipped", "offered"]


async def test_one_open_offer_per_agent(database_url: str, tmp_path: Path) -> None:
    async with preview_floor(database_url, tmp_path, contacts=6) as floor:
        agent = floor.agents[0]
        await floor.offer_to(agent)
        await floor.passes(10)
        rows = await floor.offers()
        assert [(r["agent_id"], r["state"]) for r in rows] == [(agent, "offered")]
        # The contacts not offered are in the pool or held for the next offer, none dialled.
        assert await fetchval(database_url, "SELECT count(*) FROM contacts WHERE state = 'in_call'") == 0
        assert await fetchval(database_url, "SELECT count(*) FROM call_attempts") == 0


async def test_no_offer_while_the_contacts_window_is_closed(database_url: str, tmp_path: Path) -> None:
    # Every day but today (in the contacts' zone) open: today it is closed all day.
    today = datetime.now(ZoneInfo("America/New_York")).strftime("%A").lower()
    windows = {day: (["00:00-24:00"] if day != today else []) for day in WEEK}
    async with preview_floor(database_url, tmp_path, contacts=2, windows=windows) as floor:
        runner = await _runner(floor)
        await wait_for(lambda: (runner.stats.refused or {}).get("outside_window", 0) >= 2, 30,
                       "the contacts to be refused for their window")
        await floor.passes(5)
        assert await floor.offers() == []
        assert await fetchval(database_url, "SELECT count(*) FROM call_attempts") == 0


async def _runner(floor: Floor) -> Any:
    await wait_for(lambda: floor.engine.runners, 30, "the campaign to be loaded")
    return next(iter(floor.engine.runners.values()))


@pytest.mark.parametrize(("change", "message"), [
    ({"preview": {"timeout_s": 5}}, "preview.timeout_s"),
    ({"preview": {"on_timeout": "ring"}}, "preview.on_timeout"),
    ({"preview": {"max_more_time": 11}}, "preview.max_more_time"),
    ({"dial_mode": "progressive", "preview": {"timeout_s": 30}}, "dial_mode progressive makes no offers"),
    ({"pacing": {"dial_level_max": 2.0}}, "pacing.dial_level_max: dial_mode preview places one call"),
    ({"connect_timeout_s": 5}, "connect_timeout_s: dial_mode preview puts the customer straight through"),
])
def test_preview_settings_are_checked(change: dict[str, Any], message: str) -> None:
    from dialer.campaigns.definition import DefinitionError, parse_definition

    data: dict[str, Any] = {"name": "p1", "caller_id": "+12025550100", "dial_mode": "preview", **change}
    with pytest.raises(DefinitionError, match=message.replace(".", r"\.")):
        parse_definition(data)


def test_a_preview_campaign_under_a_lower_abandon_cap_needs_no_pacing_target() -> None:
    from dialer.campaigns.definition import parse_definition

    data = {"name": "p1", "caller_id": "+12025550100", "dial_mode": "preview", "compliance": {"abandon_cap": 0.02}}
    assert parse_definition(data).profile.abandon_cap == 0.02
