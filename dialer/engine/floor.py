"""The engine's floor: its agents shared among its campaigns, apportioned before each decides.

The agents on one Asterisk are one pool, whatever campaign's queue they sit in; every
campaign runner paces from its share (`pacing.floor.share_floor`), which counts the calls
in flight of every campaign that may claim the same agents. Built from the trackers: an
agent serves the campaigns whose queues he is a member of; paused and logged-out agents
are not on the floor.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from dialer.engine.agents import AgentState, AgentTracker
from dialer.engine.call_life import Phase
from dialer.engine.calls import CallTracker
from dialer.engine.runner import CampaignRunner
from pacing.floor import FloorAgent, FloorCampaign, FloorShare, share_floor

# Calls placed that need no agent yet, and those waiting in the queue for one.
_RINGING = frozenset({Phase.DIALLING, Phase.RINGING, Phase.ANSWERED})
_ON_FLOOR = frozenset({AgentState.READY, AgentState.ON_CALL, AgentState.WRAP_UP})
# Busy agents are due free in this order: wrap-up before talk, the longest first.
_TALK_RANK = 1e9


class Floor:
    def __init__(self, agents: AgentTracker, calls: CallTracker, runners: Mapping[int, CampaignRunner]) -> None:
        self.agents = agents
        self.calls = calls
        self.runners = runners  # the engine's own dict
        self.shares: dict[int, FloorShare] = {}

    def share(self, campaign_id: int) -> FloorShare | None:
        return self.shares.get(campaign_id)

    def refresh(self, now: float) -> None:
        """Apportion the agents as they are now among the engine's campaigns."""
        by_queue: dict[str, set[int]] = {}
        for cid, runner in self.runners.items():
            by_queue.setdefault(runner.queue, set()).add(cid)
        ringing: Counter[int] = Counter()
        waiting: Counter[int] = Counter()
        for call in self.calls.calls.values():
            if call.direct_agent is not None:
                continue  # an agent-direct call has its own reserved agent: not the floor's
            if call.phase in _RINGING:
                ringing[call.campaign_id] += 1
            elif call.phase is Phase.QUEUED:
                waiting[call.campaign_id] += 1
        campaigns = [
            FloorCampaign(cid, priority=r.definition.priority, weight=float(r.definition.weight),
                          waiting=waiting[cid], ringing=ringing[cid], dialling=r.wants_agents)
            for cid, r in self.runners.items()
        ]
        floor = []
        for agent in self.agents.agents.values():
            if agent.state not in _ON_FLOOR:
                continue
            serves = frozenset(cid for queue in agent.queues for cid in by_queue.get(queue, ()))
            if not serves:
                continue
            elapsed = now - agent.since
            on = self.calls.get(agent.attempt_id) if agent.attempt_id else None
            floor.append(FloorAgent(
                agent.agent_id, serves, ready=agent.state is AgentState.READY,
                free_rank=-elapsed if agent.state is AgentState.WRAP_UP else _TALK_RANK - elapsed,
                busy_with=on.campaign_id if on is not None else None,
            ))
        self.shares = share_floor(floor, campaigns)
