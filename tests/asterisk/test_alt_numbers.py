"""Alternate numbers on a real Asterisk: the main number busy (sim-pstn: last digit 4-5), the
next attempt dials the contact's alternate (last digit 0-3: a person), which an agent takes;
each attempt row carries the number it dialled."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

from ami.client import AMIClient
from dialer.campaigns import service as campaign_service
from dialer.contacts.importer import ImportOptions, import_contacts
from dialer.db.database import Database
from tests.asterisk.pbx import QUEUE, engine_on, login_agents, recording, rig_numbers, set_pstn
from tests.asterisk.rig import AsteriskRig
from tests.engine.harness import (
    assert_no_overlapping_attempts,
    campaign_state,
    definition,
    fetch,
    wait_for,
)


async def _campaign(url: str, tmp: Path, rows: list[tuple[str, str]]) -> str:
    """A running campaign on the rig's queue whose contacts each have one alternate number."""
    db = Database(url)
    try:
        d = definition(
            queue=QUEUE, agents=2, ring_timeout_s=10, alt_numbers_on=["busy"],
            retry={"max_attempts": 3, "max_attempts_per_day": 3, "min_gap_min": 60,
                   "rules": {"busy": {"delays_min": [0]}}},
        )
        await campaign_service.apply(db, d, "test")
        path = tmp / "alt.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["phone", "alt", "name"])
            for i, (main, alt) in enumerate(rows):
                writer.writerow([main, alt, f"Contact {i}"])
        report = await import_contacts(db, d.name, path, ImportOptions(workers=1, alt_number_columns=("alt",)))
        assert report.imported == len(rows)
        for command in ("approve", "start"):
            await campaign_service.change_state(db, d.name, command, "test")
        return str(d.name)
    finally:
        await db.close()


async def test_busy_main_then_the_alternate_is_answered(database_url: str, tmp_path: Path, asterisk: AsteriskRig,
                                                        pbx: AMIClient) -> None:
    await set_pstn(pbx, ring=1, talk=2)
    mains = rig_numbers("45")  # busy
    alts = rig_numbers("01", start=500)  # a person answers
    async with recording(pbx) as events:
        await login_agents(pbx, events, ["1001", "1002"])
        name = await _campaign(database_url, tmp_path, list(zip(mains, alts, strict=True)))
        engine = engine_on(database_url, asterisk)
        task = asyncio.create_task(engine.run())
        try:
            await wait_for(lambda: _completed(database_url, name), 120, "the campaign to complete")
        finally:
            engine.request_stop()
            await asyncio.wait_for(task, 60)
    rows = await fetch(
        database_url,
        "SELECT a.contact_id, a.number, a.outcome, a.agent_id, a.attempt_no, c.number AS main, c.alt_numbers"
        " FROM call_attempts a JOIN contacts c ON c.id = a.contact_id ORDER BY a.contact_id, a.created_at",
    )
    by_contact: dict[int, list[tuple[str, str]]] = {}
    for row in rows:
        by_contact.setdefault(row["contact_id"], []).append((row["number"], row["outcome"]))
    assert len(by_contact) == 2
    for row in rows:
        if row["attempt_no"] == 1:
            assert (row["number"], row["outcome"]) == (row["main"], "busy")
        else:
            assert row["attempt_no"] == 2
            assert (row["number"], row["outcome"]) == (row["alt_numbers"][0], "answered")
            assert row["agent_id"] in {"1001", "1002"}
    assert all(len(attempts) == 2 for attempts in by_contact.values())
    contacts = await fetch(database_url, "SELECT state, number_index FROM contacts")
    assert {(c["state"], c["number_index"]) for c in contacts} == {("done", 1)}
    await assert_no_overlapping_attempts(database_url)


async def _completed(url: str, name: str) -> bool:
    return await campaign_state(url, name) == "completed"
