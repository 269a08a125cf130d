"""Personal callbacks on the PBX simulator: dialled for the promised agent while others are
free, waited for within the grace while he cannot take it, then handed to the queue (pool)
or booked again for the next day (reschedule), as the campaign says."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ami.simulator import PbxSimulator
from dialer.campaigns.definition import DefinitionError
from dialer.engine.engine import Engine
from dialer.engine.personal import next_day_same_time
from tests.engine.harness import (
    definition,
    engine_for,
    fetch,
    fetchval,
    make_campaign,
    sim_config,
    wait_for,
)
from tests.engine.test_direct import agent_bridged, ended

QUEUE = "c1"
NUMBER = "+14155550180"  # last digit 0: a person answers (the simulator's last-digit plan)
OTHER = "+14155550181"


@contextlib.asynccontextmanager
async def callback_floor(url: str, tmp: Path, *, booked_min_ago: float, agent: str = "1002",
                         logged_off: bool = False,
                         **campaign: Any) -> AsyncIterator[tuple[PbxSimulator, Engine, list[str], int]]:
    """Campaign c1 with agents 1001-1003 and two contacts: one with a personal callback for
    `agent` booked `booked_min_ago` minutes ago, one booked for tomorrow (never due)."""
    await make_campaign(url, tmp, [NUMBER, OTHER], agents=3, **campaign)
    contact_id = int(await fetchval(url, "SELECT id FROM contacts WHERE number = $1", NUMBER))
    booked = datetime.now(UTC) - timedelta(minutes=booked_min_ago)
    await fetch(url, "UPDATE contacts SET next_attempt_at = $2 WHERE id = $1", contact_id, booked)
    await fetch(url, "UPDATE contacts SET next_attempt_at = now() + interval '1 day' WHERE number = $1", OTHER)
    await fetch(url, "INSERT INTO callbacks (campaign_id, contact_id, agent_id, scheduled_at)"
                     " SELECT campaign_id, id, $2, $3 FROM contacts WHERE id = $1", contact_id, agent, booked)
    events: list[str] = []
    async with PbxSimulator(sim_config(agents=3, number_plan="last-digit", opt_out_probability=0.0)) as sim:
        if logged_off:
            sim.agent_logoff_by_id(agent)
        sim.on_event_bytes(lambda data: events.append(data.decode(errors="replace")))
        engine = engine_for(url, sim, "personal")
        task = asyncio.create_task(engine.run())
        try:
            yield sim, engine, events, contact_id
        finally:
            engine.request_stop()
            await asyncio.wait_for(task, 60)


async def attempts_of(url: str, contact_id: int) -> list[dict[str, Any]]:
    rows = await fetch(url, "SELECT * FROM call_attempts WHERE contact_id = $1 ORDER BY originated_at", contact_id)
    return [dict(r) for r in rows]


async def test_personal_callback_reaches_the_promised_agent(database_url: str, tmp_path: Path) -> None:
    async with callback_floor(database_url, tmp_path, booked_min_ago=1) as (_, engine, events, contact_id):
        await wait_for(lambda: attempts_of(database_url, contact_id), 30, "the callback to be dialled")
        attempt = (await attempts_of(database_url, contact_id))[0]
        row = await ended(database_url, str(attempt["id"]))
        assert row["outcome"] == "answered" and row["agent_id"] == "1002"
        # 1001 and 1003 were free in the queue the whole time: the customer went to 1002 only.
        assert agent_bridged(events, str(attempt["id"])) == {"1002"}
        assert await fetchval(database_url, "SELECT done_at IS NOT NULL FROM callbacks") is True
        await wait_for(lambda: not engine.membership.reserved, 10, "1002's reservation to end")


async def test_personal_callback_waits_for_its_agent_within_the_grace(database_url: str, tmp_path: Path) -> None:
    async with callback_floor(database_url, tmp_path, booked_min_ago=0, logged_off=True) as (sim, engine, events, cid):
        await wait_for(lambda: len(sim.queues[QUEUE].members) == 2, 20, "the engine up with 1001 and 1003")
        await asyncio.sleep(2.0)  # a few passes of the callbacks loop, with 1001 and 1003 free
        assert await attempts_of(database_url, cid) == [], "dialled without the promised agent"
        sim.agent_login("1002")
        await wait_for(lambda: attempts_of(database_url, cid), 30, "the callback once 1002 is ready")
        attempt = (await attempts_of(database_url, cid))[0]
        row = await ended(database_url, str(attempt["id"]))
        assert row["agent_id"] == "1002" and agent_bridged(events, str(attempt["id"])) == {"1002"}


async def test_after_the_grace_the_pool_takes_it(database_url: str, tmp_path: Path) -> None:
    async with callback_floor(database_url, tmp_path, booked_min_ago=20, logged_off=True,
                              callback_grace_min=15, callback_fallback="pool") as (_, __, ___, cid):
        await wait_for(lambda: attempts_of(database_url, cid), 30, "the queue to call the contact")
        attempt = (await attempts_of(database_url, cid))[0]
        row = await ended(database_url, str(attempt["id"]))
        assert row["outcome"] == "answered" and row["agent_id"] in ("1001", "1003")
        assert await fetchval(database_url, "SELECT done_at IS NOT NULL FROM callbacks") is True


async def test_after_the_grace_reschedule_books_it_again_next_day(database_url: str, tmp_path: Path) -> None:
    async with callback_floor(database_url, tmp_path, booked_min_ago=20, logged_off=True,
                              callback_grace_min=15, callback_fallback="reschedule") as (_, __, ___, cid):
        before = await fetchval(database_url, "SELECT scheduled_at FROM callbacks")
        await wait_for(lambda: fetchval(database_url, "SELECT scheduled_at > now() FROM callbacks"), 20,
                       "the callback to be booked again")
        rows = await fetch(database_url, "SELECT cb.scheduled_at, cb.agent_id, cb.done_at, c.next_attempt_at"
                                         " FROM callbacks cb JOIN contacts c ON c.id = cb.contact_id")
        row = rows[0]
        assert row["scheduled_at"] - before == timedelta(days=1)  # same local time (no DST change in a day here)
        assert row["agent_id"] == "1002" and row["done_at"] is None and row["next_attempt_at"] == row["scheduled_at"]
        await asyncio.sleep(1.0)
        assert await attempts_of(database_url, cid) == [], "a rescheduled callback was dialled by the queue"


def test_rebooked_for_the_same_local_time_across_a_clock_change() -> None:
    # Booked Saturday 7 March 2026 10:00 in New York (EST); Sunday is the first day of EDT.
    booked = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)
    at = next_day_same_time(booked, "America/New_York", booked + timedelta(minutes=20))
    assert at == datetime(2026, 3, 8, 14, 0, tzinfo=UTC)  # 10:00 EDT
    # Missed for several days: the first such day still to come.
    assert next_day_same_time(booked, None, booked + timedelta(days=3, hours=1)) == booked + timedelta(days=4)


def test_callback_keys_are_checked() -> None:
    assert definition().callback_grace_min == 15 and definition().callback_fallback == "pool"
    for key, value in (("callback_fallback", "nobody"), ("callback_grace_min", -1), ("callback_grace_min", 2000)):
        with pytest.raises(DefinitionError, match=key):
            definition(**{key: value})
