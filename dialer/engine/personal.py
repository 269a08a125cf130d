"""Personal callbacks: a callback an agent booked for himself is dialled for him alone.

About once a second per dialling campaign: each due personal callback (callbacks.agent_id
set, scheduled_at passed) whose agent is logged in and ready is dialled for him as an
agent-direct call (`dialer.engine.direct`): its contact claimed, the campaign's rules
checked, the agent reserved, then `dial_to_agent` (which writes the attempt with the DNC
check and the limits, and marks the callback done). These calls are outside the pacing
count (one call per reserved agent) and never wait in the hopper: the claim query leaves
such contacts to this module (`queries.CLAIM_CONTACTS`).

While the agent is busy, paused or logged off the callback waits, up to the campaign's
`callback_grace_min` after its booked time. Then `callback_fallback`:
- "pool": nothing more here; the campaign's hopper claims the contact and the queue gives
  it to any agent (still a due callback: its attempt limits do not apply).
- "reschedule": booked again for the same agent, the next day at the same local time (in
  the contact's time zone; the calling window applies when it is dialled).
A callback due while the calling window is closed is moved to the window's opening (its
grace starts then), so a callback booked for a closed hour is not lost to the fallback.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from compliance.reasons import Reason
from dialer.engine.agents import AgentState
from dialer.engine.direct import dial_to_agent
from dialer.engine.ports import RunnerHost
from dialer.engine.reservation import release_agent, reserve_agent, retry_restores
from dialer.engine.runner import CampaignRunner

log = logging.getLogger(__name__)

CHECK_S = 1.0  # how often a campaign's due personal callbacks are read
BATCH = 50


def next_day_same_time(booked: datetime, zone: str | None, now: datetime) -> datetime:
    """The first day after `booked` (and after `now`) at the same local wall-clock time."""
    tz: tzinfo = UTC
    if zone:
        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            tz = UTC
    local = booked.astimezone(tz)
    days = 1
    while True:
        # Wall-clock arithmetic (naive), then the zone again: the same local time across DST.
        at = (local.replace(tzinfo=None) + timedelta(days=days)).replace(tzinfo=tz).astimezone(UTC)
        if at > now:
            return at
        days += 1


class PersonalCallbacks:
    """The engine's personal callbacks, campaign by campaign (`tick` from the tick loop)."""

    def __init__(self, host: RunnerHost) -> None:
        self.host = host
        self._checked: dict[int, float] = {}  # campaign id -> engine clock of the last read

    async def tick(self, runner: CampaignRunner, now_mono: float) -> None:
        host = self.host
        client = host.ami
        if not runner.dialling or host.stopping or client is None or not client.connected:
            return
        last = self._checked.get(runner.id)
        if last is not None and now_mono - last < CHECK_S:
            return
        self._checked[runner.id] = now_mono
        await retry_restores(host)
        for due in await host.store.personal_callbacks_due(runner.id, BATCH):
            await self._one(runner, due["id"], due["contact_id"], due["agent_id"], due["scheduled_at"],
                            due["timezone"])

    async def _one(self, runner: CampaignRunner, callback_id: int, contact_id: int, agent_id: str,
                   booked: datetime, zone: str | None) -> None:
        host, definition = self.host, runner.definition
        now = datetime.now(UTC)
        if now - booked > timedelta(minutes=definition.callback_grace_min):
            if definition.callback_fallback == "reschedule":
                at = next_day_same_time(booked, zone, now)
                await host.store.reschedule_callback(callback_id, at, f"agent {agent_id} not ready in time: rebooked")
                log.info("campaign %s: personal callback %d rebooked for agent %s", runner.name, callback_id, agent_id)
            return  # "pool": the hopper may claim the contact now
        agent = host.agents.agents.get(agent_id)
        if agent is None or agent.state is not AgentState.READY or agent_id in host.membership.reserved:
            return  # waits for him within the grace
        claimed = await host.store.claim(runner.id, 1, [contact_id])
        if not claimed:
            return  # claimed by someone else meanwhile
        contact = claimed[0]
        allowed, reason, not_before = runner.rules.may_dial(contact, now)
        if not allowed:
            if not_before is not None and reason is Reason.OUTSIDE_WINDOW:
                # Not callable now: due again when the window opens, with a fresh grace.
                await host.store.reschedule_callback(callback_id, not_before, "due when the calling window opens")
            await runner.put_back([(contact_id, reason.value, not_before)])
            return
        if await reserve_agent(host, agent_id, "callback") is None:
            await runner.release([(contact_id, None)])
            return
        placed = await dial_to_agent(runner, contact, agent_id)
        if placed.attempt_id is None:
            await release_agent(host, agent_id)  # dial_to_agent did; harmless if so
            log.info("campaign %s: personal callback %d not dialled: %s", runner.name, callback_id, placed.refused)
