"""`dialer disposition`: every refusal is one line and nothing is stored; a good one is."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg

from tests.engine.harness import make_campaign, numbers
from tests.foundation.helpers import dialer


async def _attempt(url: str, connected: bool) -> str:
    conn = await asyncpg.connect(url)
    try:
        campaign_id, contact_id = await conn.fetchrow("SELECT campaign_id, id FROM contacts LIMIT 1")
        attempt_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO call_attempts (id, campaign_id, contact_id, number, attempt_no, engine_id,"
            " originated_at, answered_at, connected_at, ended_at, outcome, agent_id)"
            " VALUES ($1, $2, $3, '+12125550100', 1, 'e1', now(), now(),"
            " CASE WHEN $4 THEN now() END, now(), CASE WHEN $4 THEN 'answered' ELSE 'queue_hangup' END, '1001')",
            attempt_id, campaign_id, contact_id, connected,
        )
        return str(attempt_id)
    finally:
        await conn.close()


async def test_disposition_cli(database_url: str, tmp_path: Path) -> None:
    await make_campaign(database_url, tmp_path, numbers(2), start=False)
    good = await _attempt(database_url, True)
    never = await _attempt(database_url, False)

    def run(*args: str) -> tuple[int, str]:
        result = dialer(database_url, "disposition", *args)
        return result.exit_code, result.output

    cases = [
        ((str(uuid.uuid4()), "success"), "no attempt"),
        ((never, "success"), "never reached an agent"),
        ((good, "bogus"), "unknown disposition 'bogus' (offered:"),
        ((good, "callback"), "needs a callback time"),
        ((good, "callback", "--callback-at", "2020-01-01T10:00:00+00:00"), "in the past"),
        ((good, "callback", "--callback-at", "2030-01-01T10:00:00"), "--callback-at needs a time zone"),
        ((good, "success", "--agent", "1009"), "handled by another agent"),
        (("not-a-uuid", "success"), "is not an attempt id"),
    ]
    for args, message in cases:
        code, output = await asyncio.to_thread(run, *args)
        assert code == 1 and message in output, (args, output)
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM call_attempts WHERE disposition IS NOT NULL") == 0
        code, output = await asyncio.to_thread(
            run, good, "callback", "--callback-at", "2030-01-01T10:00:00-05:00", "--agent", "1001", "--personal")
        assert code == 0, output
        row = await conn.fetchrow("SELECT disposition, disposition_by FROM call_attempts WHERE id = $1",
                                  uuid.UUID(good))
        assert tuple(row) == ("callback", "1001")
        callback = await conn.fetchrow("SELECT agent_id, scheduled_at FROM callbacks")
        assert callback["agent_id"] == "1001" and callback["scheduled_at"].year == 2030
        code, output = await asyncio.to_thread(run, good, "success")
        assert code == 1 and "already has a disposition" in output
    finally:
        await conn.close()
