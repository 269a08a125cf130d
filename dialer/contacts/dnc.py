"""Do-not-call lists in PostgreSQL: add, remove, check, and bulk import of registry files.

Numbers are normalised to E.164 before they are stored or looked up. A NULL campaign is
the global list. A registry file (one number per line, or a CSV with a number column)
loads through COPY into a staging table and merges in one transaction.
"""

from __future__ import annotations

import csv
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from dialer.contacts import queries
from dialer.contacts.phone import normalise_chunk, normalise_one
from dialer.contacts.textfiles import ProgressCallback, detect_encoding, open_text
from dialer.db.database import Database
from dialer.errors import UserError, unknown_campaign

SOURCES = ("cli", "registry", "opt_out_key", "disposition", "import")
DEFAULT_REGION = "US"  # numbers without +country code on the global list
CHUNK = 50_000


class DncProblem(UserError):
    pass


@dataclass(frozen=True)
class DncMatch:
    number: str
    scope: str  # "global" or the campaign name
    source: str
    reason: str | None
    added_at: datetime
    expires_at: datetime | None


@dataclass
class DncImportReport:
    file: Path
    lines_read: int = 0
    added: int = 0
    already_listed: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    rejects_path: Path | None = None
    seconds: float = 0.0


def normalise(raw: str, region: str) -> str:
    number, reason = normalise_one(raw, region)
    if number is None:
        raise DncProblem(f"bad phone number: {reason}")
    return number


async def _campaign_and_number(tx: Any, campaign: str | None, number: str, region: str | None) -> tuple[int | None, str]:
    """The campaign's id (None: the global list) and `number` in E.164, read in `region`, or
    when None in the campaign's default_region (the global list: US)."""
    if campaign is None:
        return None, normalise(number, region or DEFAULT_REGION)
    found = (await tx.execute(text(queries.CAMPAIGN_REGION), {"n": campaign})).mappings().first()
    if found is None:
        raise DncProblem(unknown_campaign(campaign))
    return int(found["id"]), normalise(number, region or found["region"] or DEFAULT_REGION)


async def add(
    db: Database,
    number: str,
    *,
    campaign: str | None = None,
    source: str = "cli",
    reason: str | None = None,
    by: str = "cli",
    expires_at: datetime | None = None,
    region: str | None = None,
) -> tuple[str, bool]:
    """Add (or refresh) a DNC entry; returns (E.164, newly added). `region`: see
    `_campaign_and_number`."""
    if source not in SOURCES:
        raise DncProblem(f"unknown DNC source {source!r} (one of: {', '.join(SOURCES)})")
    async with db.transaction() as tx:
        campaign_id, e164 = await _campaign_and_number(tx, campaign, number, region)
        inserted = (
            await tx.execute(
                text(queries.UPSERT_GLOBAL_DNC if campaign_id is None else queries.UPSERT_CAMPAIGN_DNC),
                {
                    "number": e164,
                    "campaign_id": campaign_id,
                    "source": source,
                    "reason": reason,
                    "by": by,
                    "expires_at": expires_at,
                },
            )
        ).scalar_one()
        # Contacts already loaded stop being dialable at once.
        await tx.execute(
            text(queries.BLOCK_CONTACTS),
            {"number": e164, "campaign_id": campaign_id},
        )
    return e164, bool(inserted)


async def remove(
    db: Database, number: str, *, campaign: str | None = None, region: str | None = None
) -> tuple[str, int]:
    async with db.transaction() as tx:
        campaign_id, e164 = await _campaign_and_number(tx, campaign, number, region)
        if campaign_id is None:
            result = await tx.execute(text(queries.DELETE_GLOBAL_DNC), {"n": e164})
        else:
            result = await tx.execute(text(queries.DELETE_CAMPAIGN_DNC), {"n": e164, "c": campaign_id})
    return e164, int(result.rowcount)


async def check(
    db: Database, number: str, *, campaign: str | None = None, region: str | None = None
) -> tuple[str, list[DncMatch]]:
    """Live entries for `number`: those that block it for `campaign`, or every list when None."""
    async with db.transaction() as tx:
        campaign_id, e164 = await _campaign_and_number(tx, campaign, number, region)
        rows = await tx.execute(text(queries.LIVE_DNC_ENTRIES), {"n": e164, "c": campaign_id})
        return e164, [DncMatch(**row) for row in rows.mappings()]


async def import_registry(
    db: Database,
    path: Path,
    *,
    campaign: str | None = None,
    source: str = "registry",
    reason: str | None = None,
    by: str = "cli",
    expires_at: datetime | None = None,
    region: str | None = None,
    column: str | None = None,
    encoding: str = "auto",
    rejects_path: Path | None = None,
    progress: ProgressCallback | None = None,
    workers: int = 0,
) -> DncImportReport:
    """Load a registry file of numbers (one per line, or CSV with `column`), all or nothing."""
    started = time.perf_counter()
    if not path.is_file():  # noqa: ASYNC240 - a stat before a blocking read
        raise DncProblem(f"{path}: no such file")
    if source not in SOURCES:
        raise DncProblem(f"unknown DNC source {source!r} (one of: {', '.join(SOURCES)})")
    enc = detect_encoding(path, encoding)
    report = DncImportReport(file=path)
    rejects_path = rejects_path or path.with_name(path.name + ".rejected.csv")
    rejects_file = None
    rejects_writer: Any = None
    # Raw asyncpg for the bulk COPY; the statements around it share its connection (the
    # staging table is a temporary one) and its transaction (all or nothing).
    async with db.raw_transaction() as conn:
        campaign_id = None
        if campaign is not None:
            found = await conn.fetchrow(queries.DNC_IMPORT_CAMPAIGN_ID, campaign)
            if found is None:
                raise DncProblem(unknown_campaign(campaign))
            campaign_id = found["id"]
            region = region or found["region"]
        region = region or DEFAULT_REGION
        await conn.execute(queries.DNC_STAGING)
        with open_text(path, enc, progress) as handle, ProcessPoolExecutor(workers or os.cpu_count() or 1) as pool:
            reader = csv.reader(handle)
            index = 0
            first = True
            pending: list[tuple[list[int], list[str], Any]] = []

            async def drain(item: tuple[list[int], list[str], Any]) -> None:
                nonlocal rejects_file, rejects_writer
                lines, raws, future = item
                good = []
                for line, raw, (number, why) in zip(lines, raws, future.result(), strict=True):
                    if number is None:
                        report.rejected += 1
                        report.reasons[why or "bad"] = report.reasons.get(why or "bad", 0) + 1
                        if rejects_writer is None:
                            rejects_file = rejects_path.open("w", encoding="utf-8", newline="")
                            rejects_writer = csv.writer(rejects_file)
                            rejects_writer.writerow(["line", "reason", "number"])
                        rejects_writer.writerow([line, f"bad phone number: {why}", raw])
                    else:
                        good.append((number,))
                if good:
                    await conn.copy_records_to_table("dnc_staging", records=good)

            lines: list[int] = []
            raws: list[str] = []
            try:
                for row in reader:
                    if not row or not "".join(row).strip():
                        continue
                    if first:
                        first = False
                        if column is not None:
                            if column not in row:
                                raise DncProblem(f"no column {column!r} in the header ({', '.join(row)})")
                            index = row.index(column)
                            continue
                        if not any(ch.isdigit() for ch in row[0]):
                            continue  # a header line such as "number"
                    report.lines_read += 1
                    lines.append(reader.line_num)
                    raws.append(row[index] if index < len(row) else "")
                    if len(raws) >= CHUNK:
                        pending.append((lines, raws, pool.submit(normalise_chunk, raws, region)))
                        lines, raws = [], []
                        if len(pending) > 3:
                            await drain(pending.pop(0))
                if raws:
                    pending.append((lines, raws, pool.submit(normalise_chunk, raws, region)))
                while pending:
                    await drain(pending.pop(0))
            except UnicodeDecodeError as exc:
                raise DncProblem(f"{path}: not valid {enc} text ({exc.reason}); pass --encoding") from None
            finally:
                if rejects_file is not None:
                    rejects_file.close()
        status = await conn.execute(queries.DNC_MERGE, campaign_id, source, reason, by, expires_at)
        report.added = int(status.split()[-1])
        distinct = await conn.fetchval(queries.DNC_STAGED_COUNT)
        report.already_listed = int(distinct) - report.added
        await conn.execute(queries.DNC_BLOCK_CONTACTS, campaign_id)
    report.rejects_path = rejects_path if report.rejected else None
    report.seconds = time.perf_counter() - started
    return report
