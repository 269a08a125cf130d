"""Agents logged in over AMI (Local/<id>@agent-login), worked by the real engine through a
real Asterisk: pause and unpause from the CLI's service path, and an agent who hangs up his
line in the middle of a call."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from ami.client import AMIClient
from ami.events import Event
from dialer.agents import service as agent_service
from dialer.db.database import Database
from dialer.engine.agents import AgentState
from dialer.engine.engine import Engine
from tests.asterisk.pbx import (
    Recorder,
    agent_hangs_up,
    login_agents,
    member,
    recording,
    rig_campaign,
    rig_numbers,
    running_engine,
    set_pstn,
)
from tests.asterisk.rig import AsteriskRig
from tests.engine.harness import campaign_state, fetch, wait_for

INTERFACE = "Local/1001@agent-request"


def _is_member_event(name: str, **fields: str) -> Callable[[Event], bool]:
    def match(e: Event) -> bool:
        return (e.name == name and e.get("Interface") == INTERFACE
                and all(e.get(k) == v for k, v in fields.items()))
    return match


def _customers_dialled(events: Recorder) -> list[str]:
    return [e.get("Channel") or "" for e in events.named("Newchannel")
            if "@sim-pstn" in (e.get("Channel") or "") and (e.get("Channel") or "").endswith(";1")]


async def _attempts(url: str) -> list[dict[str, object]]:
    return [dict(r) for r in await fetch(
        url, "SELECT id::text AS id, number, outcome, agent_id, connected_at, ended_at"
        " FROM call_attempts ORDER BY originated_at")]


async def test_paused_agent_gets_no_customer_until_unpaused(database_url: str, tmp_path: Path,
                                                            asterisk: AsteriskRig, pbx: AMIClient) -> None:
    await set_pstn(pbx, ring=1, talk=2)
    db = Database(database_url)
    try:
        async with recording(pbx) as events:
            name = await rig_campaign(database_url, tmp_path, rig_numbers("0", start=400), agents=1)
            async with running_engine(database_url, asterisk) as engine:
                # `dialer agents pause 1001 --reason training` does exactly this, while he is
                # logged off: not a queue member (nothing to QueuePause), the engine keeps it.
                await wait_for(lambda: bool(engine.runners), 15, "the engine to load the campaign")
                await agent_service.pause(db, "1001", True, "training")
                await wait_for(lambda: "1001" in engine.membership.paused, 10, "the engine to hear the pause")
                assert await member(pbx, "1001") is None, "a logged-off agent is no queue member"

                # He logs in: the engine adds him to the queue paused, with the reason.
                await login_agents(pbx, events, ["1001"])
                await events.wait(_is_member_event("QueueMemberAdded", Paused="1"), 15, "the engine's QueueAdd, paused")
                status = await member(pbx, "1001")
                assert status is not None
                assert (status["Paused"], status["PausedReason"]) == ("1", "training")
                await wait_for(lambda: _state(engine) is AgentState.PAUSED, 15, "agent 1001 paused in the engine")
                await asyncio.sleep(3)  # fifteen pacing ticks
                assert _state(engine) is AgentState.PAUSED
                assert await _attempts(database_url) == []
                assert _customers_dialled(events) == []

                await agent_service.pause(db, "1001", False, None)
                await events.wait(_is_member_event("QueueMemberPause", Paused="0"), 10, "the unpause")
                status = await member(pbx, "1001")
                assert status is not None and status["Paused"] == "0"
                await events.wait(lambda e: e.name == "AgentConnect", 20, "a customer connected once unpaused")
                await wait_for(lambda: _completed(database_url, name), 40, "the campaign to complete")
    finally:
        await db.close()
    [attempt] = await _attempts(database_url)
    assert (attempt["outcome"], attempt["agent_id"]) == ("answered", "1001")
    states = await fetch(database_url, "SELECT state, reason FROM agent_state_changes WHERE agent_id = '1001'"
                         " ORDER BY at, id")
    assert ("paused", "training") in [(r["state"], r["reason"]) for r in states]


def _state(engine: Engine) -> AgentState | None:
    agent = engine.agents.agents.get("1001")
    return agent.state if agent is not None else None


async def _completed(url: str, name: str) -> bool:
    return await campaign_state(url, name) == "completed"


@dataclass
class LoggedOff:
    engine: Engine
    events: Recorder
    attempt_id: str


@contextlib.asynccontextmanager
async def _agent_logs_off_mid_call(url: str, tmp: Path, rig: AsteriskRig, pbx: AMIClient,
                                   start: int) -> AsyncIterator[LoggedOff]:
    """Agent 1001 talks to the first of two customers and puts his phone down; the engine is
    still running inside the block."""
    await set_pstn(pbx, ring=1, talk=60)
    async with recording(pbx) as events:
        await login_agents(pbx, events, ["1001"])
        await rig_campaign(url, tmp, rig_numbers("00", start=start), agents=1)
        async with running_engine(url, rig) as engine:
            connect = await events.wait(lambda e: e.name == "AgentConnect", 20, "a customer connected")
            await asyncio.sleep(1)
            await agent_hangs_up(pbx, events, "1001")
            await events.wait(lambda e: e.name == "AgentLogoff" and e.get("Agent") == "1001", 10, "AgentLogoff")
            yield LoggedOff(engine, events, connect.get("Uniqueid") or "")


async def test_agent_hanging_up_mid_call_closes_the_call_answered(database_url: str, tmp_path: Path,
                                                                  asterisk: AsteriskRig, pbx: AMIClient) -> None:
    async with _agent_logs_off_mid_call(database_url, tmp_path, asterisk, pbx, 500) as off:
        await wait_for(lambda: _ended(database_url, off.attempt_id), 15, "the customer's attempt to close")
        await wait_for(lambda: _state(off.engine) is AgentState.LOGGED_OUT, 10, "agent 1001 logged out")
        await asyncio.sleep(2)  # ten pacing ticks: nobody to connect the second customer to
        assert len(_customers_dialled(off.events)) == 1
    # AgentComplete says who left the bridge first. When the agent hangs up, Asterisk 22
    # reports Reason "agent", or sometimes "caller" with no caller Uniqueid: app_queue hears
    # of the caller's hang-up (the queue call ends with the agent's) before the bridge
    # leave. So the engine must not read a logoff from AgentComplete; AgentLogoff says it.
    complete = [e for e in off.events.named("AgentComplete") if e.get("Interface") == INTERFACE]
    assert len(complete) == 1
    assert complete[0].get("Reason") in ("agent", "caller")
    assert complete[0].get("Uniqueid") in (off.attempt_id, None)
    [attempt] = await _attempts(database_url)
    assert attempt["id"] == off.attempt_id
    assert (attempt["outcome"], attempt["agent_id"]) == ("answered", "1001")
    assert attempt["connected_at"] is not None and attempt["ended_at"] is not None
    last = await fetch(database_url, "SELECT state FROM agent_state_changes WHERE agent_id = '1001'"
                       " ORDER BY at DESC, id DESC LIMIT 1")
    assert [r["state"] for r in last] == ["logged_out"]


async def test_agent_who_logs_off_leaves_the_campaign_queue(database_url: str, tmp_path: Path,
                                                            asterisk: AsteriskRig, pbx: AMIClient) -> None:
    async with _agent_logs_off_mid_call(database_url, tmp_path, asterisk, pbx, 600) as off:
        await off.events.wait(_is_member_event("QueueMemberRemoved", Queue="campaign1"), 10,
                              "QueueRemove of the logged-off agent")
        assert await member(pbx, "1001") is None
        # Back at his desk: he is a member again and gets the second customer.
        await login_agents(pbx, off.events, ["1001"])
        await off.events.wait(lambda e: e.name == "AgentConnect" and e.get("Uniqueid") != off.attempt_id, 30,
                              "the second customer connected after the new login")


async def _ended(url: str, attempt_id: str) -> bool:
    rows = await fetch(url, "SELECT outcome FROM call_attempts WHERE id::text = $1", attempt_id)
    return bool(rows) and rows[0]["outcome"] is not None
