"""Abandonment ledger: replayed histories against hand-computed rate and headroom."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from math import floor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.abandonment import AbandonmentLedger, AbandonmentRule, OutcomeRecord, classify
from compliance.outcomes import Outcome
from compliance.profiles import apply_overrides, get_profile

T0 = datetime(2026, 1, 1, tzinfo=UTC)
OC = Outcome


def feed(led: AbandonmentLedger, at: datetime, outcome: Outcome, n: int, wait: float | None = None) -> None:
    for _ in range(n):
        led.record(at, outcome, wait)


def test_us_profile_30_day_window_hand_computed() -> None:
    rule = get_profile("us").abandonment
    assert (rule.window, rule.cap, rule.count_amd_false_positives) == (timedelta(days=30), 0.03, False)
    led = AbandonmentLedger(rule)
    feed(led, T0, OC.ANSWERED, 50)
    feed(led, T0, OC.ABANDONED, 1)
    feed(led, T0, OC.NO_ANSWER, 10)  # not live: ignored
    feed(led, T0, OC.MACHINE, 5)  # US: machines count nowhere
    s = led.snapshot(T0)
    assert (s.live, s.abandons, s.machines) == (51, 1, 5)
    assert s.rate == pytest.approx(1 / 51)
    assert s.headroom == 0  # floor(0.03*51 - 1) = floor(0.53) = 0

    t10 = T0 + timedelta(days=10)
    feed(led, t10, OC.ANSWERED, 49, wait=0.8)
    led.record(t10, OC.QUEUE_HANGUP, 5.0)  # hung up after 5 s in queue: abandoned
    led.record(t10, OC.QUEUE_HANGUP, 1.0)  # hung up within 2 s: live, not abandoned
    led.record(t10, OC.ANSWERED, 3.0)  # agent connected after 3 s: abandoned (late)
    s = led.snapshot(t10)
    assert (s.live, s.abandons) == (103, 3)
    assert s.rate == pytest.approx(3 / 103)
    assert s.headroom == 0  # floor(3.09 - 3) = 0

    t20 = T0 + timedelta(days=20)
    feed(led, t20, OC.ANSWERED, 97)
    s = led.snapshot(t20)
    assert (s.live, s.abandons) == (200, 3)
    assert s.rate == pytest.approx(0.015)
    assert s.headroom == 3  # floor(6 - 3)

    # window boundary: a record counts while now - 30 d < t <= now
    edge = T0 + timedelta(days=30)
    s = led.snapshot(edge - timedelta(seconds=1))
    assert (s.live, s.abandons, s.headroom) == (200, 3, 3)
    s = led.snapshot(edge)
    assert (s.live, s.abandons) == (149, 2)
    assert s.rate == pytest.approx(2 / 149)
    assert s.headroom == 2  # floor(4.47 - 2)
    s = led.snapshot(T0 + timedelta(days=40))
    assert (s.live, s.abandons, s.headroom) == (97, 0, 2)  # floor(2.91)
    s = led.snapshot(T0 + timedelta(days=60))
    assert (s.live, s.rate, s.headroom) == (0, 0.0, 0)
    assert len(led) == 0


def test_uk_profile_24h_with_amd_false_positives_hand_computed() -> None:
    rule = apply_overrides(get_profile("uk"), {"amd_false_positive_rate": 0.1}).abandonment
    assert (rule.window, rule.cap, rule.count_amd_false_positives) == (timedelta(hours=24), 0.03, True)
    led = AbandonmentLedger(rule)
    feed(led, T0, OC.ANSWERED, 90)
    feed(led, T0, OC.ABANDONED, 1)
    feed(led, T0, OC.MACHINE, 20)  # estimated false positives: 20 * 0.1 = 2
    feed(led, T0, OC.BUSY, 7)
    s = led.snapshot(T0)
    assert (s.live, s.abandons, s.machines) == (91, 1, 20)
    assert s.numerator == pytest.approx(3.0)  # 1 + 2
    assert s.denominator == pytest.approx(93.0)  # 91 + 2
    assert s.rate == pytest.approx(3 / 93)
    assert s.headroom == 0  # floor(2.79 - 3) < 0

    t12 = T0 + timedelta(hours=12)
    feed(led, t12, OC.ANSWERED, 106)
    led.record(t12, OC.OPT_OUT)  # opted out on the safe-harbour message: an abandon
    s = led.snapshot(t12)
    assert (s.live, s.abandons) == (198, 2)
    assert s.numerator == pytest.approx(4.0)
    assert s.denominator == pytest.approx(200.0)
    assert s.rate == pytest.approx(0.02)
    assert s.headroom == 2  # floor(6 - 4)

    s = led.snapshot(T0 + timedelta(hours=24) - timedelta(seconds=1))
    assert s.denominator == pytest.approx(200.0)
    s = led.snapshot(T0 + timedelta(hours=24))
    assert (s.live, s.abandons, s.machines) == (107, 1, 0)
    assert s.rate == pytest.approx(1 / 107)
    assert s.headroom == 2  # floor(3.21 - 1)


def test_uk_without_amd_estimate_and_cn_profile() -> None:
    rule = apply_overrides(get_profile("uk"), {"count_amd_false_positives": False}).abandonment
    led = AbandonmentLedger(rule)
    feed(led, T0, OC.ANSWERED, 100)
    feed(led, T0, OC.MACHINE, 50)
    assert led.snapshot(T0).denominator == 100
    assert led.headroom(T0) == 3
    cn = AbandonmentLedger(get_profile("cn").abandonment)
    feed(cn, T0, OC.ANSWERED, 33)
    feed(cn, T0, OC.ABANDONED, 1)
    assert cn.rate(T0) == pytest.approx(1 / 34)
    assert cn.headroom(T0) == 0  # floor(1.02 - 1)


def test_headroom_at_exact_cap_and_float_roundoff() -> None:
    led = AbandonmentLedger(AbandonmentRule("t", timedelta(hours=1), 0.03))
    feed(led, T0, OC.ANSWERED, 97)
    feed(led, T0, OC.ABANDONED, 3)
    # D = 100, N = 3: exactly at cap, headroom 0 (0.03 * 100 must not round down to 2.99..)
    assert led.rate(T0) == pytest.approx(0.03)
    assert led.headroom(T0) == 0
    feed(led, T0, OC.ANSWERED, 100)
    assert led.headroom(T0) == 3  # floor(6 - 3)


def test_late_records_and_future_records() -> None:
    led = AbandonmentLedger(AbandonmentRule("t", timedelta(hours=1), 0.05))
    led.record(T0 + timedelta(minutes=30), OC.ANSWERED)
    led.record(T0 + timedelta(minutes=10), OC.ABANDONED)  # arrives late
    led.record(T0 + timedelta(minutes=50), OC.ANSWERED)
    s = led.snapshot(T0 + timedelta(minutes=40))  # the 50-minute record is in the future
    assert (s.live, s.abandons) == (2, 1)
    s = led.snapshot(T0 + timedelta(minutes=70))  # the 10-minute record dropped out
    assert (s.live, s.abandons) == (2, 0)


def test_unknown_wait_queue_hangup_is_conservatively_abandoned() -> None:
    rule = AbandonmentRule("t", timedelta(hours=1), 0.03)
    assert classify(rule, OC.QUEUE_HANGUP, None) == (1, 1, 0)
    assert classify(rule, OC.QUEUE_HANGUP, 2.0) == (1, 0, 0)  # exactly 2 s is within
    assert classify(rule, OC.ANSWERED, None) == (1, 0, 0)
    assert classify(rule, OC.UNKNOWN, None) == (0, 0, 0)
    assert classify(rule, OC.FAILED, None) == (0, 0, 0)


def test_rule_validation() -> None:
    with pytest.raises(ValueError):
        AbandonmentRule("x", timedelta(0), 0.03)
    with pytest.raises(ValueError):
        AbandonmentRule("x", timedelta(hours=1), 1.5)


outcomes = st.sampled_from(list(Outcome))


@settings(max_examples=150, deadline=None)
@given(
    records=st.lists(
        st.tuples(st.integers(0, 5 * 86400), outcomes, st.none() | st.floats(0, 10)),
        max_size=60,
    ),
    probes=st.lists(st.integers(0, 7 * 86400), min_size=1, max_size=6),
    fp=st.sampled_from([0.0, 0.05, 0.25]),
    count_fp=st.booleans(),
    window_h=st.sampled_from([1, 24, 72]),
)
def test_ledger_matches_brute_force(
    records: list[tuple[int, Outcome, float | None]],
    probes: list[int],
    fp: float,
    count_fp: bool,
    window_h: int,
) -> None:
    rule = AbandonmentRule("p", timedelta(hours=window_h), 0.03, 2.0, count_fp, fp)
    led = AbandonmentLedger(
        rule, [OutcomeRecord(T0 + timedelta(seconds=s), o, w) for s, o, w in records]
    )
    for p in sorted(probes):
        now = T0 + timedelta(seconds=p)
        live = ab = mach = 0
        for s, o, w in records:
            if p - window_h * 3600 < s <= p:
                a, b, c = classify(rule, o, w)
                live, ab, mach = live + a, ab + b, mach + c
        est = mach * fp if count_fp else 0.0
        num, den = ab + est, live + est
        snap = led.snapshot(now)
        assert (snap.live, snap.abandons, snap.machines) == (live, ab, mach)
        assert snap.rate == pytest.approx(num / den if den else 0.0)
        assert snap.headroom == (max(0, floor(0.03 * den - num + 1e-9)) if den else 0)
        if den:  # headroom is the largest h keeping (N + h) / D <= cap
            h = snap.headroom
            if h > 0:
                assert (num + h) / den <= 0.03 + 1e-9
            assert (num + h + 1) / den > 0.03 - 1e-9
