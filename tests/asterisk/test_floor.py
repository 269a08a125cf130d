"""Two campaigns on one floor through a real Asterisk: three agents in both campaigns' queues
(asterisk-conf's static [sales] and [survey]), both progressive. Each campaign alone would
count the three agents as its own; over one floor no more calls await an agent than there
are agents, and no answered customer is abandoned."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from pathlib import Path

from ami.client import AMIClient
from dialer.engine.call_life import Phase
from dialer.engine.engine import Engine
from tests.asterisk.pbx import login_agents, recording, rig_numbers, running_engine, set_pstn
from tests.asterisk.rig import AsteriskRig
from tests.engine.harness import campaign_state, fetch, make_campaign, wait_for

QUEUES = ("sales", "survey")
AGENTS = ["1001", "1002", "1003"]
IN_FLIGHT = (Phase.DIALLING, Phase.RINGING, Phase.ANSWERED, Phase.QUEUED)


async def _peak_in_flight(engine: Engine, peak: list[int]) -> None:
    while True:
        flight = sum(1 for c in engine.calls.calls.values() if c.phase in IN_FLIGHT)
        peak[0] = max(peak[0], flight)
        await asyncio.sleep(0.02)


async def _leave_queues(pbx: AMIClient) -> None:
    """The next test finds [sales] and [survey] without members (the rig clears campaign1)."""
    for queue in QUEUES:
        for item in await pbx.queue_status(queue):
            if item.get("Event") == "QueueMember" and item.get("Location"):
                with contextlib.suppress(Exception):
                    await pbx.queue_remove(queue, item.get("Location") or "")


async def test_two_progressive_campaigns_share_three_agents_without_abandons(
    database_url: str, tmp_path: Path, asterisk: AsteriskRig, pbx: AMIClient,
) -> None:
    await set_pstn(pbx, ring=1, talk=2)
    # Last digit 0: a person answers after 1 s and talks 2 s; 4: busy (the line frees at once).
    sales = await make_campaign(database_url, tmp_path, rig_numbers("0040000", start=700), name="sales",
                                queue="sales", agents=3, ring_timeout_s=10)
    survey = await make_campaign(database_url, tmp_path, rig_numbers("0004000", start=800), name="survey",
                                 queue="survey", agents=3, ring_timeout_s=10)
    peak = [0]
    try:
        async with recording(pbx) as events:
            await login_agents(pbx, events, AGENTS)
            async with running_engine(database_url, asterisk) as engine:
                watcher = asyncio.create_task(_peak_in_flight(engine, peak))
                try:
                    async def completed() -> bool:
                        return all([await campaign_state(database_url, n) == "completed" for n in (sales, survey)])

                    await wait_for(completed, 150, "both campaigns to complete", step=0.5)
                finally:
                    watcher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watcher
    finally:
        await _leave_queues(pbx)
    rows = await fetch(database_url, "SELECT c.name, a.outcome, a.agent_id FROM call_attempts a"
                       " JOIN campaigns c ON c.id = a.campaign_id")
    outcomes = Counter((r["name"], r["outcome"]) for r in rows)
    print(f"\nreal Asterisk, two progressive campaigns over 3 agents: peak in flight {peak[0]}, {dict(outcomes)}")
    assert peak[0] <= len(AGENTS), f"{peak[0]} calls awaited an agent with {len(AGENTS)} agents"
    assert outcomes[("sales", "answered")] == 6 and outcomes[("survey", "answered")] == 6, outcomes
    assert not [r for r in rows if r["outcome"] in ("abandoned", "queue_hangup", "opt_out")]
    assert {r["agent_id"] for r in rows if r["outcome"] == "answered"} <= set(AGENTS)
