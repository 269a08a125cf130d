"""Several campaigns on one floor: one pool of agents, every pacing decision sees every call
that may claim the same agents (engine <-> PBX simulator over TCP <-> PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ami.simulator import PbxSimulator
from dialer.engine.call_life import Phase
from dialer.engine.engine import Engine
from tests.engine.harness import (
    assert_no_overlapping_attempts,
    campaign_state,
    engine_for,
    fetch,
    make_campaign,
    numbers,
    sim_config,
    wait_for,
)

WAITING_FOR_AGENT = (Phase.DIALLING, Phase.RINGING, Phase.ANSWERED, Phase.QUEUED)
ABANDONS = ("abandoned", "queue_hangup", "opt_out")


@dataclass
class FloorWatch:
    """Samples the engine's calls: the most calls ever in flight (placed, no agent yet)."""

    engine: Engine
    peak: int = 0
    peak_by_campaign: Counter[int] = field(default_factory=Counter)

    async def run(self) -> None:
        while True:
            flight = [c for c in self.engine.calls.calls.values() if c.phase in WAITING_FOR_AGENT]
            self.peak = max(self.peak, len(flight))
            for campaign, count in Counter(c.campaign_id for c in flight).items():
                self.peak_by_campaign[campaign] = max(self.peak_by_campaign[campaign], count)
            await asyncio.sleep(0.01)


async def run_floor(url: str, sim_cfg: Any, names: list[str], within: float = 150.0) -> FloorWatch:
    """Run one engine until every named campaign completes; the watch's peaks."""
    async with PbxSimulator(sim_cfg) as sim:
        engine = engine_for(url, sim)
        task = asyncio.create_task(engine.run())
        watch = FloorWatch(engine)
        watcher = asyncio.create_task(watch.run())
        try:
            async def finished() -> bool:
                return all([await campaign_state(url, n) == "completed" for n in names])

            await wait_for(finished, within, "every campaign to complete", step=0.5)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            engine.request_stop()
            await task
    return watch


async def outcomes_by_campaign(url: str) -> dict[str, Counter[str]]:
    rows = await fetch(url, "SELECT c.name, a.outcome, count(*) AS n FROM call_attempts a"
                            " JOIN campaigns c ON c.id = a.campaign_id GROUP BY 1, 2")
    out: dict[str, Counter[str]] = {}
    for row in rows:
        out.setdefault(row["name"], Counter())[row["outcome"]] = row["n"]
    return out


def abandons(counts: Counter[str]) -> int:
    return sum(counts[o] for o in ABANDONS)


def answers(counts: Counter[str]) -> int:
    return counts["answered"] + abandons(counts)


async def test_two_progressive_campaigns_over_one_pool_never_abandon(database_url: str, tmp_path: Path) -> None:
    """Three agents serve both campaigns: never more calls awaiting an agent than agents."""
    await make_campaign(database_url, tmp_path, numbers(60, "212"), name="sales", agents=3)
    await make_campaign(database_url, tmp_path, numbers(60, "415"), name="survey", agents=3)
    watch = await run_floor(database_url, sim_config(agents=3, queues=("sales", "survey")), ["sales", "survey"])
    counts = await outcomes_by_campaign(database_url)
    total = sum(counts.values(), Counter())
    print(f"\npeak in flight {watch.peak}, answered {answers(total)}, abandoned {abandons(total)}: {dict(total)}")
    assert watch.peak <= 3, f"{watch.peak} calls awaited an agent with 3 agents on the floor"
    assert abandons(total) == 0, f"{abandons(total)} of {answers(total)} answered calls abandoned"
    assert counts["sales"]["answered"] > 0 and counts["survey"]["answered"] > 0
    await assert_no_overlapping_attempts(database_url)
