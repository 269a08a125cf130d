"""Preview offers as agents answer them: accept, skip, more time; and the offer to show.

The CLI (`dialer preview ...`) and the MQTT bus both come through `decide_offer`. It
refuses, with a machine-readable code, an agent with no open offer, an unknown offer, an
offer made to another agent, one already decided or past its time, and more time beyond
the campaign's `preview.max_more_time`. The decision is stored with a NOTIFY in the same
transaction; the engine that made the offer acts on it (`dialer.engine.preview`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from dialer.agents import queries
from dialer.campaigns.preview import PreviewSettings
from dialer.db.notify import PREVIEW_CHANNEL
from dialer.errors import UserError

OfferAction = Literal["accept", "skip", "more_time"]
ACTIONS: tuple[OfferAction, ...] = ("accept", "skip", "more_time")
_STATES = {"accept": "accepted", "skip": "skipped"}


class OfferError(UserError):
    """Refused; `code` is one of: no_offer, unknown_offer, wrong_agent, already_decided,
    expired, no_more_time, malformed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


async def agent_offer(tx: AsyncConnection, agent_id: str) -> Mapping[str, Any] | None:
    """The agent's open offer, else his latest one (None: he was never offered a contact)."""
    row = (await tx.execute(text(queries.AGENT_OFFER), {"agent": agent_id})).mappings().first()
    return None if row is None else dict(row)


async def decide_offer(
    tx: AsyncConnection, agent_id: str, action: str, *, offer_id: int | None = None, by: str = "cli",
) -> Mapping[str, Any]:
    """Check and store an agent's answer inside the caller's transaction; the NOTIFY commits
    with it. Returns the offer's id, state and expiry. Raises OfferError."""
    if action not in ACTIONS:
        raise OfferError("malformed", f"action must be one of {', '.join(ACTIONS)}")
    row = (await tx.execute(text(queries.OFFER_FOR_DECISION), {"offer": offer_id, "agent": agent_id})
           ).mappings().first()
    if row is None:
        if offer_id is not None:
            raise OfferError("unknown_offer", f"no offer {offer_id}")
        raise OfferError("no_offer", f"agent {agent_id} has no open offer")
    if row["agent_id"] != agent_id:
        raise OfferError("wrong_agent", f"offer {row['id']} was made to another agent")
    if row["state"] != "offered":
        raise OfferError("already_decided", f"offer {row['id']} is already {row['state']}")
    if row["past"]:
        raise OfferError("expired", f"offer {row['id']} has expired")
    params: dict[str, Any] = {"offer": row["id"]}
    if action == "more_time":
        settings = _preview_settings(row["preview"])
        if row["more_time"] >= settings.max_more_time:
            raise OfferError("no_more_time",
                             f"offer {row['id']}: no more time left (at most {settings.max_more_time} times)")
        params.update(seconds=float(settings.more_time_s), max=settings.max_more_time)
        statement = queries.EXTEND_OFFER
    else:
        params.update(state=_STATES[action], by=by)
        statement = queries.DECIDE_OFFER
    done = (await tx.execute(text(statement), params)).mappings().first()
    if done is None:  # the row is locked: only the clock can have moved on
        raise OfferError("expired", f"offer {row['id']} has expired")
    await tx.execute(text(queries.NOTIFY), {"channel": PREVIEW_CHANNEL, "payload": str(row["id"])})
    return dict(done)


def _preview_settings(value: Any) -> PreviewSettings:
    if isinstance(value, str):
        value = json.loads(value)
    return PreviewSettings.model_validate(value or {})
