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


def test_agent_groups_reach_the_campaigns_that_name_them(database_url: str, tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace('agents = ["1001", "1002", "1003", "1004", "1005"]',
                                       'agents = ["1001"]\nagent_groups = ["senior"]')
    grouped = tmp_path / "grouped.toml"
    grouped.write_text(text)
    assert dialer(database_url, "campaign", "apply", str(grouped)).exit_code == 0
    assert dialer(database_url, "agents", "add", "1042", "--name", "Ann").exit_code == 0
    listed = dialer(database_url, "agents", "list")
    assert "spring-renewals" not in listed.stdout

    async def notified() -> list[str]:
        """`agents group` notifies the engines running the campaigns using the group."""
        conn = await asyncpg.connect(database_url)
        heard: list[str] = []
        await conn.add_listener("dialer_campaign", lambda *args: heard.append(args[-1]))
        try:
            await asyncio.to_thread(dialer, database_url, "agents", "group", "1042", "senior", "key-accounts")
            await asyncio.sleep(0.3)
            return heard
        finally:
            await conn.close()

    heard = in_thread(lambda: asyncio.run(notified()))
    assert len(heard) == 1 and json.loads(heard[0])["state"] == "draft"
    listed = dialer(database_url, "agents", "list")
    row = next(line for line in listed.stdout.splitlines() if "1042" in line)
    assert "senior, key-accounts" in row and "spring-renewals" in row
    out = dialer(database_url, "agents", "group", "1042", "senior", "--remove")
    assert out.exit_code == 0 and "groups key-accounts" in out.stdout
    row = next(line for line in dialer(database_url, "agents", "list").stdout.splitlines() if "1042" in line)
    assert "spring-renewals" not in row
    bad = dialer(database_url, "agents", "group", "1042", "Key Accounts")
    assert bad.exit_code == 1 and "use lowercase" in bad.stderr
    missing = dialer(database_url, "agents", "group", "1099", "senior")
    assert missing.exit_code == 1 and "no agent 1099" in missing.stderr
