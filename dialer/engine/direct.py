"""Agent-direct calls: a call placed for ONE chosen agent, not through the campaign queue.

The caller reserves the agent first (`dialer.engine.reservation.reserve_agent`), holds the
contact claimed (as the hopper's contacts are), then calls `dial_to_agent`. The attempt is
written as the runner writes its own (the campaign's rules again, the DNC check, the limits
re-read in the same transaction by `store.start_attempts`) with the agent on the row, the
Originate goes to `dialplan.AGENT_CONNECT_CONTEXT` with the agent id as extension, and the
call is tracked like any other (`CallTracker`, `Call.direct_agent`). The reservation is
released when the call ends, however it ends; when no call is placed, at once.
These calls are outside the campaign's pacing: the runner's snapshot does not count them.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from dialer.engine.reservation import hold_for, release_agent
from dialer.engine.runner import CampaignRunner
from dialer.engine.store import ClaimedContact, NewAttempt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DirectDial:
    """What `dial_to_agent` did: the attempt placed, or why none was (then the contact is
    handed back to the pool, or finished when the refusal never clears, as the runner does)."""

    attempt_id: str | None
    refused: str | None = None  # a RefusalReason value, "dnc", "claim_lost", "not_reserved", "stopping"


async def dial_to_agent(runner: CampaignRunner, contact: ClaimedContact, agent_id: str) -> DirectDial:
    """Place one call to `contact` for the reserved agent `agent_id` in `runner`'s campaign.

    Returns once the attempt is written (the Originate goes out in a side task); the call's
    end releases the agent.
    Every path that places no call releases the reservation and hands the contact back."""
    host = runner.host
    if host.membership.reserved.get(agent_id, "") is not None:  # not reserved, or already calling
        await runner.release([(contact.contact_id, None)])
        return DirectDial(None, "not_reserved")
    if host.stopping or not runner.dialling:
        await release_agent(host, agent_id)
        await runner.release([(contact.contact_id, None)])
        return DirectDial(None, "stopping")
    allowed, reason, not_before = runner.rules.may_dial(contact, datetime.now(UTC))
    if not allowed:
        await release_agent(host, agent_id)
        await runner.put_back([(contact.contact_id, reason.value, not_before)])
        return DirectDial(None, reason.value)
    attempt = NewAttempt(uuid.uuid4(), contact)
    try:
        skipped = await host.store.start_attempts(runner.id, [attempt], runner.rules.may_dial)
    except BaseException:
        await release_agent(host, agent_id)
        raise
    why = skipped.get(contact.contact_id)
    if why is not None:  # start_attempts already blocked, released or finished the contact
        await release_agent(host, agent_id)
        return DirectDial(None, why)
    attempt_id = str(attempt.attempt_id)
    hold_for(host, agent_id, attempt_id)
    runner.pilot_done += 1
    log.info("campaign %s: attempt %s placed for agent %s", runner.name, attempt_id, agent_id)
    host.spawn(_place(runner, attempt, agent_id))
    return DirectDial(attempt_id)


async def _place(runner: CampaignRunner, attempt: NewAttempt, agent_id: str) -> None:
    """The Originate and its response (the call's end releases the agent)."""
    attempt_id = str(attempt.attempt_id)
    try:
        await runner.originate(attempt, agent_id=agent_id)
    finally:
        if attempt_id not in runner.host.calls:
            # Never sent (AMI down: the attempt was undone) or already over: free him now.
            await release_agent(runner.host, agent_id, attempt_id)
