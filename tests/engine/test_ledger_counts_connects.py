"""The abandonment ledger counts a connected call as a live answer at its connect, not at its
end: the allowance a floor earns must not lag its answers by a talk time (a shift's first
minutes would be paced as if nobody had answered, and the simulator the policies are
benchmarked on counts an answer when it happens). Counted once, and the ledger rebuilt
mid-call (a new profile) still holds the calls being talked."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from ami.simulator import PbxSimulator
from dialer.engine.runner import CampaignRunner
from pacing.world import Duration, WorldModel
from tests.engine.harness import (
    campaign_state,
    engine_for,
    fetchval,
    make_campaign,
    numbers,
    sim_config,
    wait_for,
)

# Everyone answers and talks for 1000 s of simulated time (25 s at the harness's 40x).
LONG_TALKS = WorldModel(
    human_rate=1.0, machine_rate=0.0, busy_rate=0.0, congestion_rate=0.0, invalid_rate=0.0,
    talk=Duration.fixed(1000.0), wrap=Duration.fixed(2.0), patience=Duration.exponential(60.0),
)


def _talking(runner: CampaignRunner) -> int:
    return sum(1 for call in runner.host.calls.calls.values()
               if call.campaign_id == runner.id and call.connected_at is not None and call.ended_at is None)


async def test_a_connected_call_is_a_live_answer_before_it_ends(database_url: str, tmp_path: Path) -> None:
    name = await make_campaign(database_url, tmp_path, numbers(4), agents=2)
    async with PbxSimulator(sim_config(agents=2, world=LONG_TALKS)) as sim:
        engine = engine_for(database_url, sim)
        task = asyncio.create_task(engine.run())
        try:
            await wait_for(lambda: engine.runners, 10, "the campaign's runner")
            runner = next(iter(engine.runners.values()))
            await wait_for(lambda: _talking(runner) == 2, 30, "both agents talking")
            ended = await fetchval(database_url, "SELECT count(*) FROM call_attempts WHERE ended_at IS NOT NULL")
            assert ended == 0, "a call ended before the check: the talk time is too short to test"
            assert runner.ledger.snapshot(datetime.now(UTC)).live == 2, "the calls being talked are not counted yet"

            # A ledger rebuilt mid-call (as a changed profile rebuilds it) holds them too.
            rebuilt = await runner.load_ledger(runner.rules.profile.abandonment)
            assert rebuilt.snapshot(datetime.now(UTC)).live == 2

            async def finished() -> bool:
                return await campaign_state(database_url, name) == "completed"

            await wait_for(finished, 120, "the campaign to complete")
            answered = await fetchval(database_url, "SELECT count(*) FROM call_attempts WHERE outcome = 'answered'")
            assert answered == 4
            # Counted once each: at the connect, not again at the end.
            assert runner.ledger.snapshot(datetime.now(UTC)).live == 4
            after = await runner.load_ledger(runner.rules.profile.abandonment)
            assert after.snapshot(datetime.now(UTC)).live == 4, "the rebuilt ledger disagrees with the live one"
        finally:
            engine.request_stop()
            await task
