"""Agent-direct calls and personal callbacks on a real Asterisk (asterisk-conf's
`dialer-agent-connect`): a personal callback connects the promised agent, over AMI and on a
real SIP phone, while another agent is free; an agent gone before the answer gives an
abandoned call with the safe-harbour message; after the grace the campaign queue takes it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ami import dialplan
from ami.client import AMIClient
from ami.events import Event
from dialer.engine.direct import dial_to_agent
from dialer.engine.engine import Engine
from dialer.engine.reservation import reserve_agent
from tests.asterisk.pbx import (
    Recorder,
    agent_hangs_up,
    login_agents,
    recording,
    rig_campaign,
    rig_numbers,
    running_engine,
    set_pstn,
)
from tests.asterisk.phones import BARESIP, SKIP_REASON, phones
from tests.asterisk.rig import AsteriskRig
from tests.engine.harness import fetch, fetchval, wait_for


async def book(url: str, number: str, agent_id: str, minutes_ago: float) -> int:
    """A personal callback for `agent_id` on the contact `number`, booked that long ago."""
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    contact_id = int(await fetchval(url, "SELECT id FROM contacts WHERE number = $1", number))
    await fetch(url, "UPDATE contacts SET next_attempt_at = $2 WHERE id = $1", contact_id, at)
    await fetch(url, "INSERT INTO callbacks (campaign_id, contact_id, agent_id, scheduled_at)"
                     " SELECT campaign_id, id, $2, $3 FROM contacts WHERE id = $1", contact_id, agent_id, at)
    return contact_id


async def closed_attempt(url: str, contact_id: int) -> dict[str, Any]:
    query = ("SELECT id::text AS id, outcome, agent_id, queued_at, connected_at FROM call_attempts"
             " WHERE contact_id = $1 AND outcome IS NOT NULL")
    await wait_for(lambda: fetch(url, query, contact_id), 90, "the attempt to close")
    return dict((await fetch(url, query, contact_id))[0])


def joined_bridge(events: Recorder, attempt_id: str) -> list[Event]:
    """Who entered the bridge the customer `attempt_id` entered (AgentRequest's), after him."""
    bridges = {e.get("BridgeUniqueid") for e in events.named("BridgeEnter") if e.get("Uniqueid") == attempt_id}
    return [e for e in events.named("BridgeEnter")
            if e.get("BridgeUniqueid") in bridges and e.get("Uniqueid") != attempt_id]


def user_events_of(events: Recorder, attempt_id: str) -> list[str]:
    return [f"{e.get('UserEvent')}" + (f" {e.get('QueueStatus')}" if e.get("QueueStatus") else "")
            for e in events.named("UserEvent") if e.get("AttemptId") == attempt_id]


async def test_personal_callback_connects_the_promised_agent_over_ami(
        database_url: str, tmp_path: Path, asterisk: AsteriskRig, pbx: AMIClient) -> None:
    await set_pstn(pbx, ring=1, talk=3)
    number = rig_numbers("0", start=910)[0]
    async with recording(pbx) as events:
        await login_agents(pbx, events, ["1001", "1002"])
        await rig_campaign(database_url, tmp_path, [number], agents=2)
        contact_id = await book(database_url, number, "1002", minutes_ago=1)
        async with running_engine(database_url, asterisk) as engine:
            attempt = await closed_attempt(database_url, contact_id)
            await wait_for(lambda: not engine.membership.reserved, 20, "1002's reservation to end")
    assert (attempt["outcome"], attempt["agent_id"]) == ("answered", "1002"), attempt
    assert attempt["queued_at"] is not None and attempt["connected_at"] is not None
    assert user_events_of(events, attempt["id"]) == [dialplan.USEREVENT_AGENT_REQUEST]
    joined = joined_bridge(events, attempt["id"])
    assert [e.get("Channel", "").split("@")[0] for e in joined] == ["Local/1002"], joined
    assert joined[0].get("BridgeNumChannels") == "2"
    assert not [e for e in events.named("AgentConnect") if e.get("Uniqueid") == attempt["id"]]
    # Reserved: paused "reserved" in the campaign queue for the call, unpaused after it.
    pauses = [(e.get("Paused"), e.get("PausedReason") or "") for e in events.named("QueueMemberPause")
              if e.get("Interface") == dialplan.agent_interface("1002")]
    assert pauses[0] == ("1", "reserved") and pauses[-1][0] == "0", pauses
    assert await fetchval(database_url, "SELECT done_at IS NOT NULL FROM callbacks") is True


@pytest.mark.skipif(BARESIP is None, reason=SKIP_REASON)
async def test_personal_callback_reaches_the_agent_on_his_sip_phone(
        database_url: str, tmp_path: Path, asterisk: AsteriskRig, pbx: AMIClient) -> None:
    await set_pstn(pbx, ring=1, talk=3)
    number = rig_numbers("1", start=920)[0]
    async with recording(pbx) as events, phones(asterisk, tmp_path, ["1002"]) as phone_of:
        await login_agents(pbx, events, ["1001"])  # free the whole time, over AMI
        await phone_of["1002"].dial("8000")
        await events.wait(lambda e: e.name == "AgentLogin" and e.get("Agent") == "1002", 10, "AgentLogin of 1002")
        # Recorded: the direct flow announces its file as the queue flow does.
        await rig_campaign(database_url, tmp_path, [number], agents=2, record=True)
        contact_id = await book(database_url, number, "1002", minutes_ago=1)
        async with running_engine(database_url, asterisk):
            attempt = await closed_attempt(database_url, contact_id)
        assert phone_of["1002"].seen("CALL_CLOSED") == 0, "the agent's line must stay up"
    assert (attempt["outcome"], attempt["agent_id"]) == ("answered", "1002"), attempt
    joined = joined_bridge(events, attempt["id"])
    assert [e.get("Channel", "").split("-")[0] for e in joined] == ["PJSIP/1002"], joined
    assert user_events_of(events, attempt["id"]) == [dialplan.USEREVENT_RECORDING, dialplan.USEREVENT_AGENT_REQUEST]
    path, seconds = (await fetch(database_url, "SELECT recording_path, recording_seconds FROM call_attempts"
                                 " WHERE id = $1::uuid", attempt["id"]))[0]
    assert path == str(asterisk.recordings / f"{attempt['id']}.wav") and seconds and seconds > 0
    await wait_for(lambda: asyncio.to_thread(_wav_written, Path(path)), 20, "the recording to be written")


def _wav_written(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 44


async def test_agent_gone_before_the_answer_is_abandoned_with_the_message(
        database_url: str, tmp_path: Path, asterisk: AsteriskRig, pbx: AMIClient) -> None:
    await set_pstn(pbx, ring=2, talk=30)  # the customer stays for the whole message
    number = rig_numbers("2", start=930)[0]
    async with recording(pbx) as events:
        await login_agents(pbx, events, ["1001"])
        await rig_campaign(database_url, tmp_path, [number], agents=1)
        await fetch(database_url, "UPDATE contacts SET next_attempt_at = now() + interval '1 day'")
        async with running_engine(database_url, asterisk) as engine:
            runner = await _runner(engine)
            reservation = None
            while reservation is None:  # ready once app_agent_pool's login wrap-up is over
                reservation = await reserve_agent(engine, "1001", "test")
                await asyncio.sleep(0.2)
            contact_id = int(await fetchval(database_url, "SELECT id FROM contacts"))
            claimed = await engine.store.claim(runner.id, 1, [contact_id])
            placed = await dial_to_agent(runner, claimed[0], "1001")
            assert placed.attempt_id is not None
            await agent_hangs_up(pbx, events, "1001")  # the customer's phone still rings
            attempt = await closed_attempt(database_url, contact_id)
            await wait_for(lambda: not engine.membership.reserved, 20, "the reservation to end")
    assert attempt["outcome"] == "abandoned" and attempt["connected_at"] is None, attempt
    assert user_events_of(events, attempt["id"]) == [
        dialplan.USEREVENT_AGENT_REQUEST, f"{dialplan.USEREVENT_QUEUE_RESULT} AGENT_NOT_LOGGED_IN",
        dialplan.USEREVENT_OPT_OUT]


async def _runner(engine: Engine) -> Any:
    await wait_for(lambda: engine.runners, 20, "the campaign loaded")
    return next(iter(engine.runners.values()))


async def test_after_the_grace_the_campaign_queue_calls_it(
        database_url: str, tmp_path: Path, asterisk: AsteriskRig, pbx: AMIClient) -> None:
    await set_pstn(pbx, ring=1, talk=3)
    number = rig_numbers("3", start=940)[0]
    async with recording(pbx) as events:
        await login_agents(pbx, events, ["1001"])
        await rig_campaign(database_url, tmp_path, [number], agents=3, callback_grace_min=15,
                           callback_fallback="pool")
        contact_id = await book(database_url, number, "1003", minutes_ago=20)  # 1003 never logs in
        async with running_engine(database_url, asterisk):
            attempt = await closed_attempt(database_url, contact_id)
    assert (attempt["outcome"], attempt["agent_id"]) == ("answered", "1001"), attempt
    connects = [e for e in events.named("AgentConnect") if e.get("Uniqueid") == attempt["id"]]
    assert [e.get("MemberName") for e in connects] == ["Agent/1001"]
    assert await fetchval(database_url, "SELECT done_at IS NOT NULL FROM callbacks") is True
