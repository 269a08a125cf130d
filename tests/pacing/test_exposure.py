"""The scale of predictive pacing's loss bound: realised abandons over the bound's own."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pacing.exposure import ExposureScale


def _feed(scale: ExposureScale, exposure: float, abandons_per_min: float, minutes: int,
          start: float = 0.0, abandons: float = 0.0) -> float:
    """One update a second holding `exposure` over a 26-s horizon; returns the clock."""
    now = start
    for _ in range(minutes * 60):
        now += 1.0
        abandons += abandons_per_min / 60.0
        scale.update(exposure, 26.0, int(abandons), now)
    return now


def test_starts_at_one_and_learns_a_bound_that_is_five_times_low() -> None:
    scale = ExposureScale()
    assert scale.kappa == 1.0
    # 0.026 expected over 26 s: one abandon predicted a thousand seconds; five happen.
    _feed(scale, 0.026, 5 * 60 / 1000, 60)
    assert 3.5 < scale.kappa < 5.5


def test_a_pessimistic_bound_is_never_scaled_down() -> None:
    scale = ExposureScale()
    _feed(scale, 0.26, 0.0, 60)  # ten times more predicted than happens
    assert scale.kappa == 1.0


def test_it_forgets_a_bad_start() -> None:
    scale = ExposureScale(half_life_s=1800.0)
    now = _feed(scale, 0.026, 3.0, 10)  # a burst: 30 abandons in 10 minutes
    high = scale.kappa
    _feed(scale, 0.026, 60 / 1000, 180, start=now, abandons=30)  # then as predicted, 3 hours
    assert high > 10 and scale.kappa < 2.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 5), st.integers(0, 3), st.floats(0, 30)), max_size=60),
       st.floats(0.1, 10.0))
def test_kappa_is_finite_and_at_least_one(steps: list[tuple[float, int, float]], prior: float) -> None:
    scale = ExposureScale(prior=prior)
    now, abandons = 0.0, 0
    for exposure, new, dt in steps:
        now += dt
        abandons += new
        scale.update(exposure, 26.0, abandons, now)
        assert 1.0 <= scale.kappa < float("inf")
