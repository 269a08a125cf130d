"""Recording retention: `dialer recordings purge` deletes recordings kept long enough.

A campaign keeps its recordings `recording_retention_days` days after the call (its
`[compliance]` override, else its regulation profile's: `cn` 30, at least that much under
`cn`); a campaign with none keeps them for ever. The purge runs where the files are (the
Asterisk host or its recordings volume; `path_prefix` maps the path Asterisk wrote to the
path seen here), deletes each file past retention and stamps the attempt's
`recording_purged_at`. The path stays on the attempt: the audit trail keeps what was
recorded and where. A file already missing is stamped too (counted apart); one that cannot
be deleted is left, counted, and tried again by the next purge.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from dialer.campaigns.definition import CampaignDefinition, profile_for
from dialer.db.database import Database
from dialer.errors import UserError, unknown_campaign
from dialer.outputs import queries

log = logging.getLogger(__name__)

BATCH = 500


@dataclass
class CampaignPurge:
    """What one campaign's purge did (or, in a dry run, would do)."""

    campaign: str
    retention_days: int | None  # None: kept for ever, nothing purged
    deleted: int = 0
    deleted_bytes: int = 0
    missing: int = 0
    failed: int = 0
    problem: str | None = None  # why the campaign was skipped


@dataclass
class PurgeReport:
    dry_run: bool
    campaigns: list[CampaignPurge] = field(default_factory=list)

    @property
    def deleted(self) -> int:
        return sum(c.deleted for c in self.campaigns)

    @property
    def failed(self) -> int:
        return sum(c.failed for c in self.campaigns)


def parse_path_prefix(value: str | None) -> tuple[str, str] | None:
    """`/var/spool/asterisk/monitor=/srv/recordings` -> the pair; a clear error otherwise."""
    if value is None:
        return None
    old, sep, new = value.partition("=")
    if not sep or not old.startswith("/") or not new:
        raise UserError(f"--path-prefix {value!r}: use ASTERISK_PATH=LOCAL_PATH, "
                        "e.g. /var/spool/asterisk/monitor=/srv/recordings")
    return old.rstrip("/") or "/", new.rstrip("/") or "/"


def local_path(recording_path: str, prefix: tuple[str, str] | None) -> Path:
    """Where the file Asterisk wrote is seen from here."""
    if prefix is not None:
        old, new = prefix
        if recording_path == old or recording_path.startswith(old.rstrip("/") + "/"):
            return Path(new + recording_path[len(old):])
    return Path(recording_path)


def retention_days(settings: dict[str, Any]) -> int | None:
    """The campaign's retention: its override, else its profile's; None keeps for ever."""
    return profile_for(CampaignDefinition.model_validate(settings)).recording_retention_days


async def purge_recordings(
    db: Database,
    *,
    campaign: str | None = None,
    dry_run: bool = False,
    path_prefix: tuple[str, str] | None = None,
    on_total: Callable[[int], None] | None = None,
    on_file: Callable[[], None] | None = None,
) -> PurgeReport:
    """Delete the recordings past each campaign's retention; see the module docstring."""
    report = PurgeReport(dry_run=dry_run)
    async with db.transaction() as conn:
        rows = (await conn.execute(text(queries.RECORDING_CAMPAIGNS), {"campaign": campaign})).mappings().all()
    if campaign is not None and not rows:
        raise UserError(unknown_campaign(campaign))
    plans: list[tuple[int, CampaignPurge]] = []
    for row in rows:
        try:
            days = retention_days(row["settings"])
        except (ValueError, UserError) as exc:  # stored settings no longer valid: say so, go on
            report.campaigns.append(CampaignPurge(row["name"], None, problem=f"settings not valid: {exc}"))
            continue
        plans.append((row["id"], CampaignPurge(row["name"], days)))
    async with db.transaction() as conn:
        total = 0
        for campaign_id, plan in plans:
            if plan.retention_days is not None:
                params = {"campaign_id": campaign_id, "days": plan.retention_days}
                total += (await conn.execute(text(queries.COUNT_RECORDINGS_PAST_RETENTION), params)).scalar_one()
    if on_total is not None:
        on_total(total)
    for campaign_id, plan in plans:
        report.campaigns.append(plan)
        if plan.retention_days is not None:
            await _purge_campaign(db, campaign_id, plan, dry_run, path_prefix, on_file)
    return report


async def _purge_campaign(
    db: Database,
    campaign_id: int,
    plan: CampaignPurge,
    dry_run: bool,
    path_prefix: tuple[str, str] | None,
    on_file: Callable[[], None] | None,
) -> None:
    after_at: datetime | None = None
    after_id: str | None = None
    while True:
        params = {"campaign_id": campaign_id, "days": plan.retention_days, "batch": BATCH,
                  "after_at": after_at, "after_id": after_id}
        async with db.transaction() as conn:
            batch = (await conn.execute(text(queries.RECORDINGS_PAST_RETENTION), params)).mappings().all()
        if not batch:
            return
        # File system work off the event loop.
        gone = await asyncio.to_thread(_delete_batch, batch, plan, dry_run, path_prefix, on_file)
        after_at, after_id = batch[-1]["ended_at"], str(batch[-1]["id"])
        if gone and not dry_run:
            async with db.transaction() as conn:
                await conn.execute(text(queries.MARK_RECORDINGS_PURGED), {"ids": gone})


def _delete_batch(
    batch: Sequence[Mapping[Any, Any]],
    plan: CampaignPurge,
    dry_run: bool,
    path_prefix: tuple[str, str] | None,
    on_file: Callable[[], None] | None,
) -> list[str]:
    """Delete a batch's files; the ids of the attempts whose file is gone."""
    gone = []
    for row in batch:
        if _delete(local_path(row["recording_path"], path_prefix), plan, dry_run):
            gone.append(str(row["id"]))
        if on_file is not None:
            on_file()
    return gone


def _delete(path: Path, plan: CampaignPurge, dry_run: bool) -> bool:
    """Delete one file (a dry run only reads its size); True when it is gone (deleted, or
    missing already)."""
    try:
        size = path.stat().st_size
        if not dry_run:
            path.unlink()
    except FileNotFoundError:
        plan.missing += 1
        return True
    except OSError as exc:
        plan.failed += 1
        log.warning("recording of campaign %s: cannot delete %s: %s", plan.campaign, path.name, exc.strerror)
        return False
    plan.deleted += 1
    plan.deleted_bytes += size
    return True
