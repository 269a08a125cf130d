"""Alternate numbers (compliance.alternates): the turn, finished numbers, per-number spacing
and windows, per-contact limits; and a disposition's own retry delay (retry_after)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.alternates import ContactNumbers, next_number_action, skip_number
from compliance.attempts import (
    AttemptPolicy,
    AttemptRecord,
    DecisionKind,
    RetryRule,
    may_dial_now,
    next_action,
)
from compliance.outcomes import Disposition, DispositionSet, Outcome, OutcomeFlags
from compliance.reasons import Reason
from compliance.windows import CallingWindow, WeeklySchedule, WindowEvaluator

NOW = datetime(2026, 6, 10, 14, 0, tzinfo=UTC)  # 14:00 UTC: 10:00 in New York, 07:00 in LA
M = timedelta(minutes=1)
MAIN, ALT1, ALT2 = "+12125550101", "+13105550102", "+12125550103"
NY, LA = "America/New_York", "America/Los_Angeles"
POLICY = AttemptPolicy(
    retry_rules={"busy": RetryRule(True, (15 * M,), None), "no_answer": RetryRule(True, (120 * M,), None),
                 "congestion": RetryRule(True, (30 * M,), None)},
    min_gap_same_number=60 * M, max_attempts_per_day=10, max_attempts_total=10,
)
SWITCH = frozenset({"busy", "congestion", "wrong_number"})
ALWAYS = WindowEvaluator(CallingWindow(WeeklySchedule.every_day("00:00-24:00")))
NINE_TO_NINE = WindowEvaluator(CallingWindow(WeeklySchedule.every_day("09:00-21:00")))


def anywhere(number: str) -> tuple[WindowEvaluator, tuple[str, ...], str]:
    return ALWAYS, (NY,), NY


def by_area(number: str) -> tuple[WindowEvaluator, tuple[str, ...], str]:
    """212 numbers in New York, 310 in Los Angeles; 09:00-21:00 local."""
    zone = LA if number.startswith("+1310") else NY
    return NINE_TO_NINE, (zone,), zone


def test_busy_main_gives_the_turn_to_the_alternate_after_the_busy_delay() -> None:
    numbers = ContactNumbers((MAIN, ALT1))
    d = next_number_action(POLICY, [], Outcome.BUSY, NOW, numbers, SWITCH, anywhere)
    assert (d.decision.kind, d.decision.reason) == (DecisionKind.RETRY, Reason.NEXT_NUMBER)
    # The alternate's own history is empty: the busy delay, not the main number's 60 min gap.
    assert d.decision.at == NOW + 15 * M
    assert (d.numbers.current, d.numbers.done) == (1, frozenset())


def test_a_result_not_listed_keeps_the_turn_on_the_number_dialled() -> None:
    numbers = ContactNumbers((MAIN, ALT1))
    d = next_number_action(POLICY, [], Outcome.NO_ANSWER, NOW, numbers, SWITCH, anywhere)
    assert d.numbers.current == 0 and d.decision.at == NOW + 120 * M and d.decision.reason is Reason.RETRY


def test_the_turn_wraps_round_to_the_main_number() -> None:
    numbers = ContactNumbers((MAIN, ALT1, ALT2), current=2)
    d = next_number_action(POLICY, [], Outcome.BUSY, NOW, numbers, SWITCH, anywhere)
    assert d.numbers.current == 0


def test_a_final_listed_result_finishes_that_number_only() -> None:
    numbers = ContactNumbers((MAIN, ALT1, ALT2))
    d = next_number_action(POLICY, [], Outcome.ANSWERED, NOW, numbers, SWITCH, anywhere, disposition="wrong_number")
    assert d.decision.kind is DecisionKind.RETRY and d.decision.at == NOW  # the next number at once
    assert (d.numbers.current, d.numbers.done) == (1, frozenset({0}))
    # The last live number finished: the contact is finished.
    last = ContactNumbers((MAIN, ALT1, ALT2), current=2, done=frozenset({0, 1}))
    d = next_number_action(POLICY, [], Outcome.ANSWERED, NOW, last, SWITCH, anywhere, disposition="wrong_number")
    assert (d.decision.kind, d.decision.reason) == (DecisionKind.FINAL, Reason.FINAL_OUTCOME)


def test_a_retry_rule_that_says_no_retry_finishes_the_number() -> None:
    policy = AttemptPolicy(retry_rules={"congestion": RetryRule(False, (), None)}, min_gap_same_number=60 * M)
    d = next_number_action(policy, [], Outcome.CONGESTION, NOW, ContactNumbers((MAIN, ALT1)), SWITCH, anywhere)
    assert (d.decision.kind, d.numbers.current, d.numbers.done) == (DecisionKind.RETRY, 1, frozenset({0}))


@pytest.mark.parametrize("disposition", ["success", "not_interested", "refused"])
def test_results_about_the_person_finish_the_contact(disposition: str) -> None:
    switch = SWITCH | {"not_interested", "refused"}  # even when listed, a success or DNC ends it
    d = next_number_action(POLICY, [], Outcome.ANSWERED, NOW, ContactNumbers((MAIN, ALT1)), switch, anywhere,
                           disposition=disposition)
    if disposition == "not_interested":
        assert d.decision.kind is DecisionKind.RETRY  # listed and final: that number only
    else:
        assert d.decision.kind is DecisionKind.FINAL and d.numbers.current == 0


def test_contact_limits_are_per_contact_not_per_number() -> None:
    policy = AttemptPolicy(retry_rules=POLICY.retry_rules, max_attempts_total=3, min_gap_same_number=0 * M)
    history = [AttemptRecord(NOW - 300 * M, Outcome.BUSY, None, MAIN), AttemptRecord(NOW - 200 * M, Outcome.BUSY, None, ALT1)]
    d = next_number_action(policy, history, Outcome.BUSY, NOW, ContactNumbers((MAIN, ALT1)), SWITCH, anywhere)
    assert (d.decision.kind, d.decision.reason) == (DecisionKind.FINAL, Reason.MAX_ATTEMPTS_TOTAL)


def test_the_gap_is_per_number() -> None:
    history = [AttemptRecord(NOW - 10 * M, Outcome.BUSY, None, MAIN)]
    blocked = may_dial_now(POLICY, history, NOW, number=MAIN)
    assert (blocked.allowed, blocked.reason, blocked.not_before) == (False, Reason.MIN_GAP, NOW + 50 * M)
    assert may_dial_now(POLICY, history, NOW, number=ALT1).allowed
    # Records that do not name their number count for any number (as before alternates).
    assert not may_dial_now(POLICY, [AttemptRecord(NOW - 10 * M, Outcome.BUSY)], NOW, number=ALT1).allowed


def test_the_alternate_waits_for_its_own_window() -> None:
    # 14:00 UTC: New York (main) is open, Los Angeles (the alternate) opens at 16:00 UTC.
    d = next_number_action(POLICY, [], Outcome.BUSY, NOW, ContactNumbers((MAIN, ALT1)), SWITCH, by_area)
    assert d.numbers.current == 1 and d.decision.at == datetime(2026, 6, 10, 16, 0, tzinfo=UTC)


def test_skip_number_finishes_the_listed_number_and_passes_the_turn() -> None:
    moved = skip_number(ContactNumbers((MAIN, ALT1, ALT2), current=0, done=frozenset({1})))
    assert moved is not None and (moved.current, moved.done) == (2, frozenset({0, 1}))
    assert skip_number(ContactNumbers((MAIN, ALT1), current=1, done=frozenset({0}))) is None
    assert skip_number(ContactNumbers((MAIN,))) is None


@settings(max_examples=300, deadline=None)
@given(
    count=st.integers(1, 4),
    current=st.integers(0, 3),
    done=st.frozensets(st.integers(0, 3)),
    outcome=st.sampled_from([o for o in Outcome if o is not Outcome.ANSWERED]),
    minutes=st.integers(0, 3000),
)
def test_the_turn_never_lands_on_a_finished_number(
    count: int, current: int, done: frozenset[int], outcome: Outcome, minutes: int
) -> None:
    current %= count
    done = frozenset(i for i in done if i < count and i != current)
    numbers = ContactNumbers(tuple(f"+1212555{i:04d}" for i in range(count)), current, done)
    now = NOW + minutes * M
    d = next_number_action(POLICY, [], outcome, now, numbers, frozenset(o.value for o in Outcome), by_area)
    assert d.numbers.done >= done  # nothing finished comes back
    if d.decision.kind is not DecisionKind.FINAL:
        assert d.numbers.current not in d.numbers.done
        assert d.decision.at is not None and d.decision.at >= now
    if d.numbers.current != current:
        assert d.decision.reason is Reason.NEXT_NUMBER


def test_retry_after_replaces_the_rule_delay() -> None:
    own = Disposition("think_it_over", "Thinking it over",
                      OutcomeFlags(retry=True, contact_made=True, retry_after=timedelta(minutes=90)))
    dset = DispositionSet.default().with_overrides([own])
    policy = AttemptPolicy(min_gap_same_number=0 * M)
    d = next_action(policy, [], Outcome.ANSWERED, NOW, disposition="think_it_over", dispositions=dset)
    assert (d.kind, d.at) == (DecisionKind.RETRY, NOW + 90 * M)
    # Without it, the rule's (default) delay: 4 h.
    plain = dset.with_overrides([Disposition("think_it_over", "x", OutcomeFlags(retry=True, contact_made=True))])
    assert next_action(policy, [], Outcome.ANSWERED, NOW, disposition="think_it_over", dispositions=plain).at == NOW + 4 * 60 * M


def test_retry_after_needs_a_retrying_result() -> None:
    with pytest.raises(ValueError, match="retry_after"):
        OutcomeFlags(final=True, retry_after=timedelta(minutes=5))
