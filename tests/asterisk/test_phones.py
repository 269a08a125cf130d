"""Agents on real SIP phones (baresip) registered to a real Asterisk, worked by the real
engine: log in by dialling 8000, take customers, end a call with `*`, pause, hang up."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ami.client import AMIClient
from ami.events import Event
from dialer.agents import service as agent_service
from dialer.db.database import Database
from dialer.engine.agents import AgentState
from dialer.engine.engine import Engine
from tests.asterisk.pbx import (
    Recorder,
    member,
    recording,
    rig_campaign,
    rig_numbers,
    running_engine,
    set_pstn,
)
from tests.asterisk.phones import BARESIP, SKIP_REASON, phones
from tests.asterisk.rig import AsteriskRig
from tests.engine.harness import fetch, wait_for

pytestmark = pytest.mark.skipif(BARESIP is None, reason=SKIP_REASON)


async def test_phone_registers_and_logs_in_by_dialling_8000(tmp_path: Path, asterisk: AsteriskRig,
                                                            pbx: AMIClient) -> None:
    async with recording(pbx) as events, phones(asterisk, tmp_path, ["1001"]) as phone_of:
        phone = phone_of["1001"]
        contacts = (await asyncio.to_thread(asterisk.cli, "pjsip show contacts")).stdout
        # The contact Asterisk keeps for AOR 1001 is this phone's own SIP port.
        assert re.search(rf"1001/sip:1001\S*@127\.0\.0\.1:{phone.sip_port}\s", contacts), contacts
        await phone.dial("8000")
        login = await events.wait(lambda e: e.name == "AgentLogin" and e.get("Agent") == "1001", 10, "AgentLogin")
        assert (login.get("Channel") or "").startswith("PJSIP/1001-")
        await phone.wait_event("CALL_ESTABLISHED", 5)
        await phone.hang_up()
        await events.wait(lambda e: e.name == "AgentLogoff" and e.get("Agent") == "1001", 10, "AgentLogoff")


async def _attempt(url: str, attempt_id: str) -> dict[str, object] | None:
    rows = await fetch(url, "SELECT outcome, agent_id, connected_at, ended_at FROM call_attempts"
                       " WHERE id::text = $1", attempt_id)
    return dict(rows[0]) if rows and rows[0]["outcome"] is not None else None


def _state(engine: Engine) -> AgentState | None:
    agent = engine.agents.agents.get("1001")
    return agent.state if agent is not None else None


def _customers_dialled(events: Recorder) -> int:
    return sum(1 for e in events.named("Newchannel")
               if "@sim-pstn-" in (e.get("Channel") or "") and (e.get("Channel") or "").endswith(";1"))


def _connect_other_than(*attempt_ids: str) -> Callable[[Event], bool]:
    return lambda e: e.name == "AgentConnect" and e.get("Uniqueid") not in attempt_ids


async def test_phone_agent_takes_customers_ends_with_star_pauses_and_hangs_up(
        database_url: str, tmp_path: Path, asterisk: AsteriskRig, pbx: AMIClient) -> None:
    await set_pstn(pbx, ring=1, talk=120)  # customers never hang up first: the agent does
    db = Database(database_url)
    try:
        async with recording(pbx) as events, phones(asterisk, tmp_path, ["1001"]) as phone_of:
            phone = phone_of["1001"]
            await phone.dial("8000")
            await events.wait(lambda e: e.name == "AgentLogin" and e.get("Agent") == "1001", 10, "AgentLogin")
            await rig_campaign(database_url, tmp_path, rig_numbers("000", start=700), agents=1)
            async with running_engine(database_url, asterisk) as engine:
                # The engine connects a customer to the phone.
                first = await events.wait(_connect_other_than(), 20, "the first customer connected")
                assert first.get("MemberName") == "Agent/1001"
                first_id = first.get("Uniqueid") or ""
                await asyncio.sleep(1)
                # A live answer in the abandonment ledger from its connect, not its end.
                runner = next(iter(engine.runners.values()))
                assert runner.ledger.snapshot(datetime.now(UTC)).live == 1

                # `*` ends the call; the agent stays logged in, his phone line stays up.
                await phone.press("*")
                await wait_for(lambda: _attempt(database_url, first_id), 15, "the first call to close")
                assert events.named("AgentLogoff") == []
                assert phone.seen("CALL_CLOSED") == 0

                # Paused during wrap-up (10 s): still paused after it, and nobody is dialled.
                await agent_service.pause(db, "1001", True, "meeting")
                await events.wait(lambda e: e.name == "QueueMemberPause" and e.get("Paused") == "1", 10,
                                  "QueueMemberPause")
                status = await member(pbx, "1001")
                assert status is not None and (status["Paused"], status["PausedReason"]) == ("1", "meeting")
                await wait_for(lambda: _state(engine) is AgentState.PAUSED, 20, "wrap-up over, agent paused")
                await asyncio.sleep(2)  # ten pacing ticks
                assert _customers_dialled(events) == 1

                # Unpaused: the next customer reaches the same phone.
                await agent_service.pause(db, "1001", False, None)
                second = await events.wait(_connect_other_than(first_id), 20, "the second customer connected")
                second_id = second.get("Uniqueid") or ""
                await asyncio.sleep(1)

                # He puts the phone down mid-call: logged off, the call closed answered with him.
                await phone.hang_up()
                await events.wait(lambda e: e.name == "AgentLogoff" and e.get("Agent") == "1001", 10, "AgentLogoff")
                await wait_for(lambda: _attempt(database_url, second_id), 15, "the second call to close")
                await wait_for(lambda: _state(engine) is AgentState.LOGGED_OUT, 10, "agent 1001 logged out")
                await asyncio.sleep(2)  # nobody left to dial for
                assert _customers_dialled(events) == 2
                assert runner.ledger.snapshot(datetime.now(UTC)).live == 2, "counted once each"
    finally:
        await db.close()
    for attempt_id in (first_id, second_id):
        attempt = await _attempt(database_url, attempt_id)
        assert attempt is not None
        assert (attempt["outcome"], attempt["agent_id"]) == ("answered", "1001"), attempt
        assert attempt["connected_at"] is not None
    assert [e.get("Interface") for e in events.named("AgentComplete")] == ["Local/1001@agent-request"] * 2
    assert [e.get("Agent") for e in events.named("AgentLogin")] == ["1001"]
