"""Campaign queues without hand edits, against the PBX simulator: a campaign whose queue
Asterisk does not have gets it (UpdateConfig of queues_dialer.conf + QueueReload) and dials;
its priority is the queue's weight and follows the campaign file; a queue that cannot be
created holds the campaign, with the reason in the status, and no call goes into it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from ami import dialplan
from ami.simulator import PbxSimulator
from dialer.campaigns import service as campaign_service
from dialer.db.database import Database
from dialer.engine.engine import Engine
from tests.engine.harness import (
    definition,
    engine_for,
    make_campaign,
    numbers,
    sim_config,
    wait_for,
)

QUEUE = "spring-renewals"


def _new_queue_sim(**extra: object) -> PbxSimulator:
    # No auto-created queues: only what queues_dialer.conf holds exists.
    config = sim_config(agents=2, queues=("campaign1",), **extra)
    config.auto_create_queues = False
    return PbxSimulator(config)


def _queue_view(engine: Engine) -> dict[str, object] | None:
    return engine.status()["campaigns"].get("c1", {}).get("queue")


async def test_a_campaign_whose_queue_is_missing_gets_it_and_dials(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dialer.engine.queues")
    await make_campaign(database_url, tmp_path, numbers(40), agents=2, queue=QUEUE, priority=7)
    async with _new_queue_sim() as sim:
        assert QUEUE not in sim.queues
        engine = engine_for(database_url, sim, "queues")
        task = asyncio.create_task(engine.run())
        try:
            await wait_for(lambda: QUEUE in sim.queues, 15, "the engine to create the queue")
            assert sim.queues[QUEUE].weight == 7
            category = sim.queue_files.queue_file.find(QUEUE)
            assert category is not None and category.inherits == [dialplan.QUEUE_TEMPLATE]
            await wait_for(lambda: {m.agent_id for m in sim.queues[QUEUE].members.values()} == {"1001", "1002"},
                           15, "the agents to join the new queue")
            await wait_for(lambda: sim.stats.outcomes["agent_complete"] >= 1, 40,
                           "a customer connected to an agent through the new queue")
            assert _queue_view(engine) == {"name": QUEUE, "ready": True, "weight": 7, "error": None}

            # A changed priority: the weight follows (Update, QueueReload), no second category.
            db = Database(database_url)
            try:
                await campaign_service.apply(db, definition(agents=2, queue=QUEUE, priority=30), "test")
            finally:
                await db.close()
            await wait_for(lambda: sim.queues[QUEUE].weight == 30, 15, "the new weight")
            assert [c.name for c in sim.queue_files.queue_file.categories].count(QUEUE) == 1
        finally:
            engine.request_stop()
            await task
    assert sim.stats.outcomes["queue_unknown"] == 0, "a call went into a missing queue"
    assert sim.stats.actions["updateconfig"] >= 2 and sim.stats.actions["queuereload"] >= 2
    assert any(f"queue {QUEUE} added to {dialplan.QUEUE_FILE}" in r.getMessage() for r in caplog.records)


async def test_an_existing_queue_is_left_alone(database_url: str, tmp_path: Path) -> None:
    await make_campaign(database_url, tmp_path, numbers(5), agents=2, queue="campaign1")
    async with _new_queue_sim() as sim:
        engine = engine_for(database_url, sim, "queues")
        task = asyncio.create_task(engine.run())
        try:
            await wait_for(lambda: sim.stats.originates >= 1, 20, "calls into the existing queue")
        finally:
            engine.request_stop()
            await task
    assert sim.stats.actions["updateconfig"] == 0, "a queue with the right weight needs no write"
    assert sim.stats.actions["queuestatus"] >= 1


async def test_a_queue_that_cannot_be_created_holds_the_campaign(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dialer.engine.queues")
    await make_campaign(database_url, tmp_path, numbers(20), agents=2, queue=QUEUE)
    async with _new_queue_sim(config_write=False) as sim:  # manager.conf without `config`
        engine = engine_for(database_url, sim, "queues")
        task = asyncio.create_task(engine.run())
        try:
            await wait_for(lambda: _queue_view(engine) is not None and _queue_view(engine)["error"], 15,
                           "the queue error in the status")
            await asyncio.sleep(2)  # ten pacing ticks
            view = _queue_view(engine)
            assert view is not None and view["ready"] is False
            assert "Permission denied" in str(view["error"]) and "config" in str(view["error"])
            assert sim.stats.originates == 0, "a call placed for a campaign whose queue is missing"

            # The operator fixes manager.conf: the engine's next try creates it and dials.
            sim.config.config_write = True
            await wait_for(lambda: QUEUE in sim.queues, 20, "the queue created on a later try")
            await wait_for(lambda: sim.stats.originates >= 1, 20, "calls once the queue exists")
        finally:
            engine.request_stop()
            await task
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and QUEUE in r.getMessage()]
    assert len(errors) == 1, "one error per distinct reason, not one per retry"


async def test_check_mode_writes_nothing(database_url: str, tmp_path: Path) -> None:
    await make_campaign(database_url, tmp_path, numbers(5), agents=2, queue=QUEUE)
    async with _new_queue_sim() as sim:
        engine = engine_for(database_url, sim, "queues", queue_setup="check")
        task = asyncio.create_task(engine.run())
        try:
            await wait_for(lambda: _queue_view(engine) is not None and _queue_view(engine)["error"], 15,
                           "the missing queue reported")
            assert "does not exist" in str(_queue_view(engine)["error"])  # type: ignore[index]
            await asyncio.sleep(1)
        finally:
            engine.request_stop()
            await task
    assert sim.stats.actions["updateconfig"] == 0 and sim.stats.originates == 0
