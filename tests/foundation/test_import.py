"""Contact import against a real PostgreSQL: edge cases, all-or-nothing, rejects file."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dialer.campaigns import service as campaign_service
from dialer.campaigns.definition import parse_definition
from dialer.contacts import dnc as dnc_service
from dialer.contacts.importer import ImportOptions, ImportProblem, import_contacts
from dialer.db.database import Database
from tests.foundation.helpers import dialer

DEFINITION = parse_definition({"name": "imp", "caller_id": "+12025550100"})


async def _campaign(db: Database) -> None:
    await campaign_service.apply(db, DEFINITION, "test")


async def _contacts(db: Database) -> list[dict]:  # type: ignore[type-arg]
    async with db.raw_transaction() as conn:
        return [dict(r) for r in await conn.fetch("SELECT * FROM contacts ORDER BY id")]


def _rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


async def test_normalises_and_rejects_with_reasons(db: Database, tmp_path: Path) -> None:
    await _campaign(db)
    path = tmp_path / "list.csv"
    path.write_text(
        "name,phone,zone,prio,alt\n"
        "Ann,(202) 555-0143,,5,202-555-0199\n"
        "Bob,+44 20 7946 0958,Europe/London,,not-a-number\n"
        "Bad,12,,,\n"
        "Dup,202.555.0143,,,\n"
        "Short,1\n"
        "Zed,+1 415 555 0100,Mars/Olympus,,\n"
        "Pri,+1 415 555 0101,,high,\n"
        "\n"
        "Cy,+86 138 0013 8000,Asia/Shanghai,-3,\n",
        encoding="utf-8",
    )
    options = ImportOptions(
        timezone_column="zone", priority_column="prio", alt_number_columns=("alt",), workers=1
    )
    report = await import_contacts(db, "imp", path, options)
    assert report.rows_read == 8
    assert report.imported == 3
    assert report.rejected == 5
    assert report.alt_numbers_dropped == 1
    rows = await _contacts(db)
    assert [r["number"] for r in rows] == ["+12025550143", "+442079460958", "+8613800138000"]
    assert rows[0]["alt_numbers"] == ["+12025550199"]
    assert rows[0]["priority"] == 5
    assert rows[0]["fields"] == '{"name": "Ann"}' or rows[0]["fields"] == {"name": "Ann"}
    assert rows[1]["timezone"] == "Europe/London"
    assert rows[2]["priority"] == -3
    assert report.rejects_path is not None
    rejects = {r["line"]: r["reason"] for r in _rejects(report.rejects_path)}
    assert rejects == {
        "4": "bad phone number: too short",
        "5": "duplicate of line 2",
        "6": "expected 5 columns, found 2",
        "7": "unknown time zone 'Mars/Olympus'",
        "8": "priority 'high' is not a whole number in range",
    }


async def test_duplicates_against_campaign_and_dnc(db: Database, tmp_path: Path) -> None:
    await _campaign(db)
    first = tmp_path / "a.csv"
    first.write_text("phone\n2025550143\n2025550144\n")
    assert (await import_contacts(db, "imp", first, ImportOptions(workers=1))).imported == 2
    await dnc_service.add(db, "2025550146", reason="asked")
    second = tmp_path / "b.csv"
    second.write_text("phone\n2025550144\n2025550145\n2025550146\n")
    report = await import_contacts(db, "imp", second, ImportOptions(workers=1))
    assert report.imported == 1
    assert report.reasons == {"already in campaign": 1, "on do-not-call list": 1}
    rejects = _rejects(report.rejects_path)  # type: ignore[arg-type]
    assert {(r["line"], r["reason"], r["phone"]) for r in rejects} == {
        ("2", "already in campaign", "2025550144"),
        ("4", "on do-not-call list", "2025550146"),
    }


@pytest.mark.parametrize(
    ("encoding", "text"),
    [("utf-8-sig", "name,phone\nMüller,2025550143\n"), ("gbk", "姓名,电话\n张伟,+86 138 0013 8000\n")],
)
async def test_encodings_are_detected(db: Database, tmp_path: Path, encoding: str, text: str) -> None:
    await _campaign(db)
    path = tmp_path / "enc.csv"
    path.write_bytes(text.encode(encoding))
    number_column = "phone" if "phone" in text else "电话"
    report = await import_contacts(db, "imp", path, ImportOptions(number_column=number_column, workers=1))
    assert report.imported == 1
    rows = await _contacts(db)
    name = text.splitlines()[1].split(",")[0]
    assert name in str(rows[0]["fields"])
    assert report.encoding == ("utf-8-sig" if encoding == "utf-8-sig" else "gb18030")


async def test_empty_and_header_only(db: Database, tmp_path: Path) -> None:
    await _campaign(db)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ImportProblem, match="the file is empty"):
        await import_contacts(db, "imp", empty)
    header = tmp_path / "header.csv"
    header.write_text("name,phone\n")
    report = await import_contacts(db, "imp", header, ImportOptions(workers=1))
    assert (report.rows_read, report.imported, report.rejected) == (0, 0, 0)


async def test_bad_encoding_mid_file_stores_nothing(db: Database, tmp_path: Path) -> None:
    await _campaign(db)
    path = tmp_path / "broken.csv"
    good = "".join(f"{2025550000 + i}\n" for i in range(100))
    path.write_bytes(b"phone\n" + good.encode() + b"\xff\xfe\xfa bad\n")
    with pytest.raises(ImportProblem, match="not valid utf-8 text"):
        await import_contacts(db, "imp", path, ImportOptions(encoding="utf-8", workers=1))
    assert await _contacts(db) == []


async def test_unknown_columns_and_campaign(db: Database, tmp_path: Path) -> None:
    await _campaign(db)
    path = tmp_path / "x.csv"
    path.write_text("who,where\na,b\n")
    with pytest.raises(ImportProblem, match="no phone number column found"):
        await import_contacts(db, "imp", path)
    with pytest.raises(ImportProblem, match="no column 'tel2'"):
        await import_contacts(db, "imp", path, ImportOptions(number_column="tel2"))
    with pytest.raises(ImportProblem, match="no campaign named 'other'"):
        await import_contacts(db, "other", path)


async def test_large_file_in_parallel(db: Database, tmp_path: Path) -> None:
    """A file larger than several chunks, normalised by two worker processes."""
    await _campaign(db)
    path = tmp_path / "big.csv"
    count = 120_000
    with path.open("w") as handle:
        handle.write("id,phone,segment\n")
        for i in range(count):
            handle.write(f"{i},+1 (202) {200 + i // 10000:03d}-{i % 10000:04d},s{i % 7}\n")
        handle.write("x,+1 202 200 0000,dup\n")  # a duplicate of the first row
    report = await import_contacts(db, "imp", path, ImportOptions(workers=2))
    assert report.rows_read == count + 1
    assert report.imported == count
    assert report.reasons == {"duplicate in file": 1}
    async with db.raw_transaction() as conn:
        assert await conn.fetchval("SELECT count(DISTINCT number) FROM contacts") == count
        assert await conn.fetchval("SELECT rows_imported FROM import_batches") == count


def test_cli_import_summary_and_exit_codes(database_url: str, tmp_path: Path) -> None:
    definition = tmp_path / "c.toml"
    definition.write_text('name = "imp"\ncaller_id = "+12025550100"\n')
    assert dialer(database_url, "campaign", "apply", str(definition)).exit_code == 0
    path = tmp_path / "list.csv"
    path.write_text("phone\n2025550143\n12\n")
    result = dialer(database_url, "contacts", "import", "imp", str(path), "--quiet")
    assert result.exit_code == 0, result.output
    assert "imported 1 of 2 rows" in result.stdout
    assert "list.csv.rejected.csv" in result.stdout
    missing = dialer(database_url, "contacts", "import", "imp", str(tmp_path / "none.csv"))
    assert missing.exit_code == 1
    assert "no such file" in missing.stderr
