"""Agent dispositions: checked, stored, and announced to the engine that owns the call.

The CLI (`dialer disposition`) and the MQTT bus both come through `record_disposition`.
It refuses, with a machine-readable code, an unknown attempt, a call another agent
handled, a call that never reached an agent, a second disposition, and a code the
campaign does not offer. The engine applies the attempt policy when it hears the NOTIFY.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from dialer.agents import queries
from dialer.campaigns.definition import CampaignDefinition
from dialer.db.notify import DISPOSITION_CHANNEL
from dialer.errors import UserError


class DispositionError(UserError):
    """Refused; `code` is one of: unknown_attempt, wrong_agent, not_allowed,
    already_disposed, unknown_code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _check_agent(attempt_id: uuid.UUID, handled_by: str | None, agent_id: str | None) -> None:
    """Refuse (`wrong_agent`) an agent speaking for a call that is not his.

    `agent_id` is who speaks: the agent named by the MQTT topic the desktop published on
    (`dialer/agents/<agent_id>/...`), or `--agent` at the CLI; None is a supervisor at the
    CLI, who may disposition any call. `handled_by` is `call_attempts.agent_id`. An attempt
    that names no agent belongs to no desktop. This is the engine's own guard whatever the
    broker's ACL allows (defence in depth, and brokers run without one); preview answers
    use it too.
    """
    if agent_id is not None and handled_by != agent_id:
        raise DispositionError("wrong_agent", f"attempt {attempt_id} was handled by another agent")


async def record_disposition(
    tx: AsyncConnection,
    attempt_id: uuid.UUID,
    code: str,
    *,
    agent_id: str | None = None,
    callback_at: datetime | None = None,
    personal_callback: bool = False,
    note: str | None = None,
    by: str = "cli",
) -> str:
    """Check and store a disposition inside the caller's transaction (`Database.transaction()`):
    the attempt locked, the disposition, any callback and the NOTIFY commit together.
    Returns the code stored. Raises DispositionError."""
    from dialer.engine.rules import CampaignRules

    row = (await tx.execute(text(queries.ATTEMPT_FOR_DISPOSITION), {"attempt": attempt_id})).mappings().first()
    if row is None:
        raise DispositionError("unknown_attempt", f"no attempt {attempt_id}")
    if row["connected_at"] is None:
        raise DispositionError("not_allowed", f"attempt {attempt_id} never reached an agent")
    _check_agent(attempt_id, row["agent_id"], agent_id)
    if row["decided_at"] is not None or (row["disposition"] and row["disposition_by"] != "system"):
        raise DispositionError("already_disposed", f"attempt {attempt_id} already has a disposition")
    settings = row["settings"]
    if isinstance(settings, str):
        settings = json.loads(settings)
    rules = CampaignRules(CampaignDefinition.model_validate(settings))
    if code not in rules.dispositions:
        offered = ", ".join(sorted(d.code for d in rules.dispositions))
        raise DispositionError("unknown_code", f"unknown disposition {code!r} (offered: {offered})")
    flags = rules.dispositions[code].flags
    if flags.callback:
        if callback_at is None:
            raise DispositionError("not_allowed", f"{code} needs a callback time (--callback-at)")
        if callback_at.tzinfo is None:
            raise DispositionError("not_allowed", "the callback time needs a time zone")
        if callback_at <= datetime.now(UTC):
            raise DispositionError("not_allowed", "the callback time is in the past")
    elif callback_at is not None:
        raise DispositionError("not_allowed", f"{code} is not a callback disposition")
    await tx.execute(text(queries.SET_DISPOSITION), {"attempt": attempt_id, "code": code, "by": by, "note": note})
    if flags.callback and callback_at is not None:
        agent = agent_id or row["agent_id"] if personal_callback else None
        await tx.execute(text(queries.INSERT_CALLBACK), {
            "campaign_id": row["campaign_id"], "contact_id": row["contact_id"], "attempt": attempt_id,
            "agent": agent, "at": callback_at, "note": note,
        })
    await tx.execute(text(queries.NOTIFY), {"channel": DISPOSITION_CHANNEL, "payload": str(attempt_id)})
    return code
