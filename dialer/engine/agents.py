"""Agent tracking from AMI events. No I/O here.

Availability comes from queue member status, not from `Agents`: after AgentLogin the
member stays Status 5 for a few seconds, and during wrap-up `Agents` says AGENT_IDLE while
the member is Status 2 until wrap-up ends (no event marks it). So: AgentConnect puts an
agent on a call, AgentComplete starts wrap-up, and member Status 1 (not in use) ends it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from ami import dialplan
from ami.events import (
    AgentComplete,
    AgentConnect,
    AgentLogin,
    AgentLogoff,
    Event,
    QueueMemberAdded,
    QueueMemberPause,
    QueueMemberRemoved,
    QueueMemberStatus,
)


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    PAUSED = "paused"  # not ready, with a reason (break, meeting, training)
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"  # after-call work


MEMBER_NOT_IN_USE = 1
MEMBER_UNAVAILABLE = 5
MEMBER_INVALID = 4


@dataclass
class Agent:
    agent_id: str
    logged_in: bool = False
    member_status: int | None = None
    paused: bool = False
    pause_reason: str | None = None
    on_call: bool = False
    in_wrap: bool = False
    state: AgentState = AgentState.LOGGED_OUT
    since: float = 0.0  # engine clock when the state began
    queues: set[str] = field(default_factory=set)
    attempt_id: str | None = None  # the call the agent is on, or wrapping up

    def derive(self) -> AgentState:
        if not self.logged_in and self.member_status in (None, MEMBER_UNAVAILABLE, MEMBER_INVALID):
            return AgentState.LOGGED_OUT
        if self.on_call:
            return AgentState.ON_CALL
        if self.in_wrap:
            return AgentState.WRAP_UP
        if self.paused:
            return AgentState.PAUSED
        if self.member_status in (MEMBER_UNAVAILABLE, MEMBER_INVALID):
            return AgentState.LOGGED_OUT
        return AgentState.READY


@dataclass(frozen=True)
class AgentStateChange:
    agent_id: str
    state: AgentState
    reason: str | None
    at: datetime
    previous: AgentState


class AgentTracker:
    def __init__(self) -> None:
        self.agents: dict[str, Agent] = {}
        self.changes: list[AgentStateChange] = []  # drained by the engine's writer
        self.wrap_ended: list[tuple[str, datetime]] = []  # (attempt id, when wrap-up ended)
        # (queues, seconds) of each wrap-up that ended with the agent ready or paused (not
        # cut short by a logoff): the engine feeds them to its campaigns' estimators.
        self.wrap_times: list[tuple[frozenset[str], float]] = []

    def agent(self, agent_id: str) -> Agent:
        found = self.agents.get(agent_id)
        if found is None:
            found = self.agents[agent_id] = Agent(agent_id)
        return found

    def _agent_of(self, interface: str | None, member_name: str | None) -> Agent | None:
        agent_id = dialplan.agent_from_interface(interface or "")
        if agent_id is None and member_name and member_name.startswith("Agent/"):
            agent_id = member_name[len("Agent/"):]
        return self.agent(agent_id) if agent_id else None

    def on_event(self, event: Event, now: float) -> None:
        if isinstance(event, AgentLogin | AgentLogoff):
            if event.agent:
                login = self.agent(event.agent)
                login.logged_in = isinstance(event, AgentLogin)
                if not login.logged_in:
                    # His Agent: device is unavailable now. Say so here: when the engine's
                    # QueueRemove wins the race with the device-state change, app_queue
                    # never sends the member's "Status: 5" and the last status seen is stale.
                    login.on_call = login.in_wrap = False
                    login.member_status = MEMBER_UNAVAILABLE
                self._update(login, now)
            return
        if isinstance(event, QueueMemberStatus | QueueMemberAdded | QueueMemberPause | QueueMemberRemoved):
            agent = self._agent_of(event.interface, event.member_name)
            if agent is None:
                return
            if isinstance(event, QueueMemberRemoved):
                agent.queues.discard(event.queue or "")
            else:
                if event.queue:
                    agent.queues.add(event.queue)
                if event.status is not None:
                    agent.member_status = event.status
                    if event.status == MEMBER_NOT_IN_USE:
                        agent.in_wrap = False  # wrap-up over (Status 2 -> 1)
                        agent.on_call = False
                if event.get("Paused") is not None:
                    agent.paused = event.paused
                    agent.pause_reason = event.paused_reason or None if agent.paused else None
            self._update(agent, now)
            return
        if isinstance(event, AgentConnect):
            agent = self._agent_of(event.interface, event.member_name)
            if agent is not None:
                agent.on_call, agent.in_wrap = True, False
                agent.attempt_id = event.uniqueid or event.linkedid
                self._update(agent, now)
            return
        if isinstance(event, AgentComplete):
            agent = self._agent_of(event.interface, event.member_name)
            if agent is not None:
                agent.on_call = False
                # An agent whose own channel hung up is logged off; otherwise wrap-up.
                agent.in_wrap = event.reason != "agent" and agent.member_status != MEMBER_NOT_IN_USE
                self._update(agent, now)

    def direct_call(self, agent_id: str, attempt_id: str, now: float) -> None:
        """An agent-direct call connected him (no AgentConnect: app_queue is not involved)."""
        agent = self.agent(agent_id)
        agent.on_call, agent.in_wrap = True, False
        agent.attempt_id = attempt_id
        self._update(agent, now)

    def direct_call_over(self, agent_id: str, now: float) -> None:
        """His agent-direct call ended: wrap-up, until his member status says not in use
        (an agent in no queue has no such status: ready at once)."""
        agent = self.agent(agent_id)
        if not agent.on_call:
            return
        agent.on_call = False
        agent.in_wrap = agent.logged_in and bool(agent.queues) and agent.member_status != MEMBER_NOT_IN_USE
        self._update(agent, now)

    def resync_member(self, agent_id: str, queue: str, status: int | None, paused: bool,
                      reason: str | None, now: float) -> None:
        """A QueueStatus member item after a (re)connect."""
        agent = self.agent(agent_id)
        agent.queues.add(queue)
        agent.member_status = status
        agent.paused = paused
        agent.pause_reason = reason if paused else None
        agent.logged_in = status not in (None, MEMBER_UNAVAILABLE, MEMBER_INVALID)
        if status == MEMBER_NOT_IN_USE:
            agent.on_call = agent.in_wrap = False
        self._update(agent, now)

    def _update(self, agent: Agent, now: float) -> None:
        state = agent.derive()
        if state is not agent.state:
            if agent.state is AgentState.WRAP_UP and agent.attempt_id:
                self.wrap_ended.append((agent.attempt_id, datetime.now(UTC)))
            if agent.state is AgentState.WRAP_UP and state in (AgentState.READY, AgentState.PAUSED):
                self.wrap_times.append((frozenset(agent.queues), max(0.0, now - agent.since)))
            self.changes.append(AgentStateChange(
                agent.agent_id, state, agent.pause_reason if state is AgentState.PAUSED else None,
                datetime.now(UTC), agent.state,
            ))
            agent.state = state
            agent.since = now
            if state in (AgentState.READY, AgentState.LOGGED_OUT):
                agent.attempt_id = None

    def in_queue(self, queue: str) -> list[Agent]:
        return [a for a in self.agents.values() if queue in a.queues]

    def counts(self, queue: str | None = None) -> Counter[AgentState]:
        agents = self.agents.values() if queue is None else self.in_queue(queue)
        return Counter(agent.state for agent in agents)

    def drain_changes(self) -> list[AgentStateChange]:
        changes, self.changes = self.changes, []
        return changes
