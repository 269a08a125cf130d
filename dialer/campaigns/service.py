"""Campaign operations behind the CLI: apply a definition, change state, list, show.

Every state change is written with its audit row and a NOTIFY in one transaction, so a
running engine hears of it within a second (it LISTENs on `dialer.db.notify.CAMPAIGN_CHANNEL`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text

from dialer.campaigns.definition import (
    TERMINAL_STATES,
    CampaignDefinition,
    IllegalTransition,
    next_state,
)
from dialer.db.database import Database
from dialer.db.models import CampaignState
from dialer.db.notify import CAMPAIGN_CHANNEL
from dialer.errors import UserError, unknown_campaign


class CampaignNotFound(UserError):
    pass


@dataclass(frozen=True)
class CampaignRow:
    id: int
    name: str
    state: CampaignState
    dial_mode: str
    regulation: str
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @property
    def definition(self) -> CampaignDefinition:
        return CampaignDefinition.model_validate(self.settings)


@dataclass(frozen=True)
class ApplyResult:
    campaign: CampaignRow
    created: bool
    changed: bool


_COLUMNS = "id, name, state, dial_mode, regulation, settings, created_at, updated_at"
_SELECT = f"SELECT {_COLUMNS} FROM campaigns"


def _row(mapping: Any) -> CampaignRow:
    return CampaignRow(
        id=mapping["id"],
        name=mapping["name"],
        state=CampaignState(mapping["state"]),
        dial_mode=mapping["dial_mode"],
        regulation=mapping["regulation"],
        settings=mapping["settings"],
        created_at=mapping["created_at"],
        updated_at=mapping["updated_at"],
    )


async def apply(db: Database, definition: CampaignDefinition, by: str) -> ApplyResult:
    """Create the campaign, or update its settings; terminal campaigns are not changed."""
    settings = definition.model_dump(mode="json")
    async with db.transaction() as tx:
        existing = (
            await tx.execute(text(f"{_SELECT} WHERE name = :name FOR UPDATE"), {"name": definition.name})
        ).mappings().first()
        if existing is None:
            created = (
                await tx.execute(
                    text(
                        "INSERT INTO campaigns (name, state, dial_mode, regulation, settings, pilot_limit)"
                        " VALUES (:name, 'draft', :mode, :reg, CAST(:settings AS jsonb), :pilot)"
                        f" RETURNING {_COLUMNS}"
                    ),
                    {
                        "name": definition.name,
                        "mode": definition.dial_mode,
                        "reg": definition.regulation,
                        "settings": json.dumps(settings),
                        "pilot": definition.pilot_limit,
                    },
                )
            ).mappings().one()
            await _audit(tx, created["id"], None, CampaignState.DRAFT, by, "created")
            return ApplyResult(_row(created), created=True, changed=True)
        current = _row(existing)
        if current.state in TERMINAL_STATES:
            raise IllegalTransition(
                f"campaign {definition.name} is {current.state.value}; a finished campaign cannot be changed"
            )
        if current.settings == settings:
            return ApplyResult(current, created=False, changed=False)
        updated = (
            await tx.execute(
                text(
                    "UPDATE campaigns SET dial_mode = :mode, regulation = :reg,"
                    " settings = CAST(:settings AS jsonb), pilot_limit = :pilot, updated_at = now()"
                    " WHERE id = :id"
                    f" RETURNING {_COLUMNS}"
                ),
                {
                    "id": current.id,
                    "mode": definition.dial_mode,
                    "reg": definition.regulation,
                    "settings": json.dumps(settings),
                    "pilot": definition.pilot_limit,
                },
            )
        ).mappings().one()
        await _audit(tx, current.id, current.state, current.state, by, "settings changed")
        await _notify(tx, current.id, current.state)
        return ApplyResult(_row(updated), created=False, changed=True)


async def change_state(
    db: Database, name: str, command: str, by: str, note: str | None = None
) -> tuple[CampaignState, CampaignState]:
    """Apply a life-cycle command; returns (from, to). Raises IllegalTransition or CampaignNotFound."""
    async with db.transaction() as tx:
        row = (
            await tx.execute(text(f"{_SELECT} WHERE name = :name FOR UPDATE"), {"name": name})
        ).mappings().first()
        if row is None:
            raise CampaignNotFound(unknown_campaign(name))
        current = CampaignState(row["state"])
        paused_from = None
        if current is CampaignState.PAUSED:
            last = (
                await tx.execute(
                    text(
                        "SELECT from_state FROM campaign_state_changes WHERE campaign_id = :id"
                        " AND to_state = 'paused' ORDER BY changed_at DESC, id DESC LIMIT 1"
                    ),
                    {"id": row["id"]},
                )
            ).scalar()
            paused_from = CampaignState(last) if last else None
        target = next_state(command, current, paused_from)
        await tx.execute(
            text("UPDATE campaigns SET state = :state, updated_at = now() WHERE id = :id"),
            {"state": target.value, "id": row["id"]},
        )
        await _audit(tx, row["id"], current, target, by, note)
        await _notify(tx, row["id"], target)
        return current, target


async def list_campaigns(db: Database) -> list[dict[str, Any]]:
    async with db.transaction() as tx:
        rows = await tx.execute(
            text(
                "SELECT c.id, c.name, c.state, c.dial_mode, c.regulation, c.updated_at,"
                " count(k.id) AS contacts,"
                " count(k.id) FILTER (WHERE k.state IN ('ready', 'claimed')) AS dialable"
                " FROM campaigns c LEFT JOIN contacts k ON k.campaign_id = c.id"
                " GROUP BY c.id ORDER BY c.name"
            )
        )
        return [dict(row) for row in rows.mappings()]


async def get(db: Database, name: str) -> CampaignRow:
    async with db.transaction() as tx:
        row = (await tx.execute(text(f"{_SELECT} WHERE name = :name"), {"name": name})).mappings().first()
    if row is None:
        raise CampaignNotFound(unknown_campaign(name))
    return _row(row)


async def details(db: Database, name: str) -> dict[str, Any]:
    """Everything `campaign show` prints: settings, contact counts by state, audit trail."""
    campaign = await get(db, name)
    async with db.transaction() as tx:
        by_state: dict[str, int] = dict(
            (
                await tx.execute(
                    text("SELECT state, count(*) FROM contacts WHERE campaign_id = :id GROUP BY state"),
                    {"id": campaign.id},
                )
            ).all()
        )
        audit = [
            dict(row)
            for row in (
                await tx.execute(
                    text(
                        "SELECT from_state, to_state, changed_by, changed_at, note"
                        " FROM campaign_state_changes WHERE campaign_id = :id ORDER BY changed_at, id"
                    ),
                    {"id": campaign.id},
                )
            ).mappings()
        ]
        attempts = (
            await tx.execute(
                text("SELECT count(*) FROM call_attempts WHERE campaign_id = :id"), {"id": campaign.id}
            )
        ).scalar_one()
    return {"campaign": campaign, "contacts": by_state, "audit": audit, "attempts": attempts}


async def _audit(
    tx: Any, campaign_id: int, from_state: CampaignState | None, to_state: CampaignState, by: str, note: str | None
) -> None:
    await tx.execute(
        text(
            "INSERT INTO campaign_state_changes (campaign_id, from_state, to_state, changed_by, note)"
            " VALUES (:id, :from_state, :to_state, :by, :note)"
        ),
        {
            "id": campaign_id,
            "from_state": from_state.value if from_state else None,
            "to_state": to_state.value,
            "by": by,
            "note": note,
        },
    )


async def _notify(tx: Any, campaign_id: int, state: CampaignState) -> None:
    await tx.execute(
        text("SELECT pg_notify(:channel, :payload)"),
        {"channel": CAMPAIGN_CHANNEL, "payload": json.dumps({"campaign_id": campaign_id, "state": state.value})},
    )
