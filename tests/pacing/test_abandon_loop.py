"""The loop that sets predictive pacing's threshold from the abandon rates it sees."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pacing.abandon_loop import AbandonLoop


def _run(loop: AbandonLoop, answers_per_s: float, abandon_share: float, seconds: int,
         start: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float]:
    """Feed the loop one second at a time; returns the cumulative (answers, abandons)."""
    answers, abandons = start
    loop.update(int(answers), int(abandons), 1.0)
    for _ in range(seconds):
        answers += answers_per_s
        abandons += answers_per_s * abandon_share
        loop.update(int(answers), int(abandons), 1.0)
    return answers, abandons


def test_no_abandons_on_a_large_floor_raise_theta_within_minutes() -> None:
    # 3 answers a second, none abandoned: the budget is being left unspent.
    loop = AbandonLoop(target=0.025, theta=0.025)
    _run(loop, 3.0, 0.0, 600)
    assert loop.theta > 0.025 * 2.5
    assert loop.wanted_rate > loop.target
    assert loop.recent_rate < 0.005


def test_a_small_floor_moves_slowly() -> None:
    # 0.02 answers a second (a handful of agents on long calls): the same silence is weak
    # evidence, so theta moves far less in the same ten minutes.
    large = AbandonLoop(target=0.025, theta=0.025)
    small = AbandonLoop(target=0.025, theta=0.025)
    _run(large, 3.0, 0.0, 600)
    _run(small, 0.02, 0.0, 600)
    assert small.theta < large.theta
    assert small.theta < 0.025 * 1.5


def test_abandons_above_the_target_lower_theta() -> None:
    loop = AbandonLoop(target=0.025, theta=0.2)
    _run(loop, 3.0, 0.06, 900)
    assert loop.theta < 0.2 / 2
    assert loop.recent_rate > loop.target


def test_an_overspent_shift_asks_for_less_than_the_target() -> None:
    # 2,000 answers already carry 80 abandons (4 %): the rest of the shift must run below
    # the target for the total to come back to it.
    loop = AbandonLoop(target=0.025, theta=0.05)
    _run(loop, 1.0, 0.025, 300, start=(2000.0, 80.0))
    assert loop.wanted_rate < loop.target
    assert loop.theta < 0.05


def test_holding_the_target_keeps_theta_near_where_it_was() -> None:
    loop = AbandonLoop(target=0.025, theta=0.1)
    _run(loop, 2.0, 0.025, 1800, start=(4000.0, 100.0))
    assert 0.05 < loop.theta < 0.2


@settings(max_examples=80, deadline=None)
@given(
    st.floats(min_value=0.001, max_value=10.0),
    st.floats(min_value=0.0, max_value=0.5),
    st.integers(min_value=0, max_value=2000),
    st.floats(min_value=0.002, max_value=2.0),
)
def test_theta_stays_within_its_bounds(rate: float, share: float, seconds: int,
                                       theta: float) -> None:
    loop = AbandonLoop(target=0.025, theta=theta)
    _run(loop, rate, share, seconds)
    assert loop.min_theta <= loop.theta <= loop.max_theta
    assert 0.0 <= loop.wanted_rate <= 1.2 * loop.target
    assert loop.recent_rate >= 0.0


def test_answer_rate_is_known_from_the_first_minutes() -> None:
    loop = AbandonLoop(target=0.025, theta=0.025)
    _run(loop, 0.5, 0.0, 120)
    assert abs(loop.answer_rate - 0.5) < 0.05
