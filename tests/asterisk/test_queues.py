"""Campaign queues without hand edits, on a real Asterisk: a campaign whose queue is in no
configuration file gets it when the engine loads the campaign (UpdateConfig of
queues_dialer.conf + QueueReload), with its priority as weight; an agent joins it and a
customer is connected through it; after an Asterisk restart the queue is back from the file,
the engine reconnects without writing it again, and the next customer is connected."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ami import dialplan
from ami.client import AMIClient
from tests.asterisk.pbx import (
    ami_client,
    login_agents,
    member,
    recording,
    rig_numbers,
    running_engine,
    set_pstn,
)
from tests.asterisk.rig import AsteriskRig
from tests.engine.harness import change_campaign_state, make_campaign, wait_for

NEW_QUEUE = "spring-renewals"  # not in asterisk-conf
PRIORITY = 5


async def _weight(client: AMIClient, queue: str) -> str | None:
    """The queue's Weight from QueueStatus; None when Asterisk has no such queue."""
    for item in await client.queue_status(queue):
        if item.get("Event") == "QueueParams" and item.get("Queue") == queue:
            return item.get("Weight")
    return None


def _categories(rig: AsteriskRig) -> list[str]:
    text = (rig.etc / dialplan.QUEUE_FILE).read_text()
    return [line.strip() for line in text.splitlines() if line.strip().startswith(f"[{NEW_QUEUE}]")]


async def test_new_campaign_queue_is_created_and_survives_a_restart(
    database_url: str, tmp_path: Path, asterisk: AsteriskRig, pbx: AMIClient
) -> None:
    assert await _weight(pbx, NEW_QUEUE) is None, "the queue must not exist before the campaign"
    await set_pstn(pbx, ring=1, talk=2)
    name = await make_campaign(database_url, tmp_path, rig_numbers("00", start=800), queue=NEW_QUEUE,
                               agents=1, priority=PRIORITY, ring_timeout_s=10)
    try:
        async with recording(pbx) as events, running_engine(database_url, asterisk) as engine:
            await wait_for(lambda: engine.queue_setup.ready(NEW_QUEUE), 20, "the engine to make the queue ready")
            assert await _weight(pbx, NEW_QUEUE) == str(PRIORITY)
            assert _categories(asterisk) == [f"[{NEW_QUEUE}]({dialplan.QUEUE_TEMPLATE})"]

            await login_agents(pbx, events, ["1001"])
            await events.wait(lambda e: e.name == "QueueMemberAdded" and e.get("Queue") == NEW_QUEUE, 15,
                              "agent 1001 added to the new queue")
            first = await events.wait(lambda e: e.name == "AgentConnect" and e.get("Queue") == NEW_QUEUE, 30,
                                      "a customer connected through the new queue")
            await change_campaign_state(database_url, name, "pause")  # the second customer after the restart

            # Asterisk restarts: dynamic members and agent logins are gone, the queue is not.
            await wait_for(lambda: len(engine.calls) == 0, 30, "the first call to end")
            await asyncio.to_thread(asterisk.restart)
            async with ami_client(asterisk) as again, recording(again) as after:
                assert await _weight(again, NEW_QUEUE) == str(PRIORITY), "queues_dialer.conf outlives a restart"
                await wait_for(lambda: bool(engine.ami and engine.ami.connected and engine.ami.connections > 1),
                               60, "the engine to reconnect")
                await wait_for(lambda: engine.queue_setup.ready(NEW_QUEUE), 20, "the queue checked again")
                assert _categories(asterisk) == [f"[{NEW_QUEUE}]({dialplan.QUEUE_TEMPLATE})"], "written once"
                await set_pstn(again, ring=1, talk=2)
                await login_agents(again, after, ["1001"])
                await after.wait(lambda e: e.name == "QueueMemberAdded" and e.get("Queue") == NEW_QUEUE, 15,
                                 "agent 1001 back in the queue after the restart")
                await change_campaign_state(database_url, name, "resume")
                second = await after.wait(lambda e: e.name == "AgentConnect" and e.get("Queue") == NEW_QUEUE, 30,
                                          "the second customer connected after the restart")
                assert second.get("Uniqueid") != first.get("Uniqueid")
                assert await member(again, "1001", NEW_QUEUE) is not None
    finally:
        if asterisk.running:
            async with ami_client(asterisk) as client:
                if await member(client, "1001", NEW_QUEUE) is not None:
                    await client.queue_remove(NEW_QUEUE, dialplan.agent_interface("1001"))
