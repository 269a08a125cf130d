"""Queue membership follows agent login: an agent is a member of his campaigns' queues
only while logged in to the agent pool.

An agent whose softphone hangs up is logged off (AgentLogoff) but stays a member shown
Unavailable (Status 5) until QueueRemove; so on AgentLogoff he is removed from this
engine's campaign queues, and on AgentLogin added back to the queues of the campaigns he
is assigned to (by name, or through one of his agent groups). After every (re)connect the `Agents` action says who is logged in
(AGENT_IDLE, AGENT_ONCALL; AGENT_LOGGEDOFF is not): only those are added.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ami.events import AgentLogin, AgentLogoff, Event
from dialer.engine.ports import RunnerHost
from dialer.engine.runner import CampaignRunner

log = logging.getLogger(__name__)

LOGGED_IN = frozenset({"AGENT_IDLE", "AGENT_ONCALL"})


class Membership:
    def __init__(self, host: RunnerHost, runners: Mapping[int, CampaignRunner]) -> None:
        self.host = host  # the engine's AMI client, agents and side tasks
        self.runners = runners  # this engine's campaigns (the engine's own dict)
        # Agents logged in to the pool; None until Asterisk has said (then nobody is held back).
        self.logged_in: set[str] | None = None
        # Pauses asked for (agent -> reason), until unpaused: an agent paused while logged
        # off, or paused and then logged in again, joins his queues paused.
        self.paused: dict[str, str | None] = {}
        # Agents reserved for an agent-direct call (dialer.engine.reservation) -> attempt id.
        self.reserved: dict[str, str | None] = {}
        # Released agents still paused "reserved" in Asterisk (AMI was down at release).
        self.unrestored: set[str] = set()

    def may_join(self, agent_id: str) -> bool:
        return self.logged_in is None or agent_id in self.logged_in

    async def refresh(self) -> None:
        """Ask Asterisk who is logged in (after every connect, before members are added)."""
        client = self.host.ami
        if client is None or not client.logged_in:  # refresh runs inside the resync hook
            return
        try:
            items = await client.agents()
        except Exception as exc:  # noqa: BLE001 - without the agent pool: every assigned agent joins
            log.warning("could not list logged-in agents (%s): adding every assigned agent", exc)
            self.logged_in = None
            return
        self.logged_in = {a["Agent"] for a in items if a.get("Agent") and a.get("Status") in LOGGED_IN}

    def on_event(self, event: Event) -> None:
        """AgentLogin / AgentLogoff: join or leave the queues (the AMI actions run aside)."""
        if isinstance(event, AgentLogin | AgentLogoff) and event.agent:
            if isinstance(event, AgentLogin):
                self._login(event.agent)
            else:
                self._logoff(event.agent)

    def _login(self, agent_id: str) -> None:
        if self.logged_in is not None:
            self.logged_in.add(agent_id)
        runners = [r for r in self.runners.values() if r.serves(agent_id)]
        log.info("agent %s logged in: joins %d campaign queues", agent_id, len(runners))
        for runner in runners:
            self.host.spawn(runner.add_members())

    def _logoff(self, agent_id: str) -> None:
        if self.logged_in is not None:
            self.logged_in.discard(agent_id)
        runners = self._queues_of(agent_id)
        log.info("agent %s logged off: leaves %d campaign queues", agent_id, len(runners))
        for runner in runners:
            self.host.spawn(runner.remove_members({agent_id}, reason="logged off"))

    def _queues_of(self, agent_id: str) -> list[CampaignRunner]:
        """This engine's campaigns the agent is assigned to or is a member of."""
        agent = self.host.agents.agents.get(agent_id)
        queues = agent.queues if agent is not None else set()
        return [r for r in self.runners.values() if r.serves(agent_id) or r.queue in queues]
