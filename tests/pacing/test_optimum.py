"""The constrained-MDP optimum."""

from __future__ import annotations

from pacing.optimum import _Model, mean_ring_time, solve_optimum
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
