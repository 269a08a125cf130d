"""Invariants every pacing policy keeps, on arbitrary snapshots."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacing import (
    POLICY_NAMES,
    AbandonHeadroom,
    CampaignSnapshot,
    Estimators,
    Limits,
    PacingDecision,
    PacingReason,
    make_policy,
)
from pacing.policies import AdaptivePolicy, PIPolicy, PredictivePolicy

elapsed = st.floats(min_value=0.0, max_value=2000.0, allow_nan=False)


@st.composite
def snapshots(draw: st.DrawFn) -> CampaignSnapshot:
    limits = Limits(
        max_dial_level=draw(st.floats(min_value=0.5, max_value=5.0)),
        max_in_flight=draw(st.none() | st.integers(min_value=0, max_value=200)),
        max_attempts_per_agent_hour=draw(st.none() | st.floats(min_value=0.0, max_value=200.0)),
        max_occupancy=draw(st.none() | st.floats(min_value=0.3, max_value=1.0)),
    )
    answers = draw(st.integers(min_value=0, max_value=5000))
    abandons = draw(st.integers(min_value=0, max_value=300))
    headroom = draw(st.none() | st.just(AbandonHeadroom.from_counts(answers, abandons)))
    est = Estimators()
    for _ in range(draw(st.integers(min_value=0, max_value=400))):
        est.observe_result("human", 10.0)
        est.observe_result("no_answer", 25.0)
        est.observe_result("no_answer", 25.0)
    return CampaignSnapshot(
        now=draw(st.floats(min_value=0.0, max_value=30000.0)),
        agents_ready=draw(st.integers(min_value=0, max_value=60)),
        wrap_elapsed=draw(st.lists(st.floats(min_value=0, max_value=60), max_size=20)),
        talk_elapsed=draw(st.lists(elapsed, max_size=80)),
        ringing_elapsed=draw(st.lists(st.floats(min_value=0, max_value=30), max_size=80)),
        waiting_elapsed=draw(st.lists(st.floats(min_value=0, max_value=3), max_size=5)),
        limits=limits,
        headroom=headroom,
        estimates=est,
    )


@settings(max_examples=60, deadline=None)
@given(snapshots(), st.sampled_from(POLICY_NAMES))
def test_decisions_respect_caps(snap: CampaignSnapshot, name: str) -> None:
    policy = make_policy(name)
    d = policy.decide(snap)
    assert d.calls >= 0
    active = snap.agents_active
    if active == 0:
        assert d.calls == 0
        assert d.reason == PacingReason.NO_AGENTS.value
        return
    in_flight = snap.calls_in_flight
    level_cap = math.floor(snap.limits.max_dial_level * active + 1e-9) - in_flight
    assert d.calls <= max(0, level_cap)
    if snap.limits.max_in_flight is not None:
        assert d.calls <= max(0, snap.limits.max_in_flight - in_flight)
    if snap.limits.max_attempts_per_agent_hour is not None:
        rate = snap.limits.max_attempts_per_agent_hour * active / 3600.0
        assert d.calls <= max(1.0, rate * 60.0) + 1e-9
    hr = snap.headroom
    if hr is not None and hr.exhausted:
        assert d.calls <= snap.uncovered_ready
    assert d.dial_level == (in_flight + d.calls) / active


@settings(max_examples=40, deadline=None)
@given(snapshots())
def test_predictive_never_below_progressive_unless_capped(snap: CampaignSnapshot) -> None:
    d = make_policy("predictive").decide(snap)
    p = make_policy("progressive").decide(snap)
    capped = d.reason.startswith("cap_")
    if not capped:
        assert d.calls >= p.calls


def test_zero_when_no_agents() -> None:
    snap = CampaignSnapshot(now=0.0, agents_ready=0, ringing_elapsed=[1.0, 2.0])
    for name in POLICY_NAMES:
        assert make_policy(name).decide(snap).calls == 0


def test_progressive_covers_each_ready_agent_once() -> None:
    snap = CampaignSnapshot(now=0.0, agents_ready=5, ringing_elapsed=[1.0, 2.0],
                            waiting_elapsed=[0.5])
    assert make_policy("progressive").decide(snap).calls == 2


def test_ratio_keeps_level_per_ready_agent() -> None:
    snap = CampaignSnapshot(now=0.0, agents_ready=4, ringing_elapsed=[1.0] * 3)
    assert make_policy("ratio", level=2.0).decide(snap).calls == 5


def test_exhausted_budget_means_progressive() -> None:
    est = Estimators()
    for _ in range(500):
        est.observe_result("human", 10.0)
        est.observe_result("no_answer", 25.0)
    hr = AbandonHeadroom.from_counts(answers=1000, abandons=31)
    snap = CampaignSnapshot(now=0.0, agents_ready=3, talk_elapsed=[100.0] * 40,
                            ringing_elapsed=[], headroom=hr, estimates=est)
    for name in POLICY_NAMES:
        d = make_policy(name).decide(snap)
        assert d.calls <= 3, name


def test_attempt_rate_token_bucket() -> None:
    policy = make_policy("ratio", level=3.0)
    limits = Limits(max_attempts_per_agent_hour=60.0)
    total = 0
    for t in range(0, 600):
        snap = CampaignSnapshot(now=float(t), agents_ready=10, limits=limits)
        total += policy.decide(snap).calls
    # 10 agents * 60 attempts/hour = 1 per second, plus one minute of bucket depth.
    assert total <= 600 + 600 // 10 + 1


def test_adaptive_follows_vicidial_formula() -> None:
    pol = AdaptivePolicy(initial_level=1.0, max_level=3.0, intensity=0.0)
    # 10 agents, 5 ready and no waiting calls for 15 s: differential 5/10 -> level * 1.5.
    for t in range(16):
        snap = CampaignSnapshot(now=float(t), agents_ready=5, talk_elapsed=[30.0] * 5)
        pol.decide(snap)
    assert abs(pol.level - 1.5) < 1e-9
    # Over the drop limit today (more than 50 calls): halved, floored at 1.
    pol2 = AdaptivePolicy(initial_level=2.0)
    pol2._calls_today = 100
    hr = AbandonHeadroom.from_counts(answers=100, abandons=10)
    for t in range(16):
        snap = CampaignSnapshot(now=float(t), agents_ready=0, talk_elapsed=[30.0] * 10,
                                headroom=hr)
        pol2.decide(snap)
    assert pol2.level == 1.0


def test_pi_raises_adjust_when_under_target() -> None:
    pol = PIPolicy(target=0.03)
    est = Estimators()
    hr = AbandonHeadroom.from_counts(answers=1000, abandons=0)
    for t in range(200):
        pol.decide(CampaignSnapshot(now=float(t), agents_ready=2, talk_elapsed=[20.0] * 8,
                                    headroom=hr, estimates=est))
    assert pol.adjust > pol.initial_adjust


def test_predictive_small_team_and_cold_start_blend_to_progressive() -> None:
    pol = PredictivePolicy()
    est = Estimators()  # no observations
    snap = CampaignSnapshot(now=0.0, agents_ready=2, talk_elapsed=[100.0] * 3,
                            headroom=AbandonHeadroom.from_counts(1000, 0), estimates=est)
    assert pol.confidence(snap, est) == 0.0
    assert pol.decide(snap).calls == 2
    for _ in range(1000):
        est.observe_result("human", 10.0)
        est.observe_result("no_answer", 25.0)
    small = pol.confidence(snap, est)
    big = pol.confidence(
        CampaignSnapshot(now=0.0, agents_ready=2, talk_elapsed=[100.0] * 30, estimates=est),
        est,
    )
    assert 0.0 < small < big == 1.0


def test_unknown_policy() -> None:
    import pytest

    with pytest.raises(ValueError):
        make_policy("clairvoyant")


def _trained_estimators() -> Estimators:
    est = Estimators()
    for i in range(300):
        est.observe_result("human", 3.0 + (i * 7) % 17)
        est.observe_result("no_answer", 25.0)
        est.observe_result("no_answer", 25.0)
        est.observe_talk(180.0 * ((i * 13) % 29 + 0.5) / 14.5)
        est.observe_wrap(20.0)
    return est


def _busy_team(ringing: int, answers: int, abandons: int, est: Estimators) -> CampaignSnapshot:
    # 20 agents: 4 ready, 10 about to leave wrap-up, 6 talking; `ringing` calls in flight.
    return CampaignSnapshot(
        now=0.0, agents_ready=4, wrap_elapsed=[15.0] * 10, talk_elapsed=[60.0] * 6,
        ringing_elapsed=[2.0] * ringing,
        headroom=AbandonHeadroom.from_counts(answers, abandons), estimates=est,
    )


def test_predictive_end_of_budget_guard_keeps_reserve_for_calls_in_flight() -> None:
    est = _trained_estimators()
    # Nearly spent budget (0.6 abandons left) with many calls already ringing: the calls in
    # flight's expected abandons plus their reserve do not fit, so no more than progressive
    # (a theta high enough that the marginal test alone would dial ahead).
    nearly_spent = _busy_team(32, answers=2020, abandons=60, est=est)
    assert nearly_spent.uncovered_ready == 0
    d = PredictivePolicy(theta=0.25, whole_below=0.0).decide(nearly_spent)
    assert d.calls == nearly_spent.uncovered_ready
    # The same team and calls in flight with a plentiful budget: it does dial ahead.
    plenty = _busy_team(32, answers=2000, abandons=20, est=est)
    assert PredictivePolicy(theta=0.25).decide(plenty).calls > plenty.uncovered_ready
    # The reserve grows with the calls in flight: with fewer ringing, the same 0.6 left
    # still lets it dial ahead, within the guard.
    fewer = _busy_team(18, answers=2020, abandons=60, est=est)
    d = PredictivePolicy(theta=0.25, whole_below=0.0).decide(fewer)
    assert d.calls > fewer.uncovered_ready
    lost = float(d.details["expected_lost"])
    assert lost + 2.0 * math.sqrt(lost) <= 0.6 + 1e-3


def test_predictive_guard_counts_the_abandons_its_bound_has_turned_into() -> None:
    """A floor where the bound's exposure has turned into four times the abandons it said:
    the guard holds the scaled exposure, plus its reserve, within the allowance."""
    est = _trained_estimators()
    snap = _busy_team(18, answers=2020, abandons=60, est=est)  # 0.6 abandons left
    trusting = PredictivePolicy(theta=0.075, scale_guards=True, whole_below=0.0).decide(snap)
    assert trusting.details["kappa"] == 1.0 and trusting.calls > snap.uncovered_ready
    taught = PredictivePolicy(theta=0.075, scale_guards=True, whole_below=0.0)
    assert taught.exposure is not None
    for t in range(600):  # 0.01 expected over 26 s for ten minutes (0.23 abandons): 4 happen
        taught.exposure.update(0.01, 26.0, 60 - 4 * (600 - t) // 600, t - 600.0)
    d = taught.decide(snap)
    kappa = float(d.details["kappa"])
    assert kappa > 2.0
    assert d.calls < trusting.calls
    scaled = kappa * float(d.details["expected_lost"])
    assert d.calls == snap.uncovered_ready or scaled + 2.0 * math.sqrt(scaled) <= 0.6 + 1e-3


@settings(max_examples=80, deadline=None)
@given(snapshots())
def test_predictive_dials_ahead_only_within_the_reserve(snap: CampaignSnapshot) -> None:
    pol = PredictivePolicy()
    d = pol.decide(snap)
    if d.calls > snap.uncovered_ready and "expected_lost" in d.details:
        est = snap.estimates
        assert est is not None
        hr = snap.headroom
        allowed = hr.allowed if hr is not None else 0.03 * est.answers - est.abandons
        lost = float(d.details["expected_lost"])
        assert lost + pol.reserve_z * math.sqrt(lost) <= allowed + 1e-3


def test_predictive_counts_the_last_abandons_whole() -> None:
    """0.6 abandons left and 24 calls ringing for 4 ready agents, 10 of the others about to
    leave wrap-up: the calls' expected abandons and their reserve fit in 0.6 (the guard
    above lets it dial ahead), but a lost call would be a whole abandon, over the cap, and
    more calls would make one more likely than `whole_chance` (0.2 %). With 18 ringing it
    may still dial a few, within that chance. With 2.6 left, the rule at its strictest
    (`whole_chance` 0) lets two calls be in flight beyond the ready agents, and no more."""
    est = _trained_estimators()
    many = _busy_team(24, answers=2020, abandons=60, est=est)
    d = PredictivePolicy(theta=0.25).decide(many)
    assert d.calls == many.uncovered_ready == 0
    assert d.details["whole_abandons_left"] == 0
    assert PredictivePolicy(theta=0.25, whole_below=0.0).decide(many).calls > 0
    fewer = _busy_team(18, answers=2020, abandons=60, est=est)
    d = PredictivePolicy(theta=0.25).decide(fewer)
    assert d.calls > 0 and _poisson_tail(0, float(d.details["expected_lost"])) <= 0.002
    assert d.calls < PredictivePolicy(theta=0.25, whole_below=0.0).decide(fewer).calls
    assert PredictivePolicy(theta=0.25, whole_chance=0.0).decide(fewer).calls == 0
    two_left = _busy_team(1, answers=2020, abandons=58, est=est)  # 2.6 left
    strict = PredictivePolicy(theta=0.25, whole_chance=0.0).decide(two_left)
    assert strict.calls == 4 + 2 - 1
    d = PredictivePolicy(theta=0.25).decide(two_left)
    assert strict.calls < d.calls < PredictivePolicy(theta=0.25, whole_below=0.0).decide(two_left).calls
    assert _poisson_tail(2, float(d.details["expected_lost"])) <= 0.002 + 1e-4
    # With three or more left, the rule stands aside.
    plenty = _busy_team(1, answers=2020, abandons=57, est=est)  # 3.6 left
    d = PredictivePolicy(theta=0.25).decide(plenty)
    assert "whole_abandons_left" not in d.details
    assert d.calls == PredictivePolicy(theta=0.25, whole_below=0.0).decide(plenty).calls


def _poisson_tail(k: int, mean: float) -> float:
    """P(X > k), X Poisson."""
    return 1.0 - sum(math.exp(-mean) * mean**i / math.factorial(i) for i in range(k + 1))


@settings(max_examples=80, deadline=None)
@given(snapshots())
def test_predictive_risks_the_whole_abandons_left_only_by_a_small_chance(
        snap: CampaignSnapshot) -> None:
    est = snap.estimates
    assert est is not None
    hr = snap.headroom
    allowed = hr.allowed if hr is not None else 0.03 * est.answers - est.abandons
    pol = PredictivePolicy()
    d = pol.decide(snap)
    beyond = snap.calls_in_flight + d.calls - snap.agents_ready
    if allowed < pol.whole_below and d.calls > snap.uncovered_ready and beyond > math.floor(allowed):
        scaled = float(d.details["kappa"]) * float(d.details["expected_lost"])
        assert _poisson_tail(math.floor(allowed), scaled) <= pol.whole_chance + 1e-3
    strict = PredictivePolicy(whole_chance=0.0).decide(snap)
    if allowed < 3.0 and strict.calls > snap.uncovered_ready:
        assert snap.calls_in_flight + strict.calls - snap.agents_ready <= math.floor(allowed)


def test_the_whole_abandon_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="whole_below"):
        PredictivePolicy(whole_below=-1.0)
    for chance in (-0.1, 1.0):
        with pytest.raises(ValueError, match="whole_chance"):
            PredictivePolicy(whole_chance=chance)


def test_predictive_counts_the_calls_the_next_ticks_will_place() -> None:
    """Two policies with the same history of heavy dialling: the one that counts the
    competition of the calls still to be placed dials fewer now."""
    est = _trained_estimators()

    def after_heavy_dialling(**settings: float) -> PredictivePolicy:
        pol = PredictivePolicy(**settings)
        for t in range(20):  # 40 ready agents a second for 20 s: a high recent dial rate
            pol.decide(CampaignSnapshot(now=float(t), agents_ready=40, estimates=est,
                                        headroom=AbandonHeadroom.from_counts(4000, 20)))
        return pol

    snap = CampaignSnapshot(now=20.0, agents_ready=4, wrap_elapsed=[15.0] * 10, talk_elapsed=[60.0] * 26,
                            ringing_elapsed=[2.0] * 6, estimates=est,
                            headroom=AbandonHeadroom.from_counts(4000, 20))
    myopic = after_heavy_dialling(future_weight=0.0).decide(snap).calls
    aware = after_heavy_dialling().decide(snap).calls
    assert snap.uncovered_ready <= aware < myopic


def _loop_taught(pol: PredictivePolicy, answers_per_s: float, seconds: int = 1800) -> None:
    """The policy's abandon loop has seen `answers_per_s` human answers a second, no abandons."""
    answers = 0.0
    pol.loop.update(0, 0, 0.0)
    for _ in range(seconds):
        answers += answers_per_s
        pol.loop.update(int(answers), 0, 1.0)


def test_a_small_budget_buys_a_share_of_theta_in_proportion_to_the_abandon_noise() -> None:
    """A team answering 0.05 calls a second: at the loop's wanted rate its recent window
    (half an hour) holds about 2.7 abandons, a swing (standard deviation) of 1.6;
    `budget_noise_z` swings of budget (three: 4.9 abandons) buy all of theta, less a
    proportional share. A large floor's window is shorter but holds more abandons: the same
    budget buys less of its theta."""
    pol = PredictivePolicy()
    assert pol.budget_caution(0.5) == 1.0  # no answers seen yet: nothing to scale by
    _loop_taught(pol, 0.05)
    assert pol.loop.window_s == pol.loop.max_recent_s
    expected = pol.loop.wanted_rate * pol.loop.answer_rate * pol.loop.window_s
    assert 1.4 < math.sqrt(expected) < 1.9
    swing = pol.budget_noise_z * math.sqrt(expected)
    assert pol.budget_caution(swing) == 1.0 and pol.budget_caution(10.0) == 1.0
    assert pol.budget_caution(swing / 2) == pytest.approx(0.5)
    assert pol.budget_caution(0.0) == 0.0
    large = PredictivePolicy()
    _loop_taught(large, 1.0)
    assert large.budget_caution(swing / 2) < pol.budget_caution(swing / 2)
    off = PredictivePolicy(budget_noise_z=0.0)
    _loop_taught(off, 0.05)
    assert off.budget_caution(0.1) == 1.0


def test_predictive_takes_less_risk_while_its_budget_is_within_the_noise() -> None:
    """Two policies with the same history on a small team's answer rate and 1.5 abandons
    of allowance: the one that weighs the budget against the noise dials fewer, within
    progressive's floor; with a plentiful allowance they dial the same."""
    est = _trained_estimators()

    def decide(snap: CampaignSnapshot, **settings: float) -> PacingDecision:
        pol = PredictivePolicy(theta=0.075, whole_below=0.0, **settings)
        _loop_taught(pol, 0.05)
        return pol.decide(snap)

    small = _busy_team(10, answers=2050, abandons=60, est=est)  # 1.5 abandons left
    careful, careless = decide(small), decide(small, budget_noise_z=0.0)
    assert 0.0 < float(careful.details["budget_caution"]) < 1.0
    assert careless.details["budget_caution"] == 1.0
    assert small.uncovered_ready <= careful.calls < careless.calls
    plenty = _busy_team(10, answers=4000, abandons=20, est=est)
    assert decide(plenty).calls == decide(plenty, budget_noise_z=0.0).calls
    assert decide(plenty).details["budget_caution"] == 1.0


@settings(max_examples=80, deadline=None)
@given(st.floats(0.0, 2.0), st.floats(-5.0, 50.0), st.floats(0.0, 20.0))
def test_budget_caution_is_a_share_that_grows_with_the_budget(rate: float, budget: float, more: float) -> None:
    pol = PredictivePolicy()
    _loop_taught(pol, rate, seconds=600)
    low, high = pol.budget_caution(budget), pol.budget_caution(budget + more)
    assert 0.0 <= low <= high <= 1.0


def _high_answer_rate_estimators() -> Estimators:
    """Five answers in eight dials (62 %), calls of 10-600 s, 20 s of wrap-up."""
    est = Estimators()
    for i in range(300):
        for k in range(5):
            est.observe_result("human", 3.0 + (i * 7 + k) % 17)
        for _ in range(3):
            est.observe_result("no_answer", 25.0)
        est.observe_talk(300.0 * ((i * 13) % 29 + 0.5) / 14.5)
        est.observe_wrap(20.0)
    return est


def _decide_on_high_answer_rate(ready: int, wrap_elapsed: list[float], ringing: int,
                                **settings: Any) -> PacingDecision:
    est = _high_answer_rate_estimators()
    pol = PredictivePolicy(theta=0.05, **settings)
    _loop_taught(pol, 0.15)
    return pol.decide(CampaignSnapshot(
        now=0.0, agents_ready=ready, wrap_elapsed=wrap_elapsed, talk_elapsed=[100.0] * 34,
        ringing_elapsed=[2.0] * ringing, estimates=est,
        headroom=AbandonHeadroom.from_counts(4000, 20)))


def test_predictive_counts_answers_as_calls_that_answer_or_not() -> None:
    """Six agents ready and a 62 % answer rate: seven calls can bring at most seven
    answers, and all seven only one time in thirty. A Poisson count of the same mean
    expects three times the lost calls and holds the seventh back."""
    poisson = _decide_on_high_answer_rate(6, [], 0, answer_model="poisson", running_max=False)
    binomial = _decide_on_high_answer_rate(6, [], 0, answer_model="binomial", running_max=False)
    assert poisson.calls == 6
    assert binomial.calls == 7
    assert float(binomial.details["expected_lost"]) < float(poisson.details["expected_lost"]) / 2


def test_predictive_weighs_losses_along_the_horizon_not_at_its_worst_point() -> None:
    """Nobody ready, six agents leaving wrap-up over the next 3-18 s and four calls
    ringing: answers and frees come in step, so calls are lost all along the horizon,
    not only where the expected excess is largest. Counting the running maximum holds
    back calls there, and not where six agents are ready now (the excess then starts six
    below zero and the risk is all at its end)."""
    leaving = [2.0, 5.0, 8.0, 11.0, 14.0, 17.0]
    at_worst = _decide_on_high_answer_rate(0, leaving, 4, answer_model="binomial", running_max=False)
    along = _decide_on_high_answer_rate(0, leaving, 4, answer_model="binomial", running_max=True)
    assert along.calls < at_worst.calls
    ready_now = [_decide_on_high_answer_rate(6, [], 0, answer_model="binomial", running_max=flag).calls
                 for flag in (False, True)]
    assert ready_now[0] == ready_now[1]


def test_predictive_refuses_an_unknown_answer_model() -> None:
    with pytest.raises(ValueError, match="answer_model must be one of poisson, binomial"):
        PredictivePolicy(answer_model="normal")


def test_predictive_counts_the_frees_as_agents_who_free_or_not() -> None:
    """One agent ready and thirty-four in long calls: one call cannot overflow the ready
    agent, which the frees counted as agents who each free or not see exactly (no loss),
    and a count of frees set half a standard deviation below its mean does not. Six ready
    and seven calls: a call is lost only if all seven answer and nobody frees, and the
    counted loss is that chance (within the fit and the running maximum's scaling)."""
    one = _decide_on_high_answer_rate(1, [], 0, free_model="count")
    assert one.calls == 1
    assert float(one.details["expected_lost"]) == 0.0
    assert float(_decide_on_high_answer_rate(1, [], 0).details["expected_lost"]) > 0.01
    six = _decide_on_high_answer_rate(6, [], 0, free_model="count")
    assert six.calls == 7
    nobody_frees = math.exp(-(float(six.details["free_agents"]) - 6))
    all_answer = float(six.details["answers_per_dial"]) ** 7
    assert float(six.details["expected_lost"]) == pytest.approx(all_answer * nobody_frees,
                                                                rel=0.15)


def test_predictive_refuses_an_unknown_free_model_or_counted_frees_with_poisson_answers() -> None:
    with pytest.raises(ValueError, match="free_model must be one of shifted, count"):
        PredictivePolicy(free_model="normal")
    with pytest.raises(ValueError, match="free_model 'count' needs answer_model 'binomial'"):
        PredictivePolicy(free_model="count", answer_model="poisson")
