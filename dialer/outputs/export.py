"""`dialer attempts export`: one row per call attempt, streamed, as CSV or JSON lines."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from dialer.db.database import Database
from dialer.errors import UserError, unknown_campaign
from dialer.outputs import queries

COLUMNS = (
    "attempt_id",
    "campaign",
    "contact_id",
    "number",
    "number_index",
    "originated_at",
    "answered_at",
    "connected_at",
    "ended_at",
    "outcome",
    "disposition",
    "agent",
    "hangup_cause",
    "amd_result",
    "recording_path",
    "recording_seconds",
    "recording_purged_at",
)


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


async def export_attempts(
    db: Database,
    out: TextIO,
    *,
    fmt: str = "csv",
    campaign: str | None = None,
    since: datetime | None = None,
    on_row: Callable[[int], None] | None = None,
) -> int:
    """Write attempts to `out`; returns the number of rows. Times are UTC ISO 8601."""
    if fmt not in ("csv", "jsonl"):
        raise UserError(f"unknown format {fmt!r} (csv or jsonl)")
    count = 0
    # Raw asyncpg for its server-side cursor: the attempts stream without being held in memory.
    async with db.raw_transaction() as conn:
        if campaign is not None and not await conn.fetchval(queries.EXPORT_CAMPAIGN_EXISTS, campaign):
            raise UserError(unknown_campaign(campaign))
        writer = csv.writer(out) if fmt == "csv" else None
        if writer is not None:
            writer.writerow(COLUMNS)
        async for record in conn.cursor(queries.EXPORT_ATTEMPTS, campaign, since, prefetch=2000):
            values = [_iso(record[name]) for name in COLUMNS]
            if writer is not None:
                writer.writerow(["" if v is None else v for v in values])
            else:
                out.write(json.dumps(dict(zip(COLUMNS, values, strict=True))) + "\n")
            count += 1
            if on_row is not None and count % 10_000 == 0:
                on_row(count)
    return count
