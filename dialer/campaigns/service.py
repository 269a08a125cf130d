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

from dialer.campaigns import queries
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
            await tx.execute(text(queries.CAMPAIGN_FOR_UPDATE), {"name": definition.name})
        ).mappings().first()
        if existing is None:
            created = (
                await tx.execute(
                    text(queries.INSERT_CAMPAIGN),
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
                text(queries.UPDATE_SETTINGS),
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
        row = (await tx.execute(text(queries.CAMPAIGN_FOR_UPDATE), {"name": name})).mappings().first()
        if row is None:
            raise CampaignNotFound(unknown_campaign(name))
        current = CampaignState(row["state"])
        paused_from = None
        if current is CampaignState.PAUSED:
            last = (await tx.execute(text(queries.PAUSED_FROM), {"id": row["id"]})).scalar()
            paused_from = CampaignState(last) if last else None
        target = next_state(command, current, paused_from)
        await tx.execute(text(queries.SET_STATE), {"state": target.value, "id": row["id"]})
        await _audit(tx, row["id"], current, target, by, note)
        await _notify(tx, row["id"], target)
        return current, target


async def list_campaigns(db: Database) -> list[dict[str, Any]]:
    async with db.transaction() as tx:
        rows = await tx.execute(text(queries.LIST_CAMPAIGNS))
        return [dict(row) for row in rows.mappings()]


async def get(db: Database, name: str) -> CampaignRow:
    async with db.transaction() as tx:
        row = (await tx.execute(text(queries.CAMPAIGN), {"name": name})).mappings().first()
    if row is None:
        raise CampaignNotFound(unknown_campaign(name))
    return _row(row)


async def details(db: Database, name: str) -> dict[str, Any]:
    """Everything `campaign show` prints: settings, contact counts by state, audit trail."""
    campaign = await get(db, name)
    async with db.transaction() as tx:
        by_state: dict[str, int] = dict(
            (await tx.execute(text(queries.CONTACTS_BY_STATE), {"id": campaign.id})).all()
        )
        audit = [
            dict(row) for row in (await tx.execute(text(queries.AUDIT_TRAIL), {"id": campaign.id})).mappings()
        ]
        attempts = (await tx.execute(text(queries.ATTEMPT_COUNT), {"id": campaign.id})).scalar_one()
    return {"campaign": campaign, "contacts": by_state, "audit": audit, "attempts": attempts}


async def _audit(
    tx: Any, campaign_id: int, from_state: CampaignState | None, to_state: CampaignState, by: str, note: str | None
) -> None:
    await tx.execute(
        text(queries.INSERT_STATE_CHANGE),
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
        text(queries.NOTIFY),
        {"channel": CAMPAIGN_CHANNEL, "payload": json.dumps({"campaign_id": campaign_id, "state": state.value})},
    )
