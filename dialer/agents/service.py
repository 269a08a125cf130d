"""Agents and their campaigns: `dialer agents list|add|remove`.

A campaign's agents are part of its definition (`agents = [...]`); assigning one here edits
that list, audits it and notifies running engines, which add the agent to the queue.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from dialer.agents import queries
from dialer.campaigns.definition import CampaignDefinition
from dialer.db.database import Database
from dialer.db.notify import AGENT_CHANNEL, CAMPAIGN_CHANNEL
from dialer.errors import UserError, unknown_campaign


def _check_id(agent_id: str) -> None:
    if not agent_id.isdigit() or not 2 <= len(agent_id) <= 10:
        raise UserError(f"agent id {agent_id!r} must be the agent's number, e.g. 1001")


async def list_agents(db: Database) -> list[dict[str, Any]]:
    async with db.transaction() as tx:
        return [dict(r) for r in (await tx.execute(text(queries.LIST_AGENTS))).mappings()]


async def assign(db: Database, agent_id: str, name: str | None, campaigns: list[str], by: str, remove: bool = False) -> None:
    _check_id(agent_id)
    async with db.transaction() as tx:
        if not remove:
            await tx.execute(text(queries.UPSERT_AGENT),
                             {"agent": agent_id, "name": name or f"Agent {agent_id}", "new_name": name})
        elif not (await tx.execute(text(queries.AGENT_EXISTS), {"agent": agent_id})).scalar():
            raise UserError(f"no agent {agent_id}")
        for campaign in campaigns:
            row = (await tx.execute(text(queries.CAMPAIGN_FOR_UPDATE), {"name": campaign})).mappings().first()
            if row is None:
                raise UserError(unknown_campaign(campaign))
            settings = row["settings"] if isinstance(row["settings"], dict) else json.loads(row["settings"])
            agents = list(settings.get("agents", []))
            if remove == (agent_id not in agents):
                continue  # already as asked
            agents = [a for a in agents if a != agent_id] if remove else [*agents, agent_id]
            definition = CampaignDefinition.model_validate({**settings, "agents": agents})
            await tx.execute(
                text(queries.UPDATE_CAMPAIGN_SETTINGS),
                {"id": row["id"], "settings": json.dumps(definition.model_dump(mode="json"))},
            )
            note = f"agent {agent_id} {'removed' if remove else 'assigned'}"
            await tx.execute(text(queries.INSERT_STATE_CHANGE),
                             {"id": row["id"], "state": row["state"], "by": by, "note": note})
            await tx.execute(text(queries.NOTIFY), {
                "channel": CAMPAIGN_CHANNEL,
                "payload": json.dumps({"campaign_id": row["id"], "state": row["state"]}),
            })


async def pause(db: Database, agent_id: str, paused: bool, reason: str | None) -> None:
    """Ask the engines to pause (with a reason: break, meeting, training) or unpause an agent."""
    _check_id(agent_id)
    async with db.transaction() as tx:
        if not (await tx.execute(text(queries.AGENT_EXISTS), {"agent": agent_id})).scalar():
            raise UserError(f"no agent {agent_id} (see `dialer agents list`)")
        await tx.execute(text(queries.NOTIFY), {
            "channel": AGENT_CHANNEL,
            "payload": json.dumps({"agent": agent_id, "paused": paused, "reason": reason}),
        })
