"""Alternate numbers on the simulator and PostgreSQL: the turn passes on by the campaign's
`alt_numbers_on`, each number keeps its own spacing, DNC check and calling window, the
contact is finished when all its numbers are; and a disposition's retry_after_min.

The simulator's last-digit plan (like asterisk-conf's sim-pstn): 0-3 answer, 4-5 busy,
8 congestion."""

from __future__ import annotations

import asyncio
import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ami.simulator import PbxSimulator
from dialer.agents.dispositions import record_disposition
from dialer.campaigns import service as campaign_service
from dialer.contacts.importer import ImportOptions, import_contacts
from dialer.db.database import Database
from tests.engine.harness import definition, engine_for, fetch, fetchval, sim_config, wait_for

BUSY_MAIN, ANSWERS = "+12125550104", "+12125550101"
GUAM = "+16715550111"  # Pacific/Guam: 15 hours ahead of New York
BUSY_ALT = "+13125550105"


async def _campaign(url: str, tmp: Path, rows: list[tuple[str, list[str]]], **extra: Any) -> None:
    db = Database(url)
    try:
        d = definition(**extra)
        await campaign_service.apply(db, d, "test")
        path = tmp / "alt.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["phone", "alt1", "alt2", "name"])
            for i, (main, alts) in enumerate(rows):
                writer.writerow([main, *(alts + ["", ""])[:2], f"Contact {i}"])
        await import_contacts(db, d.name, path, ImportOptions(workers=1, alt_number_columns=("alt1", "alt2")))
        for command in ("approve", "start"):
            await campaign_service.change_state(db, d.name, command, "test")
    finally:
        await db.close()


async def _run_until(url: str, predicate: Any, what: str, within: float = 60, **engine: Any) -> None:
    async with PbxSimulator(sim_config(number_plan="last-digit")) as sim:
        e = engine_for(url, sim, **engine)
        task = asyncio.create_task(e.run())
        try:
            await wait_for(lambda: predicate(url), within, what)
        finally:
            e.request_stop()
            await task


async def _settled(url: str) -> bool:
    """Nothing claimed, on a call, undecided or due now."""
    busy = await fetchval(
        url,
        "SELECT count(*) FROM contacts WHERE state IN ('claimed', 'in_call')"
        " OR (state = 'ready' AND next_attempt_at <= now())",
    )
    undecided = await fetchval(url, "SELECT count(*) FROM call_attempts WHERE decided_at IS NULL")
    return bool(busy == 0 and undecided == 0)


def _attempts(url: str) -> Any:
    return fetch(url, "SELECT number, outcome, created_at FROM call_attempts ORDER BY created_at")


RETRY = {"max_attempts": 5, "max_attempts_per_day": 5, "min_gap_min": 60,
         "rules": {"busy": {"delays_min": [0]}, "congestion": {"retry": False}}}


async def test_busy_main_then_the_alternate_is_dialled_at_once_despite_the_main_numbers_gap(
    database_url: str, tmp_path: Path
) -> None:
    await _campaign(database_url, tmp_path, [(BUSY_MAIN, [ANSWERS])], retry=RETRY, alt_numbers_on=["busy"])
    await _run_until(database_url, lambda u: _settled(u), "the alternate answered and decided")
    rows = await _attempts(database_url)
    # Two attempts, each with its own number; the alternate is not held by the main's 60 min gap.
    assert [(r["number"], r["outcome"]) for r in rows] == [(BUSY_MAIN, "busy"), (ANSWERS, "answered")]
    contact = (await fetch(database_url, "SELECT state, number_index, attempts FROM contacts"))[0]
    assert (contact["state"], contact["number_index"], contact["attempts"]) == ("done", 1, 2)
    export = await fetch(
        database_url,
        "SELECT a.number, CASE WHEN a.number = ct.number THEN 0"
        " ELSE array_position(ct.alt_numbers::text[], a.number::text) END AS i"
        " FROM call_attempts a JOIN contacts ct ON ct.id = a.contact_id ORDER BY a.created_at",
    )
    assert [r["i"] for r in export] == [0, 1]


async def test_back_on_the_main_number_its_own_gap_holds(database_url: str, tmp_path: Path) -> None:
    await _campaign(database_url, tmp_path, [(BUSY_MAIN, [BUSY_ALT])], retry=RETRY, alt_numbers_on=["busy"])
    await _run_until(database_url, lambda u: _settled(u), "main and alternate busy, the main's turn again")
    rows = await _attempts(database_url)
    assert [r["number"] for r in rows] == [BUSY_MAIN, BUSY_ALT]
    contact = (await fetch(database_url, "SELECT state, number_index, next_attempt_at FROM contacts"))[0]
    # The main number's turn again, held by its own 60 min gap since its call.
    assert contact["state"] == "ready" and contact["number_index"] == 0
    assert contact["next_attempt_at"] >= rows[0]["created_at"] + timedelta(minutes=59)


async def test_the_alternates_history_in_another_campaign_holds_it(database_url: str, tmp_path: Path) -> None:
    await _campaign(database_url, tmp_path, [(BUSY_MAIN, [ANSWERS])], retry=RETRY, alt_numbers_on=["busy"])
    conn_rows = await fetch(database_url, "SELECT id, campaign_id FROM contacts")
    other = await fetchval(
        database_url,
        "INSERT INTO campaigns (name, state, dial_mode, regulation, settings, pilot_limit) VALUES"
        " ('other', 'stopped', 'progressive', 'none', '{}', 100) RETURNING id",
    )
    other_contact = await fetchval(
        database_url, "INSERT INTO contacts (campaign_id, number, state) VALUES ($1, $2, 'done') RETURNING id",
        other, ANSWERS,
    )
    await fetchval(
        database_url,
        "INSERT INTO call_attempts (id, campaign_id, contact_id, number, attempt_no, engine_id, created_at,"
        " ended_at, outcome, decided_at) VALUES (gen_random_uuid(), $1, $2, $3, 1, 'x',"
        " now() - interval '10 minutes', now() - interval '9 minutes', 'no_answer', now()) RETURNING 1",
        other, other_contact, ANSWERS,
    )
    assert conn_rows
    await _run_until(database_url, lambda u: _settled(u), "the main dialled, the alternate held by its gap")
    rows = await fetch(database_url, "SELECT number FROM call_attempts WHERE campaign_id = $1",
                       conn_rows[0]["campaign_id"])
    assert [r["number"] for r in rows] == [BUSY_MAIN]
    contact = (await fetch(database_url, "SELECT state, number_index, next_attempt_at FROM contacts WHERE id = $1",
                           conn_rows[0]["id"]))[0]
    assert contact["state"] == "ready" and contact["number_index"] == 1
    assert contact["next_attempt_at"] > datetime.now(UTC) + timedelta(minutes=45)


async def test_a_dnc_alternate_is_skipped_and_a_dnc_main_does_not_stop_the_others(
    database_url: str, tmp_path: Path
) -> None:
    listed_alt, listed_main = "+12125550102", "+13125550103"
    await fetchval(
        database_url,
        "INSERT INTO dnc_numbers (number, campaign_id, source) VALUES ($1, NULL, 'cli'), ($2, NULL, 'cli') RETURNING 1",
        listed_alt, listed_main,
    )
    await _campaign(
        database_url, tmp_path,
        [(BUSY_MAIN, [listed_alt, ANSWERS]), (listed_main, ["+13125550100"])],
        retry=RETRY, alt_numbers_on=["busy"],
    )
    await _run_until(database_url, lambda u: _settled(u), "both contacts reached on a number not listed")
    dialled = {r["number"] for r in await _attempts(database_url)}
    assert dialled == {BUSY_MAIN, ANSWERS, "+13125550100"}
    assert not dialled & {listed_alt, listed_main}
    contacts = {r["number"]: r for r in await fetch(database_url, "SELECT number, state, numbers_done FROM contacts")}
    assert contacts[BUSY_MAIN]["state"] == "done" and 1 in contacts[BUSY_MAIN]["numbers_done"]
    assert contacts[listed_main]["state"] == "done" and contacts[listed_main]["numbers_done"] == [0]


def _span_open_in_new_york_now() -> list[str]:
    """A span open now in New York (and so never in Guam, 15 hours ahead) for two hours."""
    hour = datetime.now(ZoneInfo("America/New_York")).hour
    return [f"{hour:02d}:00-{min(hour + 2, 24):02d}:00"]


async def test_the_number_on_turn_waits_for_its_own_window(database_url: str, tmp_path: Path) -> None:
    """Decided: the contact waits for the number whose turn it is; another number whose window
    is open is not dialled meanwhile (one number at a time, in order)."""
    span = _span_open_in_new_york_now()
    windows = {day: span for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")}
    await _campaign(
        database_url, tmp_path, [(BUSY_MAIN, [GUAM]), (GUAM, [ANSWERS])],
        retry=RETRY, alt_numbers_on=["busy"], windows=windows,
    )
    await _run_until(database_url, lambda u: _settled(u), "the New York main dialled, both contacts waiting for Guam")
    assert [r["number"] for r in await _attempts(database_url)] == [BUSY_MAIN]
    contacts = {r["number"]: r for r in await fetch(
        database_url, "SELECT number, state, number_index, next_attempt_at FROM contacts")}
    guam_opens = datetime.now(UTC) + timedelta(hours=3)  # Guam is at least 13 h past the span
    # Busy on the main: the turn is the Guam alternate's, which waits for its window.
    assert contacts[BUSY_MAIN]["number_index"] == 1 and contacts[BUSY_MAIN]["next_attempt_at"] > guam_opens
    # Vice versa: the Guam main is on turn, closed; the New York alternate is not dialled.
    assert contacts[GUAM]["number_index"] == 0 and contacts[GUAM]["next_attempt_at"] > guam_opens


async def test_the_contact_is_finished_when_all_its_numbers_are(database_url: str, tmp_path: Path) -> None:
    await _campaign(database_url, tmp_path, [("+12125550108", ["+13125550108"])], retry=RETRY,
                    alt_numbers_on=["congestion"])
    await _run_until(database_url, lambda u: _settled(u), "both numbers congested")
    assert [r["outcome"] for r in await _attempts(database_url)] == ["congestion", "congestion"]
    contact = (await fetch(database_url, "SELECT state, numbers_done FROM contacts"))[0]
    assert contact["state"] == "done" and contact["numbers_done"] == [0]


async def test_retry_after_min_delays_the_retry(database_url: str, tmp_path: Path) -> None:
    own = [{"code": "think_it_over", "label": "Thinking it over", "final": False, "retry": True,
            "retry_after_min": 90}]
    await _campaign(database_url, tmp_path, [(ANSWERS, [])], retry=RETRY, dispositions=own)
    db = Database(database_url)

    async def disposed(url: str) -> bool:
        connected = await fetch(url, "SELECT id FROM call_attempts WHERE connected_at IS NOT NULL AND disposition IS NULL")
        for row in connected:
            async with db.transaction() as tx:
                await record_disposition(tx, row["id"], "think_it_over", by="test")
        return await _settled(url) and bool(await fetchval(url, "SELECT count(*) FROM call_attempts"))

    try:
        await _run_until(database_url, disposed, "the call disposed think_it_over and decided",
                         disposition_timeout_s=120)
    finally:
        await db.close()
    ended = await fetchval(database_url, "SELECT ended_at FROM call_attempts")
    contact = (await fetch(database_url, "SELECT state, last_outcome, next_attempt_at FROM contacts"))[0]
    assert (contact["state"], contact["last_outcome"]) == ("ready", "think_it_over")
    # 90 minutes after the decision (made after the call ended), not the 4 h default delay.
    assert ended + timedelta(minutes=90) <= contact["next_attempt_at"] < ended + timedelta(minutes=100)
