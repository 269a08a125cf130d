"""Spacing rules at the moment of dialling: the minimum gap between calls to one number
across campaigns and engines, and the daily limit in the contact's local day, checked in the
transaction that writes the attempt."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from ami.simulator import PbxSimulator
from dialer.engine.rules import CampaignRules
from dialer.engine.store import ClaimedContact, EngineStore, NewAttempt
from tests.engine.harness import (
    campaign_state,
    definition,
    engine_for,
    fetch,
    fetchval,
    make_campaign,
    numbers,
    sim_config,
    wait_for,
)

NEW_YORK = ZoneInfo("America/New_York")

GAP = {"min_gap_min": 60}


async def _settled(url: str, called: int) -> bool:
    """Every number called once, nothing claimed or on a call, nothing due now."""
    distinct = await fetchval(url, "SELECT count(DISTINCT number) FROM call_attempts")
    busy = await fetchval(
        url,
        "SELECT count(*) FROM contacts WHERE state IN ('claimed', 'in_call')"
        " OR (state = 'ready' AND next_attempt_at <= now())",
    )
    open_attempts = await fetchval(url, "SELECT count(*) FROM call_attempts WHERE ended_at IS NULL")
    return bool(distinct == called and busy == 0 and open_attempts == 0)


async def _called_twice_within(url: str, minutes: int) -> tuple[int, float]:
    """Numbers with two attempts (any campaigns) less than `minutes` apart, and the widest
    such pair's gap in seconds."""
    rows = await fetch(
        url,
        "SELECT a.number, extract(epoch FROM b.created_at - a.created_at)::float AS gap"
        " FROM call_attempts a JOIN call_attempts b"
        " ON a.number = b.number AND a.id <> b.id AND a.created_at <= b.created_at"
        " AND b.created_at < a.created_at + make_interval(mins => $1)",
        minutes,
    )
    return len({r["number"] for r in rows}), max((r["gap"] for r in rows), default=0.0)


@pytest.mark.parametrize("engines", [1, 2])
async def test_two_campaigns_sharing_numbers_keep_the_gap(database_url: str, tmp_path: Path, engines: int) -> None:
    shared = numbers(20)
    for name in ("c1", "c2"):
        await make_campaign(database_url, tmp_path, shared, name=name, retry=GAP)
    async with PbxSimulator(sim_config(queues=("c1", "c2"))) as sim:
        running = [engine_for(database_url, sim, f"e{i}") for i in range(engines)]
        tasks = [asyncio.create_task(e.run()) for e in running]
        try:
            await wait_for(lambda: _settled(database_url, len(shared)), 90, "every number called once")
        finally:
            for engine in running:
                engine.request_stop()
            await asyncio.gather(*tasks)
    twice, widest = await _called_twice_within(database_url, 60)
    assert twice == 0, f"{twice} of {len(shared)} numbers called twice within 60 min, at most {widest:.1f} s apart"
    # The contacts not called wait for the gap to clear (or were blocked: the number opted out).
    uncalled = await fetch(
        database_url,
        "SELECT state, next_attempt_at > now() + interval '55 minutes' AS waits FROM contacts c"
        " WHERE NOT EXISTS (SELECT 1 FROM call_attempts a WHERE a.contact_id = c.id)",
    )
    assert len(uncalled) == len(shared)
    assert all((r["state"] == "ready" and r["waits"]) or r["state"] == "blocked" for r in uncalled), [
        tuple(r) for r in uncalled]


async def _campaign_id(url: str, name: str) -> int:
    return int(await fetchval(url, "SELECT id FROM campaigns WHERE name = $1", name))


async def test_two_engines_racing_on_one_number(database_url: str, tmp_path: Path) -> None:
    """Two engines write attempts for the same numbers in two campaigns at the same moment,
    each having claimed its contact when the number had no history: one call per number."""
    shared = numbers(20)
    for name in ("c1", "c2"):
        await make_campaign(database_url, tmp_path, shared, name=name, retry=GAP)
    rules = CampaignRules(definition(retry=GAP))
    stores = [EngineStore(database_url, "east"), EngineStore(database_url, "west")]
    for store in stores:
        await store.open(size=10)
        await store.register()
    try:
        claims: list[dict[str, ClaimedContact]] = []
        for store, name in zip(stores, ("c1", "c2"), strict=True):
            claimed = await store.claim(await _campaign_id(database_url, name), len(shared))
            assert all(rules.may_dial(c, datetime.now(UTC))[0] for c in claimed)
            claims.append({c.number: c for c in claimed})
        ids = [await _campaign_id(database_url, name) for name in ("c1", "c2")]
        results = await asyncio.gather(*(
            store.start_attempts(campaign_id, [NewAttempt(uuid.uuid4(), claimed[number])], rules.may_dial)
            for number in shared
            for store, campaign_id, claimed in zip(stores, ids, claims, strict=True)
        ))
    finally:
        for store in stores:
            await store.close()
    per_number = dict(await fetch(database_url, "SELECT number, count(*) FROM call_attempts GROUP BY 1"))
    assert per_number == dict.fromkeys(shared, 1), "a number was dialled by both engines"
    refused = [why for result in results for why in result.values()]
    assert refused == ["min_gap"] * len(shared)
    # The loser's contact is back in the pool until the gap clears.
    waiting = await fetch(
        database_url,
        "SELECT c.next_attempt_at, a.created_at FROM contacts c JOIN call_attempts a ON a.number = c.number"
        " WHERE c.state = 'ready'",
    )
    assert len(waiting) == len(shared)
    assert all(abs(r["next_attempt_at"] - r["created_at"] - timedelta(minutes=60)) < timedelta(seconds=5)
               for r in waiting)


async def _earlier_attempts(conn: asyncpg.Connection, contact: dict[str, Any], times: list[datetime]) -> None:
    """Attempts made before (ended, no answer) at `times`, and the contact's count to match."""
    for no, at in enumerate(times, start=1):
        await conn.execute(
            "INSERT INTO call_attempts (id, campaign_id, contact_id, number, attempt_no, engine_id, created_at,"
            " originated_at, ended_at, outcome, decided_at) VALUES ($1, $2, $3, $4, $5, 'past', $6, $6, $6, 'no_answer', $6)",
            uuid.uuid4(), contact["campaign_id"], contact["id"], contact["number"], no, at,
        )
    await conn.execute("UPDATE contacts SET attempts = $2, last_attempt_at = $3 WHERE id = $1",
                       contact["id"], len(times), max(times))


DAILY = {"max_attempts": 10, "max_attempts_per_day": 3, "min_gap_min": 60}


async def test_daily_limit_counts_the_new_york_day(database_url: str, tmp_path: Path) -> None:
    """At 22:30 in New York (02:30 UTC, the next UTC day) three calls of that New York day
    use up its limit; at 10:00 the next morning three calls of the previous New York
    evening (the same UTC day) do not."""
    name = await make_campaign(database_url, tmp_path, numbers(2), retry=DAILY)
    campaign_id = await _campaign_id(database_url, name)
    rules = CampaignRules(definition(retry=DAILY))
    evening = datetime(2025, 3, 12, 2, 30, tzinfo=UTC)  # 22:30 on 11 March in New York
    morning = datetime(2025, 3, 12, 14, 0, tzinfo=UTC)  # 10:00 on 12 March in New York
    conn = await asyncpg.connect(database_url)
    try:
        late, early = [dict(r) for r in await conn.fetch(
            "SELECT id, campaign_id, number FROM contacts WHERE campaign_id = $1 ORDER BY id", campaign_id)]
        # New York's 11 March: 10:00, 12:00, 14:00 (UTC day 11 March)
        await _earlier_attempts(conn, late, [datetime(2025, 3, 11, h, tzinfo=UTC) for h in (14, 16, 18)])
        # New York's 11 March evening: 21:00, 22:00, 23:00 (UTC day 12 March)
        await _earlier_attempts(conn, early, [datetime(2025, 3, 12, h, tzinfo=UTC) for h in (1, 2, 3)])
    finally:
        await conn.close()
    store = EngineStore(database_url, "ny")
    await store.open()
    try:
        await store.register()
        claimed = {c.contact_id: c for c in await store.claim(campaign_id, 10)}
        refused = await store.start_attempts(
            campaign_id, [NewAttempt(uuid.uuid4(), claimed[late["id"]])], rules.may_dial, now=evening)
        allowed = await store.start_attempts(
            campaign_id, [NewAttempt(uuid.uuid4(), claimed[early["id"]])], rules.may_dial, now=morning)
    finally:
        await store.close()
    assert refused == {late["id"]: "max_attempts_day"}
    assert allowed == {}
    back = await fetch(database_url, "SELECT state, next_attempt_at FROM contacts WHERE id = $1", late["id"])
    # Back to the pool until New York's midnight (04:00 UTC in March, summer time).
    assert back[0]["state"] == "ready"
    assert back[0]["next_attempt_at"] == datetime(2025, 3, 12, 4, 0, tzinfo=UTC)


async def test_engine_keeps_the_new_york_daily_limit(database_url: str, tmp_path: Path) -> None:
    """The engine, in real time: three calls in the New York day the clock is in now. When
    that day began before the UTC day (before about 04:00 UTC) the calls lie in New York's
    day but not in the UTC day, and the contact waits for New York's midnight; otherwise
    they lie in the UTC day but New York's previous one, and the contact is called."""
    name = await make_campaign(database_url, tmp_path, numbers(1), retry=DAILY)
    now = datetime.now(UTC)
    local_midnight = datetime.combine(now.astimezone(NEW_YORK).date(), datetime.min.time(), NEW_YORK)
    utc_midnight = datetime.combine(now.date(), datetime.min.time(), UTC)
    start, end = sorted((local_midnight.astimezone(UTC), utc_midnight))
    times = [start + (end - start) * f for f in (0.2, 0.4, 0.6)]
    in_new_york_day = local_midnight < utc_midnight
    if now - max(times) < timedelta(minutes=61):
        pytest.skip("too close to a midnight for three calls an hour apart")
    conn = await asyncpg.connect(database_url)
    try:
        contact = dict(await conn.fetchrow("SELECT id, campaign_id, number FROM contacts"))
        await _earlier_attempts(conn, contact, times)
    finally:
        await conn.close()
    async with PbxSimulator(sim_config()) as sim:
        engine = engine_for(database_url, sim, "ny")
        task = asyncio.create_task(engine.run())
        try:
            if in_new_york_day:
                await wait_for(lambda: "max_attempts_day" in _refused(engine.status(), name), 20, "the refusal")
            else:
                await wait_for(lambda: _attempts_made(database_url, 4), 20, "the fourth call")
            await asyncio.sleep(1)
        finally:
            engine.request_stop()
            await task
    made = await fetchval(database_url, "SELECT count(*) FROM call_attempts")
    row = await fetch(database_url, "SELECT state, next_attempt_at FROM contacts")
    if in_new_york_day:
        assert made == 3, "a fourth call in the same New York day"
        next_midnight = local_midnight + timedelta(days=1)
        assert row[0]["next_attempt_at"] >= next_midnight.astimezone(UTC) - timedelta(hours=1)
    else:
        assert made == 4, "the calls of New York's previous day were counted as today's"


def _refused(status: dict[str, Any], campaign: str) -> dict[str, int]:
    return dict(status["campaigns"].get(campaign, {}).get("refused", {}))


async def _attempts_made(url: str, count: int) -> bool:
    return bool(await fetchval(url, "SELECT count(*) FROM call_attempts") == count)


async def test_campaign_of_exhausted_contacts_completes(database_url: str, tmp_path: Path) -> None:
    """The operator lowers max_attempts below what the contacts already had: refused for
    total attempts (a refusal that never clears), they are finished and the campaign
    completes instead of waiting an hour, forever."""
    name = await make_campaign(database_url, tmp_path, numbers(5), retry={"max_attempts": 2})
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE contacts SET attempts = 2, last_attempt_at = now() - interval '3 days'")
    finally:
        await conn.close()
    async with PbxSimulator(sim_config()) as sim:
        engine = engine_for(database_url, sim, "done")
        task = asyncio.create_task(engine.run())
        try:
            await wait_for(lambda: _is_completed(database_url, name), 30, "the campaign to complete")
        finally:
            engine.request_stop()
            await task
    assert sim.stats.originates == 0
    states = await fetch(database_url, "SELECT state, last_outcome, count(*) FROM contacts GROUP BY 1, 2")
    assert [tuple(r) for r in states] == [("exhausted", "max_attempts_total", 5)]


async def _is_completed(url: str, name: str) -> bool:
    return await campaign_state(url, name) == "completed"
