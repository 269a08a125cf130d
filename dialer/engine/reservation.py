"""Reserving an agent for a call placed to him alone (an agent-direct call).

A reserved agent is paused in every queue he is a member of (QueuePause, no queue, reason
`RESERVED_REASON`), so no campaign queue call reaches him, and `membership.reserved` holds
him, so no second agent-direct call is placed to him. The reservation lasts until his call
ends, however it ends (`on_call_ended`), or is released by whoever took it; `release_all`
ends every one when the engine stops.

His pause is the operator's and his own (`membership.paused`, set by `dialer agent pause`):
it is never lost. While he is reserved a pause or an unpause is only recorded (Control does
not send it); at release he is paused again with that reason, or unpaused when none is asked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from ami import dialplan
from ami.client import ActionFailed
from dialer.engine.agents import MEMBER_NOT_IN_USE, AgentState
from dialer.engine.call_life import Call
from dialer.engine.ports import RunnerHost

log = logging.getLogger(__name__)

RESERVED_REASON = "reserved"
# How long the events before QueuePause's response may take to reach the trackers before the
# reservation gives up (the engine's event loop is stalled or failing).
EVENTS_APPLIED_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Reservation:
    agent_id: str
    purpose: str  # what for (e.g. "callback", "preview"): for the logs


def _busy(host: RunnerHost, agent_id: str) -> bool:
    """Logged off, on a call or wrapping up, or offered a queue call: app_queue sends
    AgentCalled and member Status 2 (in use) before AgentConnect, and that call may have
    been given to him just before the pause took effect. Any status but "not in use" on a
    ready agent says so (his login's own status 5 has made him logged off already)."""
    agent = host.agents.agents.get(agent_id)
    if agent is None or agent.state not in (AgentState.READY, AgentState.PAUSED) or agent.on_call:
        return True
    return bool(agent.queues) and agent.member_status not in (None, MEMBER_NOT_IN_USE)


async def reserve_agent(host: RunnerHost, agent_id: str, purpose: str = "direct") -> Reservation | None:
    """Reserve a READY agent; None when he is not ready (logged off, paused, on a call,
    wrapping up), already reserved, or Asterisk cannot be told (AMI down)."""
    reserved = host.membership.reserved
    agent = host.agents.agents.get(agent_id)
    client = host.ami
    if agent_id in reserved or agent is None or agent.state is not AgentState.READY:
        return None
    if client is None or not client.connected:
        return None
    reserved[agent_id] = None  # held from now: no second reservation while QueuePause runs
    if agent.queues:
        try:
            await client.queue_pause(dialplan.agent_interface(agent_id), True, reason=RESERVED_REASON)
        except Exception as exc:  # noqa: BLE001 - not paused: not reserved
            log.warning("could not reserve agent %s: %s", agent_id, exc)
            reserved.pop(agent_id, None)
            await _restore(host, agent_id)
            return None
    try:  # the events that came before the pause's response, applied first
        await asyncio.wait_for(host.events_applied(), EVENTS_APPLIED_TIMEOUT_S)
    except TimeoutError:
        log.warning("could not reserve agent %s: AMI events are not being applied", agent_id)
        await release_agent(host, agent_id)
        return None
    if _busy(host, agent_id):  # a queue call reached him before the pause took effect
        await release_agent(host, agent_id)
        return None
    log.info("agent %s reserved (%s)", agent_id, purpose)
    return Reservation(agent_id, purpose)


def hold_for(host: RunnerHost, agent_id: str, attempt_id: str) -> None:
    """The reservation now belongs to the call `attempt_id`: released when that call ends."""
    host.membership.reserved[agent_id] = attempt_id


async def release_agent(host: RunnerHost, agent_id: str, attempt_id: str | None = None) -> bool:
    """End the agent's reservation (only if it is held for `attempt_id`, when given) and give
    him back his own pause state. Idempotent; False when there was nothing to release."""
    reserved = host.membership.reserved
    if agent_id not in reserved or (attempt_id is not None and reserved[agent_id] != attempt_id):
        return False
    del reserved[agent_id]
    await _restore(host, agent_id)
    log.info("agent %s released", agent_id)
    return True


async def _restore(host: RunnerHost, agent_id: str) -> None:
    """Pause him again with the pause asked for, or unpause him: his queues see him as before."""
    agent = host.agents.agents.get(agent_id)
    client = host.ami
    unrestored = host.membership.unrestored
    if agent is None or not agent.queues:
        unrestored.discard(agent_id)
        return  # he joins his queues with membership.paused when he (re)joins them
    if client is None or not client.connected:
        unrestored.add(agent_id)  # still paused "reserved" in Asterisk: retried (retry_restores)
        return
    paused = agent_id in host.membership.paused
    try:
        await client.queue_pause(dialplan.agent_interface(agent_id), paused,
                                 reason=host.membership.paused.get(agent_id))
        unrestored.discard(agent_id)
    except ActionFailed as exc:  # e.g. he logged off meanwhile and left his queues
        unrestored.discard(agent_id)
        log.info("could not give agent %s back his pause state: %s", agent_id, exc)
    except Exception as exc:  # noqa: BLE001 - AMI down: retried
        unrestored.add(agent_id)
        log.warning("could not give agent %s back his pause state (retried): %s", agent_id, exc)


async def retry_restores(host: RunnerHost) -> None:
    """Released agents whose pause state could not be given back (AMI was down): again."""
    for agent_id in list(host.membership.unrestored):
        if agent_id not in host.membership.reserved:
            await _restore(host, agent_id)


def on_call_ended(host: RunnerHost, call: Call) -> None:
    """Any ending of an agent-direct call (answered or not, failed, engine stop) frees him."""
    if call.direct_agent is not None and call.connected_at is not None:
        host.agents.direct_call_over(call.direct_agent, time.monotonic())
    if call.direct_agent is not None and host.membership.reserved.get(call.direct_agent) == call.attempt_id:
        host.spawn(release_agent(host, call.direct_agent, call.attempt_id))


async def release_all(host: RunnerHost) -> None:
    """The engine stops: every reservation ends."""
    for agent_id in list(host.membership.reserved):
        await release_agent(host, agent_id)
