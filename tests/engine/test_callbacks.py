"""A callback booked on a contact's last allowed attempt is still dialled, once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from dialer.engine.rules import CampaignRules
from dialer.engine.store import EngineStore, NewAttempt
from tests.engine.harness import definition, make_campaign, numbers


async def test_due_callback_bypasses_attempt_limits(database_url: str, tmp_path: Path) -> None:
    await make_campaign(database_url, tmp_path, numbers(2))  # max_attempts 1 per the harness
    conn = await asyncpg.connect(database_url)
    try:
        campaign_id = await conn.fetchval("SELECT id FROM campaigns")
        # both contacts used their one attempt an hour ago; only the first booked a callback
        await conn.execute("UPDATE contacts SET attempts = 1, last_attempt_at = now() - interval '1 hour'")
        first, second = [r["id"] for r in await conn.fetch("SELECT id FROM contacts ORDER BY id")]
        await conn.execute(
            "INSERT INTO callbacks (campaign_id, contact_id, scheduled_at) VALUES ($1, $2, $3)",
            campaign_id, first, datetime.now(UTC) - timedelta(seconds=5),
        )
        store = EngineStore(database_url, "cb")
        await store.open()
        try:
            claimed = {c.contact_id: c for c in await store.claim(campaign_id, 10)}
            rules = CampaignRules(definition())
            now = datetime.now(UTC)
            allowed, _, _ = rules.may_dial(claimed[first], now)
            refused, reason, _ = rules.may_dial(claimed[second], now)
            assert claimed[first].callback_due and allowed
            assert not claimed[second].callback_due and not refused and reason.value == "max_attempts_total"
            await store.start_attempts(campaign_id, [NewAttempt(uuid.uuid4(), claimed[first])])
        finally:
            await store.close()
        assert await conn.fetchval("SELECT done_at IS NOT NULL FROM callbacks") is True
    finally:
        await conn.close()
