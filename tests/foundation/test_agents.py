from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg

from tests.conftest import in_thread
from tests.foundation.helpers import dialer

EXAMPLE = Path(__file__).parents[2] / "examples" / "campaign.toml"


def test_assign_and_remove_agents(database_url: str) -> None:
    assert dialer(database_url, "campaign", "apply", str(EXAMPLE)).exit_code == 0
    empty = dialer(database_url, "agents", "list")
    assert "no agents yet" in empty.stdout
    added = dialer(database_url, "agents", "add", "1042", "--name", "Ann", "--campaign", "spring-renewals")
    assert added.exit_code == 0, added.output
    listed = dialer(database_url, "agents", "list")
    assert "1042" in listed.stdout and "Ann" in listed.stdout and "spring-renewals" in listed.stdout

    async def settings() -> dict:  # type: ignore[type-arg]
        conn = await asyncpg.connect(database_url)
        try:
            return json.loads(await conn.fetchval("SELECT settings::text FROM campaigns"))
        finally:
            await conn.close()

    assert "1042" in in_thread(lambda: asyncio.run(settings()))["agents"]
    shown = dialer(database_url, "campaign", "show", "spring-renewals")
    assert "agent 1042 assigned" in shown.stdout
    removed = dialer(database_url, "agents", "remove", "1042", "--campaign", "spring-renewals")
    assert removed.exit_code == 0
    assert "1042" not in in_thread(lambda: asyncio.run(settings()))["agents"]
    bad = dialer(database_url, "agents", "add", "ann")
    assert bad.exit_code == 1 and "must be the agent's number" in bad.stderr
    missing = dialer(database_url, "agents", "add", "1043", "--campaign", "nope")
    assert missing.exit_code == 1 and "no campaign named 'nope'" in missing.stderr
