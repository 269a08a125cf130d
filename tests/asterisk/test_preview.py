"""Preview dialling on a real Asterisk: an agent on a real SIP phone (baresip) is offered a
contact, accepts it from `dialer preview`, and the customer the engine then calls is put
straight through to his phone (dialplan `dialer-agent-connect`, AgentRequest)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ami.client import AMIClient
from ami.events import Event
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
from tests.foundation.helpers import dialer

pytestmark = pytest.mark.skipif(BARESIP is None, reason=SKIP_REASON)


def _customers(events: Recorder) -> list[str]:
    """The imitation customers' channels the engine's Originates created."""
    return [e.get("Channel") or "" for e in events.named("Newchannel")
            if "@sim-pstn-" in (e.get("Channel") or "") and (e.get("Channel") or "").endswith(";1")]


def _bridges_of(events: Recorder, prefix: str, contains: str = "") -> set[str]:
    return {e.get("BridgeUniqueid") or "" for e in events.named("BridgeEnter")
            if (e.get("Channel") or "").startswith(prefix) and contains in (e.get("Channel") or "")}


async def _offers(url: str) -> list[dict[str, object]]:
    return [dict(r) for r in await fetch(
        url, "SELECT id, agent_id, state, decided_by, attempt_id::text AS attempt_id, contact_id"
        " FROM preview_offers ORDER BY id")]


async def test_phone_agent_accepts_an_offer_and_talks_to_the_customer(
        database_url: str, tmp_path: Path, asterisk: AsteriskRig, pbx: AMIClient) -> None:
    await set_pstn(pbx, ring=1, talk=4)  # the customer says goodbye after 4 s
    async with recording(pbx) as events, phones(asterisk, tmp_path, ["1001"]) as phone_of:
        phone = phone_of["1001"]
        await phone.dial("8000")
        await events.wait(lambda e: e.name == "AgentLogin" and e.get("Agent") == "1001", 10, "AgentLogin")
        await rig_campaign(database_url, tmp_path, rig_numbers("00", start=820), agents=1, dial_mode="preview",
                           script="Good morning, Acme key accounts")
        async with running_engine(database_url, asterisk) as engine:
            async def offered() -> bool:
                return [o["state"] for o in await _offers(database_url)] == ["offered"]

            await wait_for(offered, 20, "an offer to agent 1001")
            [offer] = await _offers(database_url)
            assert offer["agent_id"] == "1001"
            shown = await asyncio.to_thread(dialer, database_url, "preview", "show", "--agent", "1001")
            assert shown.exit_code == 0 and "Good morning, Acme key accounts" in shown.stdout, shown.output
            # Offered, not dialled: nobody is called before the agent says so; he is held
            # for his offer (paused "reserved" in his queue: no queue call reaches him).
            await asyncio.sleep(1)  # five pacing ticks
            assert _customers(events) == []
            status = await member(pbx, "1001")
            assert status is not None and (status["Paused"], status["PausedReason"]) == ("1", "reserved")

            accepted = await asyncio.to_thread(dialer, database_url, "preview", "accept", "--agent", "1001")
            assert accepted.exit_code == 0 and f"offer {offer['id']}: accepted" in accepted.stdout, accepted.output

            # The customer answers and is put through to the phone: his channel and the
            # agent's line meet in one bridge.
            def bridged(e: Event) -> bool:
                return e.name == "BridgeEnter" and bool(
                    _bridges_of(events, "PJSIP/1001-") & _bridges_of(events, "Local/", "@sim-pstn-"))

            await events.wait(bridged, 20, "the customer bridged with agent 1001's phone")

            async def closed() -> bool:
                rows = await fetch(database_url, "SELECT outcome FROM call_attempts WHERE ended_at IS NOT NULL")
                return len(rows) == 1

            await wait_for(closed, 30, "the call to end")
            assert len(_customers(events)) == 1, "one call per accepted offer"

            # After wrap-up he is offered the other contact; he skips it: back to the list,
            # no call, and he is no longer held.
            async def second() -> bool:
                return [o["state"] for o in await _offers(database_url)] == ["accepted", "offered"]

            await wait_for(second, 40, "the second offer")
            skipped = await asyncio.to_thread(dialer, database_url, "preview", "skip", "--agent", "1001")
            assert skipped.exit_code == 0, skipped.output
            await events.wait(lambda e: e.name == "QueueMemberPause" and e.get("Paused") == "0", 10,
                              "agent 1001 unpaused")
            await asyncio.sleep(1)  # five pacing ticks
            assert len(_customers(events)) == 1
            assert engine.runners
    attempts = await fetch(database_url, "SELECT id::text AS id, contact_id, outcome, agent_id, connected_at"
                                         " FROM call_attempts")
    assert len(attempts) == 1
    attempt = attempts[0]
    assert (attempt["outcome"], attempt["agent_id"]) == ("answered", "1001"), dict(attempt)
    assert attempt["connected_at"] is not None and attempt["contact_id"] == offer["contact_id"]
    first, other = await _offers(database_url)
    assert (first["state"], first["attempt_id"]) == ("accepted", attempt["id"])
    assert str(first["decided_by"]).endswith("(cli)")
    assert (other["state"], other["attempt_id"]) == ("skipped", None)
    contact = await fetch(database_url, "SELECT attempts FROM contacts WHERE id = $1", other["contact_id"])
    assert contact[0]["attempts"] == 0
