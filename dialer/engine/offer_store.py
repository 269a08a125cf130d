"""The preview offers' database side: offers made, timed out, settled, over the engine's pool.

Beside `store.EngineStore` (whose pool it uses) so that the claim and attempt code stays
one concept; the SQL is named in `queries` (the preview section). Each method is one
statement, or one transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from dialer.engine import queries as Q
from dialer.engine.store import ClaimedContact, EngineStore, claimed_contact


@dataclass(frozen=True)
class MadeOffer:
    offer_id: int
    offered_at: datetime
    expires_at: datetime


class OfferStore:
    def __init__(self, store: EngineStore) -> None:
        self.store = store

    @property
    def engine_id(self) -> str:
        return self.store.engine_id

    async def create(self, campaign_id: int, contact_id: int, agent_id: str, timeout_s: float) -> MadeOffer | None:
        """Offer a contact this engine holds to an agent; None when either has an open offer
        already (or the contact is no longer held)."""
        async with self.store.db.acquire() as conn, conn.transaction():
            await conn.execute(Q.EXPIRE_LEFTOVER_OFFERS, contact_id, self.engine_id, agent_id)
            row = await conn.fetchrow(Q.CREATE_OFFER, campaign_id, contact_id, agent_id, self.engine_id,
                                      float(timeout_s))
        return None if row is None else MadeOffer(row["id"], row["offered_at"], row["expires_at"])

    async def unsettled(self, campaign_id: int) -> list[asyncpg.Record]:
        return list(await self.store.db.fetch(Q.UNSETTLED_OFFERS, self.engine_id, campaign_id))

    async def time_out(self, offer_id: int, state: str) -> bool:
        """Decide an open offer past its time ('expired' or 'accepted'); False when the agent
        answered first."""
        return await self.store.db.fetchval(Q.TIME_OUT_OFFER, offer_id, state) is not None

    async def settle(self, offer_id: int, note: str | None = None) -> bool:
        """Take a decided offer in hand; True only for the one caller that does."""
        return await self.store.db.fetchval(Q.SETTLE_OFFER, offer_id, note) is not None

    async def record(self, offer_id: int, *, attempt_id: uuid.UUID | None = None, note: str | None = None) -> None:
        """The call an accepted offer gave, or why it gave none."""
        await self.store.db.execute(Q.SET_OFFER_OUTCOME, offer_id, attempt_id, note)

    async def reclaim(self, contact_id: int) -> ClaimedContact | None:
        """An offered contact held again after a restart, with its history; None if taken."""
        async with self.store.db.acquire() as conn:
            row = await conn.fetchrow(Q.RECLAIM_OFFERED_CONTACT, contact_id, self.engine_id)
            if row is None:
                return None
            contact = claimed_contact(row)
            await EngineStore._read_history(conn, [contact], datetime.now(UTC))
        return contact

    async def drop(self, offer_id: int, note: str) -> None:
        await self.store.db.execute(Q.DROP_OFFER, offer_id, note)

    async def recent_skips(self, campaign_id: int, within_s: float) -> set[tuple[str, int]]:
        rows = await self.store.db.fetch(Q.RECENT_SKIPS, campaign_id, float(within_s))
        return {(r["agent_id"], r["contact_id"]) for r in rows}
