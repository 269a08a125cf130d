"""Attempt policy: retries, limits, abandon cool-down, callbacks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.attempts import (
    AttemptPolicy,
    AttemptRecord,
    CallbackRequest,
    DecisionKind,
    NumberHistory,
    RetryRule,
    may_dial_now,
    next_action,
    resolve_local_time,
)
from compliance.dnc import DncScope
from compliance.outcomes import Disposition, DispositionSet, DncAction, Outcome, OutcomeFlags
from compliance.profiles import get_profile
from compliance.reasons import Reason
from compliance.windows import CallingWindow, WeeklySchedule, WindowEvaluator

NOW = datetime(2026, 6, 10, 14, 0, tzinfo=UTC)  # a Wednesday
H = timedelta(hours=1)
OC = Outcome
POLICY = AttemptPolicy()


def rec(delta: timedelta, outcome: Outcome, disposition: str | None = None) -> AttemptRecord:
    return AttemptRecord(NOW + delta, outcome, disposition)


def test_retry_delays_list_and_max_per_outcome() -> None:
    d = next_action(POLICY, [], OC.NO_ANSWER, NOW)
    assert (d.kind, d.at, d.reason) == (DecisionKind.RETRY, NOW + 2 * H, Reason.RETRY)
    hist = [rec(-30 * H, OC.NO_ANSWER)]
    assert next_action(POLICY, hist, OC.NO_ANSWER, NOW).at == NOW + 4 * H
    hist = [rec(-70 * H, OC.NO_ANSWER), rec(-50 * H, OC.NO_ANSWER), rec(-30 * H, OC.NO_ANSWER)]
    assert next_action(POLICY, hist, OC.NO_ANSWER, NOW).at == NOW + 24 * H  # last delay repeats
    hist.append(rec(-10 * H, OC.NO_ANSWER))
    d = next_action(POLICY, hist, OC.NO_ANSWER, NOW)  # 5th no-answer, max 5
    assert (d.kind, d.reason) == (DecisionKind.FINAL, Reason.MAX_RETRIES_OUTCOME)


def test_min_gap_overrides_short_delay() -> None:
    policy = AttemptPolicy(
        retry_rules={"busy": RetryRule(True, (timedelta(minutes=5),), None)},
        min_gap_same_number=timedelta(minutes=45),
    )
    assert next_action(policy, [], OC.BUSY, NOW).at == NOW + timedelta(minutes=45)


def test_max_attempts_per_day_moves_to_next_local_midnight() -> None:
    policy = AttemptPolicy(max_attempts_per_day=2, min_gap_same_number=timedelta(0))
    hist = [rec(-3 * H, OC.BUSY)]
    d = next_action(policy, hist, OC.BUSY, NOW, day_zone="America/New_York")
    # 2nd attempt today (New York date 10 June); next day starts 04:00 UTC on 11 June (EDT)
    assert d.at == datetime(2026, 6, 11, 4, 0, tzinfo=UTC)
    v = may_dial_now(policy, [*hist, rec(-H, OC.BUSY)], NOW, day_zone="America/New_York")
    assert (v.allowed, v.reason) == (False, Reason.MAX_ATTEMPTS_DAY)
    assert v.not_before == datetime(2026, 6, 11, 4, 0, tzinfo=UTC)


def test_max_attempts_total_is_final() -> None:
    policy = AttemptPolicy(max_attempts_total=3, max_attempts_per_day=None)
    hist = [rec(-72 * H, OC.BUSY), rec(-48 * H, OC.NO_ANSWER)]
    d = next_action(policy, hist, OC.NO_ANSWER, NOW)
    assert (d.kind, d.reason) == (DecisionKind.FINAL, Reason.MAX_ATTEMPTS_TOTAL)
    v = may_dial_now(policy, [*hist, rec(-24 * H, OC.BUSY)], NOW)
    assert v.reason is Reason.MAX_ATTEMPTS_TOTAL


def test_uk_no_repeat_within_72h_after_abandon() -> None:
    uk = get_profile("uk").attempts
    d = next_action(uk, [], OC.ABANDONED, NOW)
    assert d.kind is DecisionKind.RETRY and d.at == NOW + 72 * H
    # abandon 10 h ago in another campaign, no answer now: wait until 72 h after the abandon
    nh = NumberHistory(last_attempt_at=NOW - 10 * H, last_abandon_at=NOW - 10 * H)
    d = next_action(uk, [], OC.NO_ANSWER, NOW, number_history=nh)
    assert d.at == NOW + 62 * H
    v = may_dial_now(uk, [], NOW, number_history=nh)
    assert (v.allowed, v.reason, v.not_before) == (False, Reason.ABANDON_COOLDOWN, NOW + 62 * H)
    # an agent reserved for the call lifts the cool-down
    assert may_dial_now(uk, [], NOW, number_history=nh, agent_reserved=True).allowed
    # US has no such rule
    assert next_action(get_profile("us").attempts, [], OC.ABANDONED, NOW).at == NOW + 2 * H


def test_dispositions_final_dnc_success() -> None:
    us, uk, cn = (get_profile(n).attempts for n in ("us", "uk", "cn"))
    d = next_action(cn, [], OC.ANSWERED, NOW, disposition="refused")
    assert (d.kind, d.dnc, d.reason) == (DecisionKind.FINAL, DncScope.GLOBAL, Reason.DNC_ADDED)
    assert next_action(uk, [], OC.ANSWERED, NOW, disposition="refused").dnc is DncScope.CAMPAIGN
    assert next_action(us, [], OC.ANSWERED, NOW, disposition="complaint").dnc is DncScope.GLOBAL
    assert next_action(us, [], OC.OPT_OUT, NOW).dnc is DncScope.GLOBAL
    d = next_action(us, [], OC.ANSWERED, NOW, disposition="success")
    assert (d.kind, d.success, d.contact_made) == (DecisionKind.FINAL, True, True)
    d = next_action(us, [], OC.ANSWERED, NOW, disposition="not_interested")
    assert (d.kind, d.reason) == (DecisionKind.FINAL, Reason.FINAL_OUTCOME)
    d = next_action(us, [], OC.ANSWERED, NOW, disposition="hesitating")
    assert (d.kind, d.at) == (DecisionKind.RETRY, NOW + 48 * H)
    d = next_action(us, [], OC.NO_ANSWER, NOW, blocked_by_dnc=True)
    assert d.kind is DecisionKind.FINAL and d.reason is Reason.DNC_GLOBAL


def test_campaign_defined_dispositions() -> None:
    dset = DispositionSet.default().with_overrides(
        [Disposition("appointment", "Appointment", OutcomeFlags(final=True, contact_made=True, success=True)),
         Disposition("moved", "Moved abroad", OutcomeFlags(final=True, dnc=DncAction.CAMPAIGN))]
    )
    assert len(dset) == len(DispositionSet.default()) + 2
    d = next_action(POLICY, [], OC.ANSWERED, NOW, disposition="moved", dispositions=dset)
    assert d.dnc is DncScope.CAMPAIGN
    assert next_action(POLICY, [], OC.ANSWERED, NOW, disposition="appointment", dispositions=dset).success


def test_retry_lands_in_window() -> None:
    w = WindowEvaluator(CallingWindow(WeeklySchedule.every_day("09:00-12:00,14:00-20:00")))
    zones = ("Asia/Shanghai",)
    # 14:00 UTC = 22:00 Shanghai; +2 h = 00:00 -> next opening 09:00 Shanghai = 01:00 UTC
    d = next_action(POLICY, [], OC.NO_ANSWER, NOW, window=w, zones=zones)
    assert d.at == datetime(2026, 6, 11, 1, 0, tzinfo=UTC)
    closed = WindowEvaluator(CallingWindow(WeeklySchedule.closed()))
    d = next_action(POLICY, [], OC.NO_ANSWER, NOW, window=closed, zones=zones)
    assert (d.kind, d.reason) == (DecisionKind.FINAL, Reason.NO_OPEN_WINDOW)


def test_callbacks_personal_and_any_agent_obey_windows() -> None:
    w = WindowEvaluator(CallingWindow(WeeklySchedule.every_day("09:00-20:00")))
    zones = ("Europe/London",)
    cb = CallbackRequest(datetime(2026, 6, 11, 10, 30), "Europe/London", agent_id="a7")
    d = next_action(POLICY, [], OC.ANSWERED, NOW, disposition="callback", callback=cb, window=w, zones=zones)
    assert d.kind is DecisionKind.CALLBACK and d.reason is Reason.CALLBACK
    assert d.at == datetime(2026, 6, 11, 9, 30, tzinfo=UTC)  # 10:30 BST
    assert d.agent_id == "a7" and d.reserved_until == d.at + timedelta(minutes=30)
    # requested 21:30 local: the window is closed, moved to 09:00 next day
    late = CallbackRequest(datetime(2026, 6, 11, 21, 30), "Europe/London")
    d = next_action(POLICY, [], OC.ANSWERED, NOW, disposition="callback", callback=late, window=w, zones=zones)
    assert (d.reason, d.at, d.agent_id) == (
        Reason.CALLBACK_SHIFTED, datetime(2026, 6, 12, 8, 0, tzinfo=UTC), None,
    )
    # UK cool-down: an any-agent callback 10 h after an abandon waits; a personal one does not
    uk = get_profile("uk").attempts
    nh = NumberHistory(last_abandon_at=NOW - 2 * H)
    soon = CallbackRequest(datetime(2026, 6, 10, 17, 0), "Europe/London")
    d = next_action(uk, [], OC.ANSWERED, NOW, disposition="callback", callback=soon, number_history=nh)
    assert d.at == NOW + 70 * H and d.reason is Reason.CALLBACK_SHIFTED
    mine = CallbackRequest(datetime(2026, 6, 10, 17, 0), "Europe/London", agent_id="a1")
    d = next_action(uk, [], OC.ANSWERED, NOW, disposition="callback", callback=mine, number_history=nh)
    assert d.at == datetime(2026, 6, 10, 16, 0, tzinfo=UTC)


def test_may_dial_now_not_due_and_gap() -> None:
    v = may_dial_now(POLICY, [], NOW, next_attempt_at=NOW + H)
    assert (v.allowed, v.reason) == (False, Reason.NOT_DUE)
    v = may_dial_now(POLICY, [], NOW, number_history=NumberHistory(last_attempt_at=NOW - timedelta(minutes=10)))
    assert (v.reason, v.not_before) == (Reason.MIN_GAP, NOW + timedelta(minutes=20))
    assert may_dial_now(POLICY, [rec(-H, OC.BUSY)], NOW)


def test_resolve_local_time_dst() -> None:
    ny = "America/New_York"
    # 02:30 on 8 March 2026 does not exist: moves to 03:00 EDT = 07:00 UTC
    assert resolve_local_time(datetime(2026, 3, 8, 2, 30), ny) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    # 01:30 on 1 November 2026 happens twice: first occurrence (EDT)
    assert resolve_local_time(datetime(2026, 11, 1, 1, 30), ny) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    t = resolve_local_time(datetime(2026, 7, 1, 9, 0), "Australia/Sydney")
    assert t.astimezone(ZoneInfo("Australia/Sydney")).hour == 9


# ----------------------------------------------------------------------------- properties

RETRY_OUTCOMES = [OC.NO_ANSWER, OC.BUSY, OC.CONGESTION, OC.FAILED, OC.MACHINE, OC.ABANDONED,
                  OC.QUEUE_HANGUP, OC.UNKNOWN]
PROP_WINDOW = WindowEvaluator(CallingWindow(WeeklySchedule.from_mapping(
    {"weekdays": "09:00-12:00,13:00-20:00", "sat": "10:00-14:00"})))


@settings(max_examples=150, deadline=None)
@given(
    profile=st.sampled_from(["us", "uk", "cn", "none"]),
    past=st.lists(st.tuples(st.integers(1, 200), st.sampled_from(RETRY_OUTCOMES)), max_size=6),
    outcome=st.sampled_from(RETRY_OUTCOMES),
    other_abandon_h=st.none() | st.integers(0, 100),
    zone=st.sampled_from(["Europe/London", "America/Chicago", "Australia/Sydney"]),
    use_window=st.booleans(),
)
def test_retry_time_is_dialable(
    profile: str,
    past: list[tuple[int, Outcome]],
    outcome: Outcome,
    other_abandon_h: int | None,
    zone: str,
    use_window: bool,
) -> None:
    """Whenever next_action schedules a retry, may_dial_now allows it at that instant,
    the calling window is open then, and no earlier instant satisfies the limits."""
    policy = get_profile(profile).attempts
    hist = sorted((rec(-timedelta(hours=h), o) for h, o in past), key=lambda a: a.at)
    nh = NumberHistory(
        last_abandon_at=None if other_abandon_h is None else NOW - timedelta(hours=other_abandon_h)
    )
    window = PROP_WINDOW if use_window else None
    d = next_action(policy, hist, outcome, NOW, number_history=nh, window=window,
                    zones=(zone,), day_zone=zone)
    if d.kind is not DecisionKind.RETRY:
        return
    assert d.at is not None and d.at > NOW
    new_hist = [*hist, AttemptRecord(NOW, outcome)]
    ab = NOW if outcome is OC.ABANDONED else nh.last_abandon_at
    nh2 = NumberHistory(last_attempt_at=NOW, last_abandon_at=ab)
    v = may_dial_now(policy, new_hist, d.at, number_history=nh2, day_zone=zone)
    assert v.allowed, v
    if window is not None:
        assert window.is_callable((zone,), d.at)
    if policy.no_repeat_after_abandon is not None and ab is not None:
        assert d.at >= ab + policy.no_repeat_after_abandon
    assert d.at >= NOW + policy.min_gap_same_number
