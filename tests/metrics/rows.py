"""Rows for exporter and report tests: campaigns, contacts, attempts, agents, sessions."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert

from dialer.db.database import Database
from dialer.db.models import AgentRow, AgentSession, CallAttempt, Campaign, Contact

_numbers = itertools.count(5550100)


async def add_campaign(
    db: Database, name: str, *, regulation: str = "us", settings: dict[str, Any] | None = None
) -> int:
    async with db.transaction() as conn:
        result = await conn.execute(
            insert(Campaign)
            .values(
                name=name,
                state="running",
                dial_mode="predictive",
                regulation=regulation,
                settings=settings or {"name": name, "caller_id": "+15550000000"},
                pilot_limit=100,
            )
            .returning(Campaign.id)
        )
        return int(result.scalar_one())


async def add_contact(db: Database, campaign_id: int) -> int:
    async with db.transaction() as conn:
        result = await conn.execute(
            insert(Contact)
            .values(campaign_id=campaign_id, number=f"+1305{next(_numbers):07d}")
            .returning(Contact.id)
        )
        return int(result.scalar_one())


async def add_attempt(
    db: Database,
    campaign_id: int,
    *,
    outcome: str | None,
    originated_at: datetime | None = None,
    answered_at: datetime | None = None,
    queued_at: datetime | None = None,
    connected_at: datetime | None = None,
    ended_at: datetime | None = None,
    wrapup_ended_at: datetime | None = None,
    agent_id: str | None = None,
    disposition: str | None = None,
) -> uuid.UUID:
    contact_id = await add_contact(db, campaign_id)
    attempt_id = uuid.uuid4()
    async with db.transaction() as conn:
        await conn.execute(
            insert(CallAttempt).values(
                id=attempt_id,
                campaign_id=campaign_id,
                contact_id=contact_id,
                number="+13055550199",
                attempt_no=1,
                engine_id="test",
                originated_at=originated_at,
                answered_at=answered_at,
                queued_at=queued_at,
                connected_at=connected_at,
                ended_at=ended_at,
                wrapup_ended_at=wrapup_ended_at,
                outcome=outcome,
                agent_id=agent_id,
                disposition=disposition,
            )
        )
    return attempt_id


async def add_agent(db: Database, agent_id: str, name: str = "Agent") -> None:
    async with db.transaction() as conn:
        await conn.execute(insert(AgentRow).values(id=agent_id, name=name))


async def add_session(db: Database, agent_id: str, login_at: datetime, logout_at: datetime | None) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            insert(AgentSession).values(
                agent_id=agent_id, engine_id="test", login_at=login_at, logout_at=logout_at
            )
        )
