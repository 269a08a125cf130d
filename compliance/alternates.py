"""Alternate numbers: which of a contact's numbers the next attempt dials, and when a
number, or the contact, is finished.

A contact has its main number and may have alternates (``numbers[0]`` is the main). One
number is dialled at a time: ``current``, the number whose turn it is. After an attempt,
:func:`next_number_action` decides on top of :func:`compliance.attempts.next_action`:

* a result the campaign lists in ``alt_numbers_on`` gives the turn to the next number not
  finished (in order, wrapping round to the main), due after the result's retry delay;
* when such a result would have finished the contact for a reason about the *number* (a
  final result that is neither a success nor a DNC request, a retry rule that says no
  retry, no window ever open for it), only that number is finished; the next one is due at
  once (subject to the contact's limits and that number's window);
* the contact is finished when all its numbers are, or for a reason about the *person*:
  a success, a DNC request (opt-out, refusal), its attempt limits (total, per day, per
  result), which stay per contact because the profile's legal limits are about the person;
* a result not in ``alt_numbers_on`` keeps the turn on the number dialled, as without
  alternates;
* a number found on a DNC list when it is to be dialled is finished alone
  (:func:`skip_number`): DNC is per number.

Each number keeps its own spacing (minimum gap, no-repeat periods) and its own calling
window: the caller's ``place`` gives each number's window, zones and day zone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from compliance.attempts import (
    AttemptPolicy,
    AttemptRecord,
    CallbackRequest,
    DecisionKind,
    NumberHistory,
    RetryDecision,
    earliest_allowed,
    next_action,
    retry_delay,
)
from compliance.outcomes import DispositionSet, Outcome
from compliance.reasons import Reason
from compliance.windows import WindowEvaluator

__all__ = ["ContactNumbers", "NumberDecision", "Place", "NUMBER_REASONS", "next_number_action", "skip_number"]

#: Reasons a decision is final that are about the number dialled, not the person: with
#: alternates left, and the result listed in ``alt_numbers_on``, they finish that number only.
NUMBER_REASONS: frozenset[Reason] = frozenset(
    {Reason.FINAL_OUTCOME, Reason.RETRY_DISABLED, Reason.NO_OPEN_WINDOW}
)

#: Where a number is called: its window evaluator (None: no window), its zones, and the zone
#: whose local day the per-day limit counts in.
Place = Callable[[str], tuple[WindowEvaluator | None, tuple[str, ...], str]]


@dataclass(frozen=True, slots=True)
class ContactNumbers:
    """A contact's numbers (main first), the one whose turn it is, and those finished."""

    numbers: tuple[str, ...]
    current: int = 0
    done: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.numbers:
            raise ValueError("a contact has at least its main number")
        if not 0 <= self.current < len(self.numbers):
            raise ValueError(f"number index {self.current} out of range")
        if any(not 0 <= i < len(self.numbers) for i in self.done):
            raise ValueError("a finished number index is out of range")

    @property
    def number(self) -> str:
        return self.numbers[self.current]

    def others(self) -> list[int]:
        """The other numbers not finished, in turn order after the current one."""
        n = len(self.numbers)
        order = ((self.current + step) % n for step in range(1, n))
        return [i for i in order if i not in self.done]


@dataclass(frozen=True, slots=True)
class NumberDecision:
    """The contact's decision, and its numbers after it (``current``: the next one dialled)."""

    decision: RetryDecision
    numbers: ContactNumbers


def skip_number(numbers: ContactNumbers) -> ContactNumbers | None:
    """The number whose turn it is may never be dialled (on a DNC list): it is finished and
    the turn passes to the next number not finished; None when none is left."""
    others = numbers.others()
    if not others:
        return None
    return ContactNumbers(numbers.numbers, others[0], numbers.done | {numbers.current})


def next_number_action(
    policy: AttemptPolicy,
    history: Sequence[AttemptRecord],
    outcome: Outcome,
    now: datetime,
    numbers: ContactNumbers,
    switch_on: frozenset[str],
    place: Place,
    *,
    disposition: str | None = None,
    dispositions: DispositionSet | None = None,
    callback: CallbackRequest | None = None,
    number_history: NumberHistory = NumberHistory(),
) -> NumberDecision:
    """What follows the attempt that dialled ``numbers.number`` and just ended at ``now``.

    ``history``: the contact's earlier attempts (all its numbers, oldest first, each
    naming its number). ``number_history``: what is known of the number dialled across
    all campaigns. The next number's own history across campaigns is not known here: the
    engine checks it again when that number is claimed and dialled.
    """
    dialled = numbers.number
    window, zones, day_zone = place(dialled)
    base = next_action(
        policy, history, outcome, now, disposition=disposition, dispositions=dispositions,
        callback=callback, number_history=number_history, window=window, zones=zones,
        day_zone=day_zone, number=dialled,
    )
    key = disposition or outcome.value
    if key not in switch_on or not numbers.others() or base.kind is DecisionKind.CALLBACK:
        return NumberDecision(base, numbers)
    if base.kind is DecisionKind.FINAL and base.reason not in NUMBER_REASONS:
        return NumberDecision(base, numbers)  # about the person: the contact is finished
    finished = base.kind is DecisionKind.FINAL
    done = numbers.done | {numbers.current} if finished else numbers.done
    flags = (dispositions or DispositionSet.default()).flags(outcome, disposition)
    delay = timedelta(0) if finished else retry_delay(policy, history, key, flags)
    hist = (*history, AttemptRecord(now, outcome, disposition, dialled))
    for index in numbers.others():
        number = numbers.numbers[index]
        next_window, next_zones, next_day = place(number)
        at = earliest_allowed(policy, hist, now + delay, NumberHistory(), False, next_day, False,
                              next_window, next_zones, number)
        if at is None:
            done = done | {index}  # no window ever opens for it: finished too
            continue
        moved = ContactNumbers(numbers.numbers, index, done)
        return NumberDecision(
            RetryDecision(DecisionKind.RETRY, at, Reason.NEXT_NUMBER, contact_made=base.contact_made), moved
        )
    # No other number can be called: the dialled one keeps the turn, or all are finished.
    return NumberDecision(base, ContactNumbers(numbers.numbers, numbers.current, done))
