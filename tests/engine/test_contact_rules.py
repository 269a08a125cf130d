"""Issue 13's compliance rules in the running engine: the safe window of a contact whose
record's zone differs from its number's, and the uk no-repeat periods after a hang-up in
the queue (72 h) and an AMD-detected machine (24 h)."""

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
from compliance.outcomes import Outcome
from compliance.reasons import Reason
from dialer.engine.rules import CampaignRules
from dialer.engine.store import ClaimedContact, EngineStore
from pacing.world import Duration, WorldModel
from tests.engine.harness import (
    WEEK,
    definition,
    engine_for,
    fetch,
    fetchval,
    make_campaign,
    sim_config,
    wait_for,
)

NEW_YORK, LOS_ANGELES = "+12125550100", "+12135550100"
LA_ZONE = "America/Los_Angeles"


def _us_campaign(**extra: Any) -> Any:
    return definition(regulation="us", retry={"max_attempts": 5, "max_attempts_per_day": 3, "min_gap_min": 0},
                      **extra)


# ----------------------------------------------------------------------------- the safe window

def test_the_claim_check_and_the_retry_use_the_safe_window() -> None:
    """A New York number whose record says Los Angeles, at 20:30 in Los Angeles (23:30 in New
    York): refused under the us default until both are open; dialled when the campaign trusts
    its records. The retry after a no-answer lands where both are open too."""
    at = datetime(2026, 7, 15, 3, 30, tzinfo=UTC)  # 20:30 PDT, 23:30 EDT
    contact = ClaimedContact(1, NEW_YORK, LA_ZONE, attempts=0, fields={})
    safe = CampaignRules(_us_campaign(windows={day: ["08:00-21:00"] for day in WEEK}))
    allowed, reason, not_before = safe.may_dial(contact, at)
    assert (allowed, reason) == (False, Reason.OUTSIDE_WINDOW)
    assert not_before == datetime(2026, 7, 15, 15, 0, tzinfo=UTC)  # 08:00 in Los Angeles, 11:00 in New York
    trusting = CampaignRules(_us_campaign(windows={day: ["08:00-21:00"] for day in WEEK},
                                          compliance={"contact_zone": "trust"}))
    assert trusting.may_dial(contact, at)[0]

    # A no-answer at 18:30 PDT (21:30 EDT): the retry is not at 20:30 PDT but at the next
    # instant open in both places.
    decided = safe.decide(attempt_id="a1", campaign_id=1, contact_id=1, number=NEW_YORK, contact_zone=LA_ZONE,
                          outcome=Outcome.NO_ANSWER, history=[], now=at - timedelta(hours=2))
    assert decided.next_attempt_at == datetime(2026, 7, 15, 15, 0, tzinfo=UTC)
    decided = trusting.decide(attempt_id="a1", campaign_id=1, contact_id=1, number=NEW_YORK, contact_zone=LA_ZONE,
                              outcome=Outcome.NO_ANSWER, history=[], now=at - timedelta(hours=2))
    assert decided.next_attempt_at == at  # 2 h later, 20:30 PDT


def _open_in_la_closed_in_new_york(now: datetime) -> list[str]:
    """Every-day spans from 3 h before to 2 h after the hour in Los Angeles now: open there,
    and closed in New York (3 h ahead, so 6 h after the start); split at midnight."""
    hour = now.astimezone(ZoneInfo(LA_ZONE)).hour
    start, end = (hour - 3) % 24, (hour + 2) % 24
    if start < end or end == 0:
        return [f"{start:02d}:00-{end or 24:02d}:00"]
    return [f"{start:02d}:00-24:00", f"00:00-{end:02d}:00"]


@pytest.mark.parametrize("contact_zone", ["intersect", "trust"])
async def test_a_new_york_number_with_a_los_angeles_record(
    database_url: str, tmp_path: Path, contact_zone: str
) -> None:
    """Under the us profile's default the New York number is not dialled while New York is
    closed, though Los Angeles (its record) is open: it goes back to the pool until both are
    open. The Los Angeles number beside it is dialled. A campaign that trusts its records
    dials both."""
    now = datetime.now(UTC)
    spans = _open_in_la_closed_in_new_york(now)
    extra: dict[str, Any] = {"regulation": "us", "windows": {day: spans for day in WEEK}}
    if contact_zone == "trust":
        extra["compliance"] = {"contact_zone": "trust"}
    await make_campaign(database_url, tmp_path, [NEW_YORK, LOS_ANGELES], record_zone=LA_ZONE, **extra)
    rules = CampaignRules(definition(**extra))

    async def dialled(number: str) -> bool:
        return bool(await fetchval(database_url, "SELECT count(*) FROM call_attempts WHERE number = $1", number))

    async def released(number: str) -> bool:
        return bool(await fetchval(
            database_url, "SELECT state = 'ready' AND next_attempt_at > now() + interval '1 hour'"
            " FROM contacts WHERE number = $1", number))

    async with PbxSimulator(sim_config()) as sim:
        engine = engine_for(database_url, sim)
        task = asyncio.create_task(engine.run())
        try:
            await wait_for(lambda: dialled(LOS_ANGELES), 30, "the Los Angeles number to be dialled")
            if contact_zone == "trust":
                await wait_for(lambda: dialled(NEW_YORK), 30, "the New York number to be dialled")
                return
            await wait_for(lambda: released(NEW_YORK), 30, "the New York number to go back to the pool")
        finally:
            engine.request_stop()
            await task
    assert not await dialled(NEW_YORK)
    (row,) = await fetch(database_url, "SELECT next_attempt_at FROM contacts WHERE number = $1", NEW_YORK)
    zones = rules.zones(LA_ZONE, NEW_YORK)
    assert zones == (LA_ZONE, "America/New_York")
    window = rules.window(NEW_YORK)
    assert row["next_attempt_at"] == window.next_open(zones, datetime.now(UTC))
    assert all(window.is_callable((zone,), row["next_attempt_at"]) for zone in zones)


# ----------------------------------------------------------------------------- uk periods

UK_RETRY = {"max_attempts": 5, "max_attempts_per_day": 3, "min_gap_min": 0}


async def _run_until_decided(database_url: str, world: WorldModel, outcome: str, **extra: Any) -> list[Any]:
    """Run a uk campaign over the simulator until an attempt ends in `outcome` and the contact's
    next step is written; the attempts with that outcome and their contacts' next attempts."""
    query = ("SELECT a.ended_at, c.state, c.next_attempt_at FROM call_attempts a JOIN contacts c"
             " ON c.id = a.contact_id WHERE a.outcome = $1 AND a.decided_at IS NOT NULL")

    async def decided() -> bool:
        return bool(await fetch(database_url, query, outcome))

    async with PbxSimulator(sim_config(agents=extra.pop("agents", 1), world=world)) as sim:
        engine = engine_for(database_url, sim)
        task = asyncio.create_task(engine.run())
        try:
            await wait_for(decided, 40, f"an attempt ending in {outcome}, decided")
        finally:
            engine.request_stop()
            await task
    return await fetch(database_url, query, outcome)


async def test_uk_a_hangup_in_the_queue_is_not_called_again_within_72_hours(
    database_url: str, tmp_path: Path
) -> None:
    # Everyone answers and gives up after half a second in the queue; the one agent talks for
    # 120 s, so of three calls placed at once, those not taken hang up while queued.
    world = WorldModel(human_rate=1.0, machine_rate=0.0, busy_rate=0.0, congestion_rate=0.0, invalid_rate=0.0,
                       talk=Duration.fixed(120.0), wrap=Duration.fixed(5.0), patience=Duration.fixed(0.5))
    extra: dict[str, Any] = {"regulation": "uk", "dial_mode": "ratio", "pacing": {"dial_level": 3.0},
                             "agents": 1, "retry": UK_RETRY}
    await make_campaign(database_url, tmp_path, [f"+1212555010{i}" for i in range(3)], **extra)
    rows = await _run_until_decided(database_url, world, "queue_hangup")
    for row in rows:
        assert row["state"] == "ready"
        assert row["next_attempt_at"] >= row["ended_at"] + timedelta(hours=72)


async def test_uk_a_machine_is_not_called_again_within_24_hours(database_url: str, tmp_path: Path) -> None:
    world = WorldModel(human_rate=0.0, machine_rate=1.0, busy_rate=0.0, congestion_rate=0.0, invalid_rate=0.0,
                       talk=Duration.fixed(20.0), wrap=Duration.fixed(5.0))
    extra: dict[str, Any] = {"regulation": "uk", "amd": True, "agents": 2, "retry": UK_RETRY}
    await make_campaign(database_url, tmp_path, [f"+1212555010{i}" for i in range(2)], **extra)
    rows = await _run_until_decided(database_url, world, "machine", agents=2)
    for row in rows:
        assert row["state"] == "ready"
        assert row["next_attempt_at"] >= row["ended_at"] + timedelta(hours=24)
        assert row["next_attempt_at"] < row["ended_at"] + timedelta(hours=25)  # the period, not more


async def test_uk_periods_hold_across_campaigns_at_the_claim(database_url: str, tmp_path: Path) -> None:
    """The same numbers in a second uk campaign: the claim reads the numbers' last queue
    hang-up and last machine in the first one, and refuses them until the periods end."""
    hung_up, machine = "+12125550101", "+12125550102"
    extra: dict[str, Any] = {"regulation": "uk", "retry": UK_RETRY}
    await make_campaign(database_url, tmp_path, [hung_up, machine], name="first", **extra)
    await make_campaign(database_url, tmp_path, [hung_up, machine], name="second", **extra)
    ended = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=10)
    conn = await asyncpg.connect(database_url)
    try:
        first = await conn.fetchval("SELECT id FROM campaigns WHERE name = 'first'")
        second = await conn.fetchval("SELECT id FROM campaigns WHERE name = 'second'")
        for number, outcome in ((hung_up, "queue_hangup"), (machine, "machine")):
            contact = await conn.fetchval(
                "SELECT id FROM contacts WHERE campaign_id = $1 AND number = $2", first, number)
            await conn.execute(
                "INSERT INTO call_attempts (id, campaign_id, contact_id, number, attempt_no, engine_id,"
                " originated_at, ended_at, outcome) VALUES ($1, $2, $3, $4, 1, 'e0', $5, $5, $6)",
                uuid.uuid4(), first, contact, number, ended, outcome,
            )
    finally:
        await conn.close()
    store = EngineStore(database_url, "e1")
    await store.open()
    try:
        claimed = {c.number: c for c in await store.claim(second, 10)}
    finally:
        await store.close()
    rules = CampaignRules(definition(**extra))
    now = datetime.now(UTC)
    assert claimed[hung_up].number_history.last_abandon_at == ended
    assert rules.may_dial(claimed[hung_up], now) == (False, Reason.ABANDON_COOLDOWN, ended + timedelta(hours=72))
    assert claimed[machine].number_history.last_machine_at == ended
    assert rules.may_dial(claimed[machine], now) == (False, Reason.MACHINE_COOLDOWN, ended + timedelta(hours=24))
