"""The constrained-MDP optimum."""

from __future__ import annotations

from pacing.optimum import (
    _Model,
    _queue_places,
    lines_full,
    mean_ring_time,
    solve_cmdp,
    solve_optimum,
    threshold_table,
)
from pacing.world import WorldModel


def test_optimum_meets_cap_and_beats_progressive_like_bounds() -> None:
    w = WorldModel(human_rate=0.3)
    opt = solve_optimum(5, w, cap=0.03)
    assert abs(opt.abandon_ratio - 0.03) < 2e-3
    assert 0.0 < opt.occupancy < opt.busy < 1.0


def test_more_agents_pool_better() -> None:
    w = WorldModel(human_rate=0.3)
    small = solve_optimum(3, w)
    big = solve_optimum(12, w)
    assert big.busy > small.busy


def test_looser_cap_is_no_worse() -> None:
    w = WorldModel(human_rate=0.3)
    assert solve_optimum(6, w, cap=0.06).busy >= solve_optimum(6, w, cap=0.01).busy - 1e-6


def test_zero_multiplier_policy_fills_lines() -> None:
    """With no abandon penalty the optimum keeps calls in flight up to the line cap."""
    w = WorldModel(human_rate=0.3)
    gamma = 1.0 / mean_ring_time(w)
    model = _Model(4, 0.3, 1.0 / 200.0, gamma, 20)
    targets = model.solve(0.0, 0.03)
    assert (targets[:, 0] == 20).all()
    ev = model.evaluate(targets)
    assert ev.busy > 0.9


def test_huge_multiplier_means_near_zero_abandons() -> None:
    w = WorldModel(human_rate=0.3)
    gamma = 1.0 / mean_ring_time(w)
    model = _Model(4, 0.3, 1.0 / 200.0, gamma, 20)
    ev = model.evaluate(model.solve(1e4, 0.03))
    assert ev.ratio < 0.005


def test_threshold_table_is_the_optimum_rule() -> None:
    """The table `threshold_table` returns is the rule whose value the solver reports: it
    dials into an empty floor, holds back when every agent is busy and people wait, and
    evaluated on the model it reaches the optimum's busy fraction within the cap."""
    table = threshold_table(6, 0.3, 200.0, 12.0, cap=0.03, wait_s=2.0)
    assert table.calls_to_place(busy=0, waiting=0, in_flight=0) >= 6
    assert table.calls_to_place(busy=6, waiting=table.queue, in_flight=0) == 0
    # more calls in flight, fewer to place
    assert table.calls_to_place(2, 0, 5) <= table.calls_to_place(2, 0, 0)
    opt = solve_cmdp(6, 0.3, 200.0, 12.0, cap=0.03, wait_s=2.0)
    model = _Model(6, 0.3, 1.0 / 200.0, 1.0 / 12.0, opt.max_in_flight,
                   queue=_queue_places(6, 200.0, 2.0), theta=0.5)
    ev = model.evaluate(table.targets)
    assert ev.ratio <= 0.03 + 1e-3
    assert abs(ev.busy - opt.busy) < 0.01


def test_lines_full_is_the_capped_optimum_when_it_keeps_within_the_cap() -> None:
    """20 agents, 6 % answered, 87-s calls: the need is 6.6 calls in flight per agent and
    the dial level allows 3, so the optimum fills every line; the birth-death chain gives
    the MDP's figures without solving it. Where filling the lines would break the cap
    (10 agents at 30 %), it says so and the MDP is needed."""
    capped = lines_full(20, 0.06, 87.0, 34.7, 60, wait_s=1.76)
    mdp = solve_cmdp(20, 0.06, 87.0, 34.7, cap=0.03, wait_s=1.76, max_in_flight=60)
    assert capped.abandon_ratio <= 0.03
    assert abs(capped.busy - mdp.busy) < 1e-4
    assert abs(capped.abandon_ratio - mdp.abandon_ratio) < 1e-4
    loose = lines_full(10, 0.3, 200.0, 12.0, 10, wait_s=2.0)
    assert loose.abandon_ratio > 0.03
    assert loose.busy > solve_cmdp(10, 0.3, 200.0, 12.0, cap=0.03, wait_s=2.0).busy


def test_a_folded_threshold_table_decides_as_the_full_one_near_a_busy_floor() -> None:
    """Large teams fold the states far below N busy (as the reference does); where the
    optimum lives, near N busy, the folded table decides as the full one."""
    full = threshold_table(30, 0.2, 180.0, 15.0, wait_s=2.0, max_in_flight=120)
    folded = threshold_table(30, 0.2, 180.0, 15.0, wait_s=2.0, max_in_flight=120, b_window=12)
    assert folded.b_min > 0
    for busy in (27, 29, 30):
        for in_flight in (0, 5, 20):
            assert folded.calls_to_place(busy, 0, in_flight) == full.calls_to_place(busy, 0, in_flight)
    assert folded.calls_to_place(0, 0, 0) > 0  # a folded state still dials
