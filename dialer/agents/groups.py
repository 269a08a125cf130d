"""Agent groups (skills: junior, senior, key accounts...): `dialer agents group`.

An agent belongs to any number of groups (agents.groups); a campaign naming a group in its
`agent_groups` is worked by every member of it, beside the agents it names. A change here
notifies the engines running those campaigns, which add or remove the agent from their
queues at once (they also re-read the members every few seconds).
"""

from __future__ import annotations

import json

from sqlalchemy import text

from dialer.agents import queries
from dialer.campaigns.definition import GROUP_NAME
from dialer.db.database import Database
from dialer.db.notify import CAMPAIGN_CHANNEL
from dialer.errors import UserError


def check_groups(groups: list[str]) -> None:
    for group in groups:
        if not GROUP_NAME.match(group):
            raise UserError(f"group {group!r}: use lowercase letters, digits, '-' or '_', at most 32 characters")


async def change_groups(db: Database, agent_id: str, groups: list[str], *, remove: bool = False) -> list[str]:
    """Add the agent to `groups` (or take him out); his groups afterwards."""
    check_groups(groups)
    async with db.transaction() as tx:
        current = (await tx.execute(text(queries.AGENT_GROUPS_FOR_UPDATE), {"agent": agent_id})).first()
        if current is None:
            raise UserError(f"no agent {agent_id} (add him first: `dialer agents add {agent_id}`)")
        before = list(current[0] or [])
        after = [g for g in before if g not in groups] if remove else list(dict.fromkeys([*before, *groups]))
        if after == before:
            return after
        await tx.execute(text(queries.SET_AGENT_GROUPS), {"agent": agent_id, "groups": after})
        changed = sorted(set(before) ^ set(after))
        rows = (await tx.execute(text(queries.CAMPAIGNS_USING_GROUPS), {"groups": changed})).mappings().all()
        for row in rows:
            await tx.execute(text(queries.NOTIFY), {
                "channel": CAMPAIGN_CHANNEL,
                "payload": json.dumps({"campaign_id": row["id"], "state": row["state"]}),
            })
        return after
