"""Several campaigns on one floor through a real Asterisk, agents in every campaign's queue
(asterisk-conf's static [sales] and [survey], [retention] created over AMI). Two progressive
campaigns: each alone would count the three agents as its own; over one floor no more calls
await an agent than there are agents, and no answered customer is abandoned. A predictive
pair keeps each campaign's abandon cap. Of three campaigns, the one with the higher priority
has the agents while it has contacts."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from pathlib import Path
from typing import Any

from ami.client import AMIClient
from dialer.engine.call_life import Phase
from dialer.engine.engine import Engine
from tests.asterisk.pbx import login_agents, recording, rig_numbers, running_engine, set_pstn
from tests.asterisk.rig import AsteriskRig
from tests.engine.harness import campaign_state, fetch, make_campaign, wait_for

QUEUES = ("sales", "survey", "retention")
AGENTS = ["1001", "1002", "1003"]
FIVE = [*AGENTS, "1004", "1005"]
ABANDONS = ("abandoned", "queue_hangup", "opt_out")
IN_FLIGHT = (Phase.DIALLING, Phase.RINGING, Phase.ANSWERED, Phase.QUEUED)


async def _peak_in_flight(engine: Engine, peak: list[int]) -> None:
    while True:
        flight = sum(1 for c in engine.calls.calls.values() if c.phase in IN_FLIGHT)
        peak[0] = max(peak[0], flight)
        await asyncio.sleep(0.02)


async def _leave_queues(pbx: AMIClient) -> None:
    """The next test finds the queues without members (the rig clears campaign1)."""
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


async def _run_floor(url: str, rig: AsteriskRig, pbx: AMIClient, names: list[str], agents: list[str],
                     within: float) -> None:
    """Log `agents` in and run one engine until every named campaign completes."""
    try:
        async with recording(pbx) as events:
            await login_agents(pbx, events, agents)
            async with running_engine(url, rig):
                async def completed() -> bool:
                    return all([await campaign_state(url, n) == "completed" for n in names])

                await wait_for(completed, within, "every campaign to complete", step=0.5)
    finally:
        await _leave_queues(pbx)


async def _outcomes(url: str) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {}
    for r in await fetch(url, "SELECT c.name, a.outcome FROM call_attempts a JOIN campaigns c ON c.id = a.campaign_id"):
        out.setdefault(r["name"], Counter())[r["outcome"]] += 1
    return out


async def test_predictive_pair_over_one_pool_keeps_each_abandon_cap(
    database_url: str, tmp_path: Path, asterisk: AsteriskRig, pbx: AMIClient,
) -> None:
    await set_pstn(pbx, ring=1, talk=2)
    predictive: dict[str, Any] = {"dial_mode": "predictive", "compliance": {"abandon_cap": 0.03},
                                  "pacing": {"abandon_target": 0.02}, "agents": 5, "ring_timeout_s": 10}
    for name, start in (("sales", 720), ("survey", 820)):
        await make_campaign(database_url, tmp_path, rig_numbers("0004000040", start=start), name=name,
                            queue=name, **predictive)
    await _run_floor(database_url, asterisk, pbx, ["sales", "survey"], FIVE, 180)
    counts = await _outcomes(database_url)
    print(f"\nreal Asterisk, predictive pair over 5 agents: {counts}")
    for name in ("sales", "survey"):
        answered = sum(counts[name][o] for o in ("answered", *ABANDONS))
        abandoned = sum(counts[name][o] for o in ABANDONS)
        assert counts[name]["answered"] > 0
        # The ledger allows one abandon before the first answers (headroom max(1, 3 % of them)).
        assert abandoned <= max(1.0, 0.03 * answered), f"{name}: {abandoned} of {answered} abandoned"


async def test_higher_priority_campaign_has_the_agents_first(
    database_url: str, tmp_path: Path, asterisk: AsteriskRig, pbx: AMIClient,
) -> None:
    """Retention (priority 10, its queue made over AMI with weight 10) over sales and survey:
    neither dials before retention's last call is placed, and nobody is abandoned."""
    await set_pstn(pbx, ring=1, talk=1)
    common: dict[str, Any] = {"agents": 2, "ring_timeout_s": 10}
    await make_campaign(database_url, tmp_path, rig_numbers("0000", start=740), name="retention",
                        queue="retention", priority=10, **common)
    for name, start in (("sales", 750), ("survey", 760)):
        await make_campaign(database_url, tmp_path, rig_numbers("04", start=start), name=name, queue=name,
                            **common)
    await _run_floor(database_url, asterisk, pbx, ["retention", "sales", "survey"], AGENTS[:2], 180)
    rows = await fetch(database_url, "SELECT c.name, min(a.originated_at) AS first, max(a.originated_at) AS last"
                       " FROM call_attempts a JOIN campaigns c ON c.id = a.campaign_id GROUP BY 1")
    span = {r["name"]: (r["first"], r["last"]) for r in rows}
    counts = await _outcomes(database_url)
    print(f"\nreal Asterisk, three campaigns by priority over 2 agents: {counts}")
    retention_last = span["retention"][1]
    assert span["sales"][0] >= retention_last and span["survey"][0] >= retention_last, span
    assert counts["retention"]["answered"] == 4, counts
    assert not [o for c in counts.values() for o in c if o in ABANDONS], counts
