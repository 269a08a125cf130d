"""One pool of agents shared by several campaigns: which agents each campaign may count on.

Each campaign paces from its own snapshot; when campaigns share agents, each must count
only the agents no other campaign's calls will take, or two progressive campaigns over
three agents place six calls. `share_floor` apportions the floor just before each campaign
decides, on the agents and calls as they are then (the calls another campaign placed a
moment before included):

1. Calls in flight claim ready agents first: answered calls waiting in a queue before calls
   still ringing, and within each, the higher-priority campaign first (Asterisk's queue
   weight gives a free agent to the waiting caller of the heavier queue). The claim is a
   maximum matching (an agent serves only the campaigns whose queues he is in), so an agent
   serving one campaign is never spent on a call another agent could take.
2. Calls still uncovered claim busy agents (on a call or in wrap-up), the soonest free first.
3. The agents left over go to the campaigns that are dialling: to the highest priority among
   those the agent serves; among equal priorities, to the one furthest below its weighted
   share of the floor (agents on its calls, covering its calls, and given so far).

A campaign's share holds the agents covering its calls and those left to it: progressive
(one call per ready agent not covered) then never places more calls, summed over every
campaign, than agents free to take them; predictive forecasts from its busy agents only.
Pure: plain data in, plain data out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FloorAgent:
    """An agent logged in on the floor.

    campaigns: the campaigns (queues) the agent is a member of.
    ready: ready and without a call; else on a call or in wrap-up (paused agents are not
        on the floor).
    free_rank: busy agents only: smaller is expected free sooner (e.g. wrap-up before talk,
        the longest first).
    busy_with: the campaign whose call the agent is on or wrapping up, when known.
    """

    agent_id: str
    campaigns: frozenset[int]
    ready: bool = True
    free_rank: float = 0.0
    busy_with: int | None = None


@dataclass(frozen=True)
class FloorCampaign:
    """A campaign's claim on the floor.

    priority: higher first (the queue weight Asterisk applies); weight: its share among
        campaigns of equal priority.
    waiting: its answered calls waiting in the queue for an agent.
    ringing: its calls placed that do not need an agent yet (dialling, ringing, in AMD).
    dialling: it may place new calls; otherwise only agents covering its calls are its.
    """

    campaign_id: int
    priority: int = 0
    weight: float = 1.0
    waiting: int = 0
    ringing: int = 0
    dialling: bool = True

    def __post_init__(self) -> None:
        if self.weight <= 0:
            raise ValueError("weight must be > 0")
        if self.waiting < 0 or self.ringing < 0:
            raise ValueError("call counts must be >= 0")


@dataclass(frozen=True)
class FloorShare:
    """The agents one campaign may count on this tick.

    ready: ready agents, those covering its calls in flight first.
    busy: agents on a call or in wrap-up it may count on when they are free.
    covered: its calls in flight a ready agent of its share will take.
    uncovered: its calls in flight no agent of the floor is free or due for.
    """

    campaign_id: int
    ready: tuple[str, ...] = ()
    busy: tuple[str, ...] = ()
    covered: int = 0
    uncovered: int = 0

    @property
    def agents(self) -> frozenset[str]:
        """Every agent of the share, ready or busy."""
        return frozenset(self.ready) | frozenset(self.busy)


@dataclass
class _Matching:
    """Agents matched to campaigns' calls; a campaign's calls are interchangeable."""

    serving: dict[int, list[str]]  # campaign -> agents who serve it, preferred first
    owner: dict[str, int] = field(default_factory=dict)  # agent -> campaign whose call he takes

    def cover(self, campaign: int) -> bool:
        """Cover one more call of `campaign`, moving other matches if needed (an augmenting
        path: every call covered before stays covered)."""
        for agent in self.serving.get(campaign, ()):
            if agent not in self.owner:
                self.owner[agent] = campaign
                return True
        return self._augment(campaign, {campaign})

    def _augment(self, campaign: int, seen: set[int]) -> bool:
        # A campaign entered once is never entered again in one search: its calls are
        # interchangeable, so a second visit finds nothing the first did not.
        for agent in self.serving.get(campaign, ()):
            holder = self.owner.get(agent)
            if holder is None:
                self.owner[agent] = campaign
                return True
            if holder in seen:
                continue
            seen.add(holder)
            if self._augment(holder, seen):
                self.owner[agent] = campaign
                return True
        return False


def _by_priority(campaigns: Iterable[FloorCampaign]) -> list[list[FloorCampaign]]:
    """Campaigns grouped by priority, highest first."""
    levels: dict[int, list[FloorCampaign]] = {}
    for c in sorted(campaigns, key=lambda c: c.campaign_id):
        levels.setdefault(c.priority, []).append(c)
    return [levels[p] for p in sorted(levels, reverse=True)]


def _cover_calls(matching: _Matching, levels: list[list[FloorCampaign]], demand: dict[int, int],
                 covered: dict[int, int]) -> None:
    """Cover `demand` calls per campaign, priority level by level; within a level the
    campaign least covered for its weight goes next, so equal campaigns share fairly."""
    for level in levels:
        open_ = {c.campaign_id: c for c in level if demand.get(c.campaign_id, 0) > 0}
        while open_:
            c = min(open_.values(), key=lambda c: ((covered[c.campaign_id] + 1) / c.weight, c.campaign_id))
            if matching.cover(c.campaign_id):
                covered[c.campaign_id] += 1
                demand[c.campaign_id] -= 1
                if demand[c.campaign_id] == 0:
                    del open_[c.campaign_id]
            else:
                del open_[c.campaign_id]  # no agent can take another call of it (nor later)


def share_floor(agents: Sequence[FloorAgent], campaigns: Sequence[FloorCampaign]) -> dict[int, FloorShare]:
    """Apportion the floor's agents among `campaigns` (see the module docstring)."""
    known = {c.campaign_id: c for c in campaigns}
    levels = _by_priority(known.values())
    ready = [a for a in agents if a.ready and a.campaigns & known.keys()]
    busy = sorted((a for a in agents if not a.ready and a.campaigns & known.keys()),
                  key=lambda a: (a.free_rank, a.agent_id))

    def serving(pool: list[FloorAgent], flexible_last: bool) -> dict[int, list[str]]:
        # Agents serving fewer campaigns are tried first, keeping the flexible ones free.
        order = sorted(pool, key=lambda a: (len(a.campaigns), a.agent_id)) if flexible_last else pool
        out: dict[int, list[str]] = {}
        for a in order:
            for c in a.campaigns:
                if c in known:
                    out.setdefault(c, []).append(a.agent_id)
        return out

    # 1. Ready agents: waiting calls first, then ringing ones.
    on_ready = _Matching(serving(ready, flexible_last=True))
    covered = dict.fromkeys(known, 0)
    _cover_calls(on_ready, levels, {c: known[c].waiting for c in known}, covered)
    _cover_calls(on_ready, levels, {c: known[c].ringing + known[c].waiting - covered[c] for c in known},
                 covered)
    # 2. Busy agents, the soonest free first, for the calls still uncovered.
    on_busy = _Matching(serving(busy, flexible_last=False))
    due = dict.fromkeys(known, 0)
    _cover_calls(on_busy, levels, {c: known[c].waiting + known[c].ringing - covered[c] for c in known}, due)

    given: dict[int, list[str]] = {c: [] for c in known}
    given_busy: dict[int, list[str]] = {c: [] for c in known}
    for agent_id, owner in on_ready.owner.items():
        given[owner].append(agent_id)
    for agent_id, owner in on_busy.owner.items():
        given_busy[owner].append(agent_id)
    # 3. The rest to the dialling campaigns: priority, then weight against what each has.
    load = {cid: covered[cid] + due[cid] for cid in known}
    for a in agents:
        if a.busy_with in load:
            load[a.busy_with] += 1
    left = [a for a in ready if a.agent_id not in on_ready.owner]
    left += [a for a in busy if a.agent_id not in on_busy.owner]
    tiers = {c.campaign_id: c for c in known.values() if c.dialling}

    def eligible(a: FloorAgent) -> list[FloorCampaign]:
        mine = [tiers[c] for c in a.campaigns if c in tiers]
        top = max((c.priority for c in mine), default=None)
        return [c for c in mine if c.priority == top]

    left.sort(key=lambda a: (not a.ready, len(eligible(a)), a.free_rank, a.agent_id))
    for a in left:
        options = eligible(a)
        if not options:
            continue  # serves no campaign that is dialling: idle for now
        c = min(options, key=lambda c: ((load[c.campaign_id] + 1) / c.weight, c.campaign_id))
        (given if a.ready else given_busy)[c.campaign_id].append(a.agent_id)
        load[c.campaign_id] += 1

    shares = {}
    for c in known.values():
        cid = c.campaign_id
        in_flight = c.waiting + c.ringing
        shares[cid] = FloorShare(
            cid, ready=tuple(given[cid]), busy=tuple(given_busy[cid]), covered=covered[cid],
            uncovered=in_flight - covered[cid] - due[cid],
        )
    return shares
