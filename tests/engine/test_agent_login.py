"""Queue membership follows agent login: an agent whose softphone hangs up leaves the
campaign queues, comes back when he logs in again, and only logged-in agents join at start."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from ami.simulator import PbxSimulator
from tests.engine.harness import engine_for, make_campaign, numbers, sim_config, wait_for

QUEUE = "c1"


def _members(sim: PbxSimulator) -> set[str]:
    queue = sim.queues.get(QUEUE)
    return {m.agent_id or "" for m in queue.members.values()} if queue else set()


async def test_membership_follows_agent_login(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dialer.engine.membership")
    await make_campaign(database_url, tmp_path, numbers(300), agents=3)
    async with PbxSimulator(sim_config(agents=3)) as sim:
        sim.agent_logoff_by_id("1003")  # his softphone is down before the engine starts
        engine = engine_for(database_url, sim, "members")
        task = asyncio.create_task(engine.run())
        try:
            await wait_for(lambda: _members(sim) == {"1001", "1002"}, 20, "the logged-in agents to join")
            await asyncio.sleep(0.5)
            assert "1003" not in _members(sim), "an agent not logged in was added to the queue"

            # 1002's softphone hangs up (mid-call or idle): AgentLogoff.
            sim.agent_logoff_by_id("1002")
            await wait_for(lambda: "1002" not in _members(sim), 10, "1002 to leave the queue")
            logoff = [r for r in caplog.records if "1002 logged off" in r.getMessage()]
            assert logoff and logoff[0].levelno == logging.INFO

            # 1003 logs in: AgentLogin, he joins the campaign queue he is assigned to.
            sim.agent_login("1003")
            await wait_for(lambda: "1003" in _members(sim), 10, "1003 to join the queue")
            await wait_for(lambda: sim.stats.originates >= 3, 30, "calls with the agents in the queue")
            assert _members(sim) == {"1001", "1003"}
        finally:
            engine.request_stop()
            await task
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert not any("+1" in m for m in messages), "a phone number in an INFO log"
