"""The floor's apportioning of shared agents among campaigns (pacing/floor.py), by property."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pacing.floor import FloorAgent, FloorCampaign, FloorShare, share_floor

CAMPAIGN_IDS = (1, 2, 3, 4)


@st.composite
def floors(draw: st.DrawFn) -> tuple[list[FloorAgent], list[FloorCampaign]]:
    ids = draw(st.lists(st.sampled_from(CAMPAIGN_IDS), min_size=1, max_size=4, unique=True))
    campaigns = [
        FloorCampaign(
            c, priority=draw(st.integers(0, 3)), weight=draw(st.sampled_from([1.0, 2.0, 3.0, 0.5])),
            waiting=draw(st.integers(0, 4)), ringing=draw(st.integers(0, 5)), dialling=draw(st.booleans()),
        )
        for c in ids
    ]
    agents = []
    for i in range(draw(st.integers(0, 9))):
        serves = frozenset(draw(st.lists(st.sampled_from(CAMPAIGN_IDS), max_size=4)))
        ready = draw(st.booleans())
        agents.append(FloorAgent(
            f"a{i}", serves, ready=ready, free_rank=draw(st.floats(-100, 100)),
            busy_with=None if ready else draw(st.none() | st.sampled_from(CAMPAIGN_IDS)),
        ))
    return agents, campaigns


def max_matching(agents: list[FloorAgent], calls: list[int]) -> int:
    """Calls (by campaign) that distinct agents can take at once; plain Kuhn on single calls."""
    owner: dict[str, int] = {}  # agent -> index of the call he takes

    def augment(call: int, seen: set[str]) -> bool:
        for a in agents:
            if calls[call] in a.campaigns and a.agent_id not in seen:
                seen.add(a.agent_id)
                if a.agent_id not in owner or augment(owner[a.agent_id], seen):
                    owner[a.agent_id] = call
                    return True
        return False

    return sum(augment(i, set()) for i in range(len(calls)))


def in_flight(campaigns: list[FloorCampaign]) -> list[int]:
    return [c.campaign_id for c in campaigns for _ in range(c.waiting + c.ringing)]


@given(floors())
@settings(max_examples=400, deadline=None)
def test_every_agent_is_counted_once_and_only_by_a_campaign_he_serves(
    floor: tuple[list[FloorAgent], list[FloorCampaign]],
) -> None:
    agents, campaigns = floor
    shares = share_floor(agents, campaigns)
    assert set(shares) == {c.campaign_id for c in campaigns}
    by_id = {a.agent_id: a for a in agents}
    seen: list[str] = []
    for cid, share in shares.items():
        for agent_id in share.ready:
            assert by_id[agent_id].ready and cid in by_id[agent_id].campaigns
        for agent_id in share.busy:
            assert not by_id[agent_id].ready and cid in by_id[agent_id].campaigns
        seen += [*share.ready, *share.busy]
    assert len(seen) == len(set(seen)), "an agent counted by two campaigns"
    assert sum(len(s.ready) for s in shares.values()) <= sum(a.ready for a in agents)


@given(floors())
@settings(max_examples=400, deadline=None)
def test_progressive_over_every_share_never_places_a_call_no_agent_can_take(
    floor: tuple[list[FloorAgent], list[FloorCampaign]],
) -> None:
    """Each campaign places one call per ready agent of its share not covering its calls:
    every new call, with every call covered before, still finds its own ready agent."""
    agents, campaigns = floor
    shares = share_floor(agents, campaigns)
    ready = [a for a in agents if a.ready]
    before = max_matching(ready, in_flight(campaigns))
    assert sum(s.covered for s in shares.values()) == before, "the cover is not a maximum matching"
    new = {c.campaign_id: max(0, len(shares[c.campaign_id].ready) - c.waiting - c.ringing)
           for c in campaigns}
    after = in_flight(campaigns) + [cid for cid, n in new.items() for _ in range(n)]
    assert max_matching(ready, after) == before + sum(new.values())
    for c in campaigns:
        share = shares[c.campaign_id]
        assert share.uncovered >= 0 and share.covered <= len(share.ready)
        if new[c.campaign_id]:
            assert share.uncovered == 0 and share.covered == c.waiting + c.ringing


@given(floors())
@settings(max_examples=400, deadline=None)
def test_an_agent_serving_one_campaign_goes_to_it(floor: tuple[list[FloorAgent], list[FloorCampaign]]) -> None:
    agents, campaigns = floor
    shares = share_floor(agents, campaigns)
    known = {c.campaign_id: c for c in campaigns}
    for a in agents:
        mine = a.campaigns & known.keys()
        if len(mine) != 1:
            continue
        (cid,) = mine
        holders = [s.campaign_id for s in shares.values() if a.agent_id in (*s.ready, *s.busy)]
        assert holders in ([], [cid])
        if known[cid].dialling:
            assert holders == [cid], f"{a} idle although {cid} is dialling"


@given(floors())
@settings(max_examples=400, deadline=None)
def test_higher_priority_waiting_calls_are_never_starved_by_a_lower_campaign(
    floor: tuple[list[FloorAgent], list[FloorCampaign]],
) -> None:
    agents, campaigns = floor
    shares = share_floor(agents, campaigns)
    by_id = {a.agent_id: a for a in agents}
    for high in campaigns:
        if shares[high.campaign_id].covered >= high.waiting:
            continue  # every waiting call of it has a ready agent
        for low in campaigns:
            if low.priority < high.priority:
                taken = [a for a in shares[low.campaign_id].ready if high.campaign_id in by_id[a].campaigns]
                assert not taken, f"{taken} took {low.campaign_id}'s calls while {high.campaign_id}'s wait"


@given(floors())
@settings(max_examples=400, deadline=None)
def test_agents_left_over_go_to_the_highest_priority_first(
    floor: tuple[list[FloorAgent], list[FloorCampaign]],
) -> None:
    agents, campaigns = floor
    shares = share_floor(agents, campaigns)
    by_id = {a.agent_id: a for a in agents}
    for low in campaigns:
        higher = {c.campaign_id for c in campaigns if c.dialling and c.priority > low.priority}
        wanted = [a for a in shares[low.campaign_id].ready if by_id[a].campaigns & higher]
        assert len(wanted) <= shares[low.campaign_id].covered


@given(st.integers(0, 40), st.integers(1, 9), st.integers(1, 9))
def test_equal_priorities_share_by_weight(agents: int, w1: int, w2: int) -> None:
    floor = [FloorAgent(f"a{i}", frozenset({1, 2})) for i in range(agents)]
    shares = share_floor(floor, [FloorCampaign(1, weight=w1), FloorCampaign(2, weight=w2)])
    assert len(shares[1].ready) + len(shares[2].ready) == agents
    assert abs(len(shares[1].ready) - agents * w1 / (w1 + w2)) <= 1


def test_two_progressive_campaigns_over_three_agents() -> None:
    """The measured defect: each campaign counted the three agents; now they are split."""
    floor = [FloorAgent(f"100{i}", frozenset({1, 2})) for i in (1, 2, 3)]
    shares = share_floor(floor, [FloorCampaign(1), FloorCampaign(2)])
    assert sorted(len(s.ready) for s in shares.values()) == [1, 2]
    # Campaign 1 has two calls ringing: they keep two agents; one is left for campaign 2.
    shares = share_floor(floor, [FloorCampaign(1, ringing=2), FloorCampaign(2)])
    assert (len(shares[1].ready), shares[1].covered, len(shares[2].ready)) == (2, 2, 1)


def test_a_waiting_call_claims_an_agent_before_a_higher_campaign_ringing() -> None:
    floor = [FloorAgent("1001", frozenset({1, 2}))]
    shares = share_floor(floor, [FloorCampaign(1, priority=5, ringing=1), FloorCampaign(2, waiting=1)])
    assert shares[2] == FloorShare(2, ready=("1001",), covered=1)
    assert shares[1].uncovered == 1 and not shares[1].ready


def test_busy_agents_cover_uncovered_calls_soonest_free_first() -> None:
    floor = [FloorAgent("talk", frozenset({1}), ready=False, free_rank=10.0, busy_with=1),
             FloorAgent("wrap", frozenset({1}), ready=False, free_rank=-5.0, busy_with=1)]
    shares = share_floor(floor, [FloorCampaign(1, waiting=1, dialling=False)])
    assert shares[1].busy == ("wrap",) and shares[1].uncovered == 0


def test_a_paused_campaign_keeps_only_the_agents_its_calls_need() -> None:
    floor = [FloorAgent(f"a{i}", frozenset({1, 2})) for i in range(3)]
    shares = share_floor(floor, [FloorCampaign(1, ringing=1, dialling=False), FloorCampaign(2)])
    assert len(shares[1].ready) == 1 and len(shares[2].ready) == 2


def test_an_agent_is_moved_to_free_one_only_another_campaign_can_use() -> None:
    """Campaign 1 first takes a0, whom campaign 2 needs too: a1 (for 1 or 3) takes 1's call."""
    floor = [FloorAgent("a0", frozenset({1, 2})), FloorAgent("a1", frozenset({1, 3}))]
    shares = share_floor(floor, [FloorCampaign(1, priority=1, waiting=1), FloorCampaign(2, waiting=1)])
    assert shares[1].ready == ("a1",) and shares[2].ready == ("a0",)
    assert shares[1].covered == shares[2].covered == 1
