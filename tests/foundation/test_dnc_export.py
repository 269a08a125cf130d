from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dialer.campaigns import service as campaign_service
from dialer.campaigns.definition import parse_definition
from dialer.contacts import dnc as dnc_service
from dialer.db.database import Database
from dialer.db.models import Base
from dialer.outputs.export import COLUMNS, export_attempts
from tests.foundation.helpers import dialer


async def test_add_check_remove_scopes(db: Database) -> None:
    await campaign_service.apply(db, parse_definition({"name": "c1", "caller_id": "1"}), "t")
    e164, new = await dnc_service.add(db, "(202) 555-0143", campaign="c1", reason="refused")
    assert (e164, new) == ("+12025550143", True)
    _, again = await dnc_service.add(db, "+1 202 555 0143", campaign="c1")
    assert again is False
    await campaign_service.apply(db, parse_definition({"name": "c2", "caller_id": "1"}), "t")
    # a campaign entry blocks only that campaign; with no campaign, every entry is listed
    assert (await dnc_service.check(db, "2025550143", campaign="c2"))[1] == []
    matches = (await dnc_service.check(db, "2025550143", campaign="c1"))[1]
    assert [(m.scope, m.reason) for m in matches] == [("c1", None)]
    assert [m.scope for m in (await dnc_service.check(db, "2025550143"))[1]] == ["c1"]
    # an expired entry no longer blocks
    await dnc_service.add(db, "2025550150", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert (await dnc_service.check(db, "2025550150"))[1] == []
    assert (await dnc_service.remove(db, "2025550143", campaign="c1"))[1] == 1
    assert (await dnc_service.remove(db, "2025550143", campaign="c1"))[1] == 0
    with pytest.raises(dnc_service.DncProblem, match="bad phone number"):
        await dnc_service.add(db, "12")
    with pytest.raises(dnc_service.DncProblem, match="no campaign named"):
        await dnc_service.add(db, "2025550143", campaign="zz")


async def test_adding_blocks_loaded_contacts(db: Database, tmp_path: Path) -> None:
    from dialer.contacts.importer import ImportOptions, import_contacts

    await campaign_service.apply(db, parse_definition({"name": "c1", "caller_id": "1"}), "t")
    path = tmp_path / "l.csv"
    path.write_text("phone\n2025550143\n2025550144\n")
    await import_contacts(db, "c1", path, ImportOptions(workers=1))
    await dnc_service.add(db, "2025550144")
    async with db.raw_transaction() as conn:
        states = dict(await conn.fetch("SELECT number, state FROM contacts"))
    assert states == {"+12025550143": "ready", "+12025550144": "blocked"}


async def test_registry_import(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "registry.txt"
    lines = ["number"] + [f"+1202555{i:04d}" for i in range(3000)] + ["garbage", "+12025550001"]
    path.write_text("\n".join(lines) + "\n")
    await dnc_service.add(db, "+12025550002")
    report = await dnc_service.import_registry(db, path, workers=1)
    assert report.lines_read == 3002
    assert report.rejected == 1
    assert report.added == 2999
    assert report.already_listed == 1
    rejects = report.rejects_path.read_text()  # type: ignore[union-attr]
    assert "garbage" in rejects and "bad phone number" in rejects
    again = await dnc_service.import_registry(db, path, workers=1)
    assert again.added == 0 and again.already_listed == 3000


async def _attempt(db: Database, outcome: str | None, created: datetime) -> uuid.UUID:
    async with db.raw_transaction() as conn:
        campaign_id = await conn.fetchval("SELECT id FROM campaigns LIMIT 1")
        contact_id = await conn.fetchval(
            "INSERT INTO contacts (campaign_id, number) VALUES ($1, $2) RETURNING id",
            campaign_id,
            f"+1202555{uuid.uuid4().int % 10000:04d}",
        )
        attempt_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO call_attempts (id, campaign_id, contact_id, number, attempt_no, engine_id,"
            " created_at, originated_at, ended_at, outcome, hangup_cause)"
            " VALUES ($1, $2, $3, '+12025550000', 1, 'e1', $4::timestamptz, $4::timestamptz,"
            " $4::timestamptz + interval '30 s', $5, 16)",
            attempt_id,
            campaign_id,
            contact_id,
            created,
            outcome,
        )
    return attempt_id


async def test_export_csv_and_jsonl(db: Database) -> None:
    await campaign_service.apply(db, parse_definition({"name": "c1", "caller_id": "1"}), "t")
    old = await _attempt(db, "no_answer", datetime(2026, 1, 1, 12, tzinfo=UTC))
    new = await _attempt(db, "answered", datetime(2026, 6, 1, 12, tzinfo=UTC))
    out = io.StringIO()
    assert await export_attempts(db, out, fmt="csv") == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert tuple(rows[0].keys()) == COLUMNS
    assert rows[0]["attempt_id"] == str(old)
    assert rows[0]["originated_at"] == "2026-01-01T12:00:00Z"
    assert rows[0]["ended_at"] == "2026-01-01T12:00:30Z"
    out = io.StringIO()
    count = await export_attempts(
        db, out, fmt="jsonl", campaign="c1", since=datetime(2026, 3, 1, tzinfo=UTC)
    )
    assert count == 1
    record = json.loads(out.getvalue())
    assert record["attempt_id"] == str(new)
    assert record["hangup_cause"] == 16
    with pytest.raises(Exception, match="no campaign named"):
        await export_attempts(db, io.StringIO(), campaign="zz")


async def test_export_carries_the_recording(db: Database) -> None:
    await campaign_service.apply(db, parse_definition({"name": "c1", "caller_id": "1"}), "t")
    recorded = await _attempt(db, "answered", datetime(2026, 6, 1, 12, tzinfo=UTC))
    await _attempt(db, "no_answer", datetime(2026, 6, 1, 13, tzinfo=UTC))
    async with db.raw_transaction() as conn:
        await conn.execute("UPDATE call_attempts SET recording_path = $2, recording_seconds = 27.5"
                           " WHERE id = $1", recorded, f"/var/spool/asterisk/monitor/dialer/{recorded}.wav")
    out = io.StringIO()
    await export_attempts(db, out, fmt="csv")
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["recording_path"], r["recording_seconds"]) for r in rows] == [
        (f"/var/spool/asterisk/monitor/dialer/{recorded}.wav", "27.5"), ("", "")]
    out = io.StringIO()
    await export_attempts(db, out, fmt="jsonl")
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert records[0]["recording_seconds"] == 27.5 and records[0]["recording_path"].endswith(f"{recorded}.wav")
    assert (records[1]["recording_path"], records[1]["recording_seconds"]) == (None, None)


def test_cli_dnc_and_export(database_url: str, tmp_path: Path) -> None:
    added = dialer(database_url, "dnc", "add", "(202) 555-0143", "--reason", "asked")
    assert added.exit_code == 0 and "+12025550143 added" in added.stdout
    blocked = dialer(database_url, "dnc", "check", "+12025550143")
    assert blocked.exit_code == 3 and "BLOCKED" in blocked.stdout
    free = dialer(database_url, "dnc", "check", "+12025550144")
    assert free.exit_code == 0
    bad = dialer(database_url, "dnc", "add", "12")
    assert bad.exit_code == 1 and "bad phone number" in bad.stderr
    out = tmp_path / "a.csv"
    exported = dialer(database_url, "attempts", "export", "--format", "csv", "-o", str(out))
    assert exported.exit_code == 0
    assert out.read_text().splitlines() == [",".join(COLUMNS)]
    wrong = dialer(database_url, "attempts", "export", "--format", "xml")
    assert wrong.exit_code == 1 and "--format 'xml'" in wrong.stderr


async def test_models_match_migrations(db: Database) -> None:
    """The head migration builds exactly the schema the models describe."""
    async with db.engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    assert diff == []
