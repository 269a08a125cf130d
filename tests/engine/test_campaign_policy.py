"""What a campaign file says reaches the live pacing policy, its estimators and its headroom."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from ami.simulator import PbxSimulator
from dialer.campaigns import service as campaign_service
from dialer.db.database import Database
from dialer.engine.runner import (
    CampaignRunner,
    make_campaign_estimators,
    make_campaign_policy,
    policy_settings,
)
from pacing.policies import AdaptivePolicy, PIPolicy, PredictivePolicy, RatioPolicy
from tests.engine.harness import (
    definition,
    engine_for,
    make_campaign,
    numbers,
    sim_config,
    wait_for,
)


def test_predictive_gets_the_campaign_target_and_connect_timeout() -> None:
    d = definition(dial_mode="predictive", regulation="us", pacing={"abandon_target": 0.018},
                   connect_timeout_s=1)
    policy = make_campaign_policy(d)
    assert isinstance(policy, PredictivePolicy)
    assert policy.target == 0.018
    assert policy.connect_timeout == 1.0
    # Agents are counted free up to the connect timeout after each answer offset.
    assert policy.agent_grid == tuple(s + 1.0 for s in policy.grid)
    other = make_campaign_policy(definition(dial_mode="predictive", regulation="none", connect_timeout_s=7))
    assert isinstance(other, PredictivePolicy)
    assert other.connect_timeout == 7.0 and other.agent_grid == tuple(s + 7.0 for s in other.grid)
    assert other.target == 0.025  # the campaign default, not the policy's own


def test_every_mode_gets_its_settings() -> None:
    ratio = make_campaign_policy(definition(dial_mode="ratio", pacing={"dial_level": 2.5}))
    assert isinstance(ratio, RatioPolicy) and ratio.level == 2.5
    adaptive = make_campaign_policy(definition(
        dial_mode="adaptive", pacing={"dial_level": 1.5, "dial_level_max": 4.0, "abandon_target": 0.02}))
    assert isinstance(adaptive, AdaptivePolicy)
    assert (adaptive.level, adaptive.max_level, adaptive.drop_limit_pct) == (1.5, 4.0, 2.0)
    pi = make_campaign_policy(definition(dial_mode="pi", pacing={"abandon_target": 0.015}))
    assert isinstance(pi, PIPolicy) and pi.target == 0.015
    # Preview campaigns are not paced (one call per accepted offer): the policy is never asked.
    assert policy_settings(definition(dial_mode="preview")) == ("progressive", {})


def test_estimators_know_the_ring_timeout_and_amd() -> None:
    plain = make_campaign_estimators(definition(ring_timeout_s=40))
    assert plain.times["no_answer"].prior.expected == 40.0
    amd = make_campaign_estimators(definition(ring_timeout_s=40, amd=True))
    # A person reaches the queue only after AMD has listened (2-4 s on top of the ring).
    assert amd.times["human"].prior.expected == pytest.approx(plain.times["human"].prior.expected + 3.0)


def test_headroom_is_the_profiles_cap_and_the_target_is_the_policys() -> None:
    settings = definition(dial_mode="predictive", regulation="us", pacing={"abandon_target": 0.02})
    runner = CampaignRunner(cast(Any, None), 1, "c1", "running", settings.model_dump(mode="json"))
    headroom = runner.headroom(datetime.now(UTC))
    assert headroom.cap == 0.03 and headroom.forbid_when_exhausted
    assert isinstance(runner.policy, PredictivePolicy) and runner.policy.target == 0.02
    free = CampaignRunner(cast(Any, None), 2, "c2", "running", definition(regulation="none").model_dump(mode="json"))
    assert not free.headroom(datetime.now(UTC)).forbid_when_exhausted  # no cap, nothing to exhaust


async def test_a_changed_target_reaches_the_running_engine(database_url: str, tmp_path: Path) -> None:
    extra: dict[str, Any] = {"dial_mode": "predictive", "regulation": "us", "pacing": {"abandon_target": 0.02},
                             "connect_timeout_s": 2}
    name = await make_campaign(database_url, tmp_path, numbers(20), start=False, **extra)
    async with PbxSimulator(sim_config()) as sim:
        engine = engine_for(database_url, sim)
        db = Database(database_url)
        try:
            for command in ("approve", "start"):
                await campaign_service.change_state(db, name, command, "test")
            task = asyncio.create_task(engine.run())
            try:
                await wait_for(lambda: engine.runners, 10, "the campaign's runner")
                runner = next(iter(engine.runners.values()))
                assert isinstance(runner.policy, PredictivePolicy) and runner.policy.target == 0.02
                changed = definition(**{**extra, "pacing": {"abandon_target": 0.01}, "connect_timeout_s": 1})
                await campaign_service.apply(db, changed, "test")
                await wait_for(lambda: getattr(runner.policy, "target", None) == 0.01, 10, "the new target")
                assert isinstance(runner.policy, PredictivePolicy) and runner.policy.connect_timeout == 1.0
            finally:
                engine.request_stop()
                await task
        finally:
            await db.close()


async def test_wrap_up_times_reach_the_campaigns_estimators(database_url: str, tmp_path: Path) -> None:
    await make_campaign(database_url, tmp_path, numbers(30))
    async with PbxSimulator(sim_config()) as sim:
        engine = engine_for(database_url, sim)
        task = asyncio.create_task(engine.run())
        try:
            await wait_for(lambda: engine.runners, 10, "the campaign's runner")
            runner = next(iter(engine.runners.values()))
            prior = runner.estimators.wrap.count
            await wait_for(lambda: runner.estimators.wrap.count >= prior + 2, 60, "two wrap-ups observed")
            # The simulator's wrap-up is 5 s at 40x: an eighth of a second of wall time each.
            assert 0.0 < max(runner.estimators.wrap.samples) < 5.0
        finally:
            engine.request_stop()
            await task
