"""The uk profile's no-repeat rules (Ofcom, issue 13): 72 h after an abandoned call, a
hang-up while queued included, and 24 h after an AMD-detected machine; campaign overrides
may lengthen them, never shorten them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.attempts import (
    AttemptRecord,
    DecisionKind,
    NumberHistory,
    may_dial_now,
    next_action,
)
from compliance.outcomes import ABANDON_OUTCOMES, SYSTEM_OUTCOME_FLAGS, Outcome
from compliance.profiles import OverrideError, apply_overrides, get_profile
from compliance.reasons import Reason

NOW = datetime(2026, 6, 10, 14, 0, tzinfo=UTC)
H = timedelta(hours=1)
UK, US = get_profile("uk"), get_profile("us")


@pytest.mark.parametrize(
    ("outcome", "uk_wait", "us_wait"),
    [
        (Outcome.QUEUE_HANGUP, 72 * H, 2 * H),  # was 2 h under uk too
        (Outcome.ABANDONED, 72 * H, 2 * H),
        (Outcome.MACHINE, 24 * H, 4 * H),  # was 4 h under uk too
        (Outcome.NO_ANSWER, 2 * H, 2 * H),
        (Outcome.BUSY, timedelta(minutes=30), timedelta(minutes=30)),  # the 30-minute gap
    ],
)
def test_next_attempt_after_each_outcome(outcome: Outcome, uk_wait: timedelta, us_wait: timedelta) -> None:
    for profile, wait in ((UK, uk_wait), (US, us_wait)):
        d = next_action(profile.attempts, [], outcome, NOW)
        assert (d.kind, d.at) == (DecisionKind.RETRY, NOW + wait), profile.name


def test_a_queue_hangup_or_a_machine_blocks_the_number_in_every_campaign() -> None:
    """Another campaign's claim sees the number's history: the periods hold across campaigns,
    and clear exactly when they end."""
    policy = UK.attempts
    hung_up = NumberHistory(last_attempt_at=NOW - 10 * H, last_abandon_at=NOW - 10 * H)
    v = may_dial_now(policy, [], NOW, number_history=hung_up)
    assert (v.allowed, v.reason, v.not_before) == (False, Reason.ABANDON_COOLDOWN, NOW + 62 * H)
    assert may_dial_now(policy, [], NOW + 62 * H, number_history=hung_up).allowed
    machine = NumberHistory(last_attempt_at=NOW - 10 * H, last_machine_at=NOW - 10 * H)
    v = may_dial_now(policy, [], NOW, number_history=machine)
    assert (v.allowed, v.reason, v.not_before) == (False, Reason.MACHINE_COOLDOWN, NOW + 14 * H)
    assert may_dial_now(policy, [], NOW + 14 * H, number_history=machine).allowed
    # Ofcom's exception: a call with a live agent reserved for it (a personal callback).
    assert may_dial_now(policy, [], NOW, number_history=machine, agent_reserved=True).allowed
    assert may_dial_now(policy, [], NOW, number_history=hung_up, agent_reserved=True).allowed
    # Other profiles have no such periods.
    assert may_dial_now(US.attempts, [], NOW, number_history=machine).allowed
    assert may_dial_now(US.attempts, [], NOW, number_history=hung_up).allowed


def test_the_contacts_own_history_counts_too() -> None:
    history = [AttemptRecord(NOW - 30 * H, Outcome.QUEUE_HANGUP), AttemptRecord(NOW - 20 * H, Outcome.MACHINE)]
    v = may_dial_now(UK.attempts, history, NOW)
    assert (v.reason, v.not_before) == (Reason.ABANDON_COOLDOWN, NOW + 42 * H)  # the later of the two
    v = may_dial_now(UK.attempts, history[1:], NOW)
    assert (v.reason, v.not_before) == (Reason.MACHINE_COOLDOWN, NOW + 4 * H)


@settings(max_examples=300, deadline=None)
@given(
    outcome=st.sampled_from(list(Outcome)),
    abandon_h=st.none() | st.integers(0, 100),
    machine_h=st.none() | st.integers(0, 30),
    machine_delays=st.lists(st.integers(24 * 60, 96 * 60), min_size=1, max_size=3),
    hangup_delays=st.lists(st.integers(72 * 60, 200 * 60), min_size=1, max_size=3),
)
def test_no_retry_under_uk_falls_inside_a_no_repeat_period(
    outcome: Outcome, abandon_h: int | None, machine_h: int | None,
    machine_delays: list[int], hangup_delays: list[int],
) -> None:
    """Whatever the (allowed) retry delays and the number's history in other campaigns, a
    retry under uk comes no sooner than 72 h after the last abandoned call (queue hang-ups
    included) and 24 h after the last machine, and may_dial_now agrees at that instant."""
    profile = apply_overrides(UK, {"max_attempts_per_day": None, "retry": {
        "machine": {"delays_minutes": machine_delays, "max": 10},
        "queue_hangup": {"delays_minutes": hangup_delays, "max": 10},
    }})
    nh = NumberHistory(
        last_attempt_at=NOW - H,
        last_abandon_at=None if abandon_h is None else NOW - abandon_h * H,
        last_machine_at=None if machine_h is None else NOW - machine_h * H,
    )
    d = next_action(profile.attempts, [], outcome, NOW, number_history=nh)
    if d.kind is not DecisionKind.RETRY:
        return
    assert d.at is not None
    last_abandon = NOW if outcome in ABANDON_OUTCOMES else nh.last_abandon_at
    last_machine = NOW if outcome is Outcome.MACHINE else nh.last_machine_at
    if last_abandon is not None:
        assert d.at >= last_abandon + 72 * H
    if last_machine is not None:
        assert d.at >= last_machine + 24 * H
    after = NumberHistory(last_attempt_at=NOW, last_abandon_at=last_abandon, last_machine_at=last_machine)
    assert may_dial_now(profile.attempts, [AttemptRecord(NOW, outcome)], d.at, number_history=after).allowed


# ----------------------------------------------------------------------------- overrides

@pytest.mark.parametrize(
    ("overrides", "key", "needs"),
    [
        ({"retry": {"machine": {"delays_minutes": [60]}}}, "retry.machine", "1440 minutes"),
        ({"retry": {"machine": {"delays_minutes": [1440, 240]}}}, "retry.machine", "1440 minutes"),
        ({"retry": {"machine": True}}, "retry.machine", "1440 minutes"),  # the 1 h default delay
        ({"retry": {"queue_hangup": {"delays_minutes": [120]}}}, "retry.queue_hangup", "4320 minutes"),
        ({"retry": {"abandoned": {"delays_minutes": [4319]}}}, "retry.abandoned", "4320 minutes"),
        ({"no_repeat_after_abandon_hours": 24}, "no_repeat_after_abandon_hours", ">= 72 h"),
        ({"no_repeat_after_abandon_hours": None}, "no_repeat_after_abandon_hours", ">= 72 h"),
        ({"no_repeat_after_machine_hours": 4}, "no_repeat_after_machine_hours", ">= 24 h"),
    ],
)
def test_uk_minimums_cannot_be_shortened(overrides: dict[str, Any], key: str, needs: str) -> None:
    with pytest.raises(OverrideError) as exc:
        apply_overrides(UK, overrides)
    assert [k for k, _ in exc.value.errors] == [key]
    message = exc.value.errors[0][1]
    assert needs in message and "profile uk" in message


@pytest.mark.parametrize(
    "overrides",
    [
        {"retry": {"machine": {"delays_minutes": [1440, 2880]}}},
        {"retry": {"queue_hangup": {"delays_minutes": [4320], "max": 1}}},
        {"retry": {"machine": {"retry": False}}},  # never again: nothing to shorten
        {"retry": {"no_answer": {"delays_minutes": [30]}}},  # no period follows a no-answer
        {"no_repeat_after_abandon_hours": 96, "no_repeat_after_machine_hours": 48},
    ],
)
def test_uk_minimums_can_be_kept_or_lengthened(overrides: dict[str, Any]) -> None:
    apply_overrides(UK, overrides)


def test_other_profiles_have_no_such_minimums() -> None:
    for name in ("us", "cn", "none"):
        profile = apply_overrides(get_profile(name), {"retry": {"machine": {"delays_minutes": [60]},
                                                                "queue_hangup": {"delays_minutes": [30]}}})
        assert next_action(profile.attempts, [], Outcome.MACHINE, NOW).at == NOW + H


@settings(max_examples=200, deadline=None)
@given(
    outcome=st.sampled_from([o.value for o in Outcome]),
    delays=st.lists(st.integers(0, 120 * 60), min_size=1, max_size=4),
)
def test_a_retry_override_is_refused_exactly_when_it_is_shorter_than_the_period(
    outcome: str, delays: list[int]
) -> None:
    period = UK.attempts.no_repeat_after(outcome)
    try:
        apply_overrides(UK, {"retry": {outcome: {"delays_minutes": delays}}})
        refused = False
    except OverrideError as exc:
        assert [k for k, _ in exc.errors] == [f"retry.{outcome}"]
        refused = True
    assert refused == (period is not None and min(delays) * 60 < period.total_seconds())


def test_the_profile_says_so_itself() -> None:
    attempts = UK.attempts
    assert (attempts.no_repeat_after_abandon, attempts.no_repeat_after_machine) == (72 * H, 24 * H)
    # Its own retry delays respect its periods (the periods hold anyway).
    for outcome in Outcome:
        period = attempts.no_repeat_after(outcome)
        if period is not None and SYSTEM_OUTCOME_FLAGS[outcome].retry:
            assert min(attempts.rule_for(outcome).delays) >= period, outcome
