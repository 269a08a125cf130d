"""Attempt policy: may a contact be dialled now, and what happens after an outcome.

Inputs are plain data: the contact's previous attempts in this campaign
(:class:`AttemptRecord`, oldest first), what is known about the *number*
across all campaigns (:class:`NumberHistory`), the time, and optionally a
calling window evaluator and the contact's zones.

Rules applied (all from :class:`AttemptPolicy`):

* per outcome / disposition: retry or not, delay (fixed, or a list indexed by
  how many times this result has occurred for the contact, the last delay
  repeating), and a maximum number of attempts ending in that result;
* maximum attempts per contact per local day (``day_zone``) and in total;
* minimum gap between two calls to the same number across campaigns;
* no call within ``no_repeat_after_abandon`` of an abandoned call to the number
  (UK: 72 h; abandoned, hung up while queued or opted out:
  :data:`~compliance.outcomes.ABANDON_OUTCOMES`) unless an agent is reserved for the call;
* no call within ``no_repeat_after_machine`` of a call to the number that AMD classified
  as a machine (UK: 24 h, Ofcom) unless an agent is reserved for the call;
* callbacks booked by an agent for a local time the customer chose, personal
  (reserved for that agent) or for any agent; they obey windows and DNC too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from zoneinfo import ZoneInfo

from compliance.dnc import DncScope
from compliance.outcomes import ABANDON_OUTCOMES, DispositionSet, DncAction, Outcome, OutcomeFlags
from compliance.reasons import Reason
from compliance.windows import WindowEvaluator

__all__ = [
    "RetryRule",
    "AttemptPolicy",
    "AttemptRecord",
    "NumberHistory",
    "CallbackRequest",
    "DecisionKind",
    "RetryDecision",
    "Verdict",
    "next_action",
    "may_dial_now",
    "resolve_local_time",
    "earliest_allowed",
    "retry_delay",
    "DEFAULT_RETRY_RULES",
]


@dataclass(frozen=True, slots=True)
class RetryRule:
    """Retry rule for one outcome or disposition.

    ``delays[i]`` is the wait after the (i+1)-th attempt ending in this result;
    the last delay repeats. ``max_attempts``: once this many attempts of the
    contact ended in this result, the contact is final (None = no limit).
    """

    retry: bool = True
    delays: tuple[timedelta, ...] = (timedelta(hours=1),)
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        if self.retry and not self.delays:
            raise ValueError("a retrying rule needs at least one delay")
        if any(d < timedelta(0) for d in self.delays):
            raise ValueError("retry delays must be >= 0")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")

    def delay_for(self, occurrence: int) -> timedelta:
        """Delay after the ``occurrence``-th (1-based) attempt ending in this result."""
        return self.delays[min(occurrence, len(self.delays)) - 1]


_M = timedelta(minutes=1)
_H = timedelta(hours=1)

DEFAULT_RETRY_RULES: Mapping[str, RetryRule] = MappingProxyType(
    {
        Outcome.NO_ANSWER.value: RetryRule(True, (2 * _H, 4 * _H, 24 * _H), 5),
        Outcome.BUSY.value: RetryRule(True, (15 * _M, 30 * _M, 2 * _H), 5),
        Outcome.CONGESTION.value: RetryRule(True, (30 * _M, 4 * _H), 3),
        Outcome.FAILED.value: RetryRule(True, (30 * _M, 4 * _H), 3),
        Outcome.MACHINE.value: RetryRule(True, (4 * _H, 24 * _H), 3),
        Outcome.ABANDONED.value: RetryRule(True, (2 * _H,), 2),
        Outcome.QUEUE_HANGUP.value: RetryRule(True, (2 * _H,), 2),
        Outcome.UNKNOWN.value: RetryRule(True, (30 * _M,), 3),
        "hesitating": RetryRule(True, (48 * _H,), 2),
        "data_correction": RetryRule(True, (24 * _H,), 2),
    }
)


@dataclass(frozen=True)
class AttemptPolicy:
    """Attempt limits and retry rules (all overridable per campaign)."""

    retry_rules: Mapping[str, RetryRule] = field(default_factory=lambda: DEFAULT_RETRY_RULES)
    default_rule: RetryRule = RetryRule(True, (4 * _H,), 3)
    max_attempts_per_day: int | None = 3
    max_attempts_total: int | None = 10
    min_gap_same_number: timedelta = timedelta(minutes=30)
    no_repeat_after_abandon: timedelta | None = None
    no_repeat_after_machine: timedelta | None = None
    refusal_dnc_scope: DncScope = DncScope.CAMPAIGN
    callbacks_bypass_limits: bool = True
    personal_callback_grace: timedelta = timedelta(minutes=30)

    def __post_init__(self) -> None:
        object.__setattr__(self, "retry_rules", MappingProxyType(dict(self.retry_rules)))
        for name in ("max_attempts_per_day", "max_attempts_total"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ValueError(f"{name} must be >= 1 or None")
        if self.min_gap_same_number < timedelta(0):
            raise ValueError("min_gap_same_number must be >= 0")
        for name in ("no_repeat_after_abandon", "no_repeat_after_machine"):
            v = getattr(self, name)
            if v is not None and v < timedelta(0):
                raise ValueError(f"{name} must be >= 0 or None")

    def rule_for(self, key: str) -> RetryRule:
        return self.retry_rules.get(key, self.default_rule)

    def no_repeat_after(self, outcome: Outcome | str) -> timedelta | None:
        """How long the number may not be called after an attempt ending in ``outcome``
        (the floor under any retry delay for it), or None."""
        if outcome in ABANDON_OUTCOMES:
            return self.no_repeat_after_abandon
        if outcome == Outcome.MACHINE:
            return self.no_repeat_after_machine
        return None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """A previous attempt of this contact in this campaign (``at`` = when it was placed)."""

    at: datetime
    outcome: Outcome
    disposition: str | None = None
    # The number dialled (None: unknown, taken as the number being checked). The spacing
    # rules are per number; the attempt counts are per contact (the person).
    number: str | None = None

    @property
    def key(self) -> str:
        return self.disposition or self.outcome.value


@dataclass(frozen=True, slots=True)
class NumberHistory:
    """What is known about the number across *all* campaigns."""

    last_attempt_at: datetime | None = None
    last_abandon_at: datetime | None = None  # last call ending in one of ABANDON_OUTCOMES
    last_machine_at: datetime | None = None  # last call AMD classified as a machine


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """A callback an agent booked: local wall-clock time in ``zone`` (naive datetime).

    ``agent_id`` set = personal callback reserved for that agent; None = any agent.
    """

    local_time: datetime
    zone: str
    agent_id: str | None = None


class DecisionKind(StrEnum):
    FINAL = "final"
    RETRY = "retry"
    CALLBACK = "callback"


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What to do with the contact after an attempt.

    ``at``: when the next attempt may be made (RETRY/CALLBACK), None for FINAL.
    ``dnc``: scope to add the number to the DNC list with, or None.
    ``agent_id``: the agent a personal callback is reserved for.
    ``reserved_until``: after this instant a personal callback may go to any agent.
    """

    kind: DecisionKind
    at: datetime | None
    reason: Reason
    dnc: DncScope | None = None
    success: bool = False
    contact_made: bool = False
    agent_id: str | None = None
    reserved_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    reason: Reason
    not_before: datetime | None = None  # when this block clears, if known

    def __bool__(self) -> bool:
        return self.allowed


_OK = Verdict(True, Reason.OK)


def resolve_local_time(local: datetime, zone: str) -> datetime:
    """A naive local wall-clock time in ``zone`` as an aware UTC instant.

    A time in a skipped (DST gap) hour moves forward to the first valid instant
    after the gap; a repeated time resolves to its first occurrence.
    """
    tz = ZoneInfo(zone)
    naive = local.replace(tzinfo=None)
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    u0, u1 = first.astimezone(UTC), second.astimezone(UTC)
    if u0.astimezone(tz).replace(tzinfo=None) == naive:
        return u0
    if u1.astimezone(tz).replace(tzinfo=None) == naive:
        return u1
    # Non-existent wall time: the transition instant lies between u1 and u0.
    lo, hi = min(u0, u1), max(u0, u1)
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).replace(tzinfo=None) < naive:
            lo = mid
        else:
            hi = mid
    return hi.replace(microsecond=0)


def _local_date(t: datetime, tz: ZoneInfo) -> date:
    return t.astimezone(tz).date()


def _next_local_midnight(now: datetime, tz: ZoneInfo) -> datetime:
    d = _local_date(now, tz) + timedelta(days=1)
    return resolve_local_time(datetime(d.year, d.month, d.day), tz.key)


def _limit_checks(
    policy: AttemptPolicy,
    history: Sequence[AttemptRecord],
    now: datetime,
    number_history: NumberHistory,
    agent_reserved: bool,
    day_zone: str,
    extra_attempts: int,
    is_callback: bool,
    number: str | None = None,
) -> Verdict:
    """Shared limit logic. ``extra_attempts``: attempts not yet in ``history``
    (1 in next_action for the attempt just ended). The attempt counts are the contact's;
    the gap and the no-repeat periods are the number's (``number``: the one to dial; its
    own earlier attempts only, when the records name their numbers)."""
    total = len(history) + extra_attempts
    limits = not (is_callback and policy.callbacks_bypass_limits)
    if limits and policy.max_attempts_total is not None and total >= policy.max_attempts_total:
        return Verdict(False, Reason.MAX_ATTEMPTS_TOTAL)
    blocks: list[Verdict] = []
    if limits and policy.max_attempts_per_day is not None:
        tz = ZoneInfo(day_zone)
        today = _local_date(now, tz)
        n_today = extra_attempts + sum(1 for a in history if _local_date(a.at, tz) == today)
        if n_today >= policy.max_attempts_per_day:
            blocks.append(Verdict(False, Reason.MAX_ATTEMPTS_DAY, _next_local_midnight(now, tz)))
    last = number_history.last_attempt_at
    same = [a for a in history if number is None or a.number is None or a.number == number]
    if same and (last is None or same[-1].at > last):
        last = same[-1].at
    if extra_attempts:
        last = now
    if last is not None and policy.min_gap_same_number > timedelta(0):
        clear = last + policy.min_gap_same_number
        if now < clear:
            blocks.append(Verdict(False, Reason.MIN_GAP, clear))
    if not agent_reserved:
        cooldowns = (
            (policy.no_repeat_after_abandon, number_history.last_abandon_at, ABANDON_OUTCOMES,
             Reason.ABANDON_COOLDOWN),
            (policy.no_repeat_after_machine, number_history.last_machine_at, _MACHINE,
             Reason.MACHINE_COOLDOWN),
        )
        for period, last_at, outcomes, reason in cooldowns:
            if period is None:
                continue
            since = _last_of(same, outcomes, last_at)
            if since is not None and now < since + period:
                blocks.append(Verdict(False, reason, since + period))
    if not blocks:
        return _OK
    # report the block that clears last (it is the binding one)
    return max(blocks, key=lambda v: v.not_before or now)


_MACHINE = frozenset({Outcome.MACHINE})


def _last_of(
    history: Sequence[AttemptRecord], outcomes: frozenset[Outcome], known: datetime | None
) -> datetime | None:
    """The later of ``known`` and the contact's last attempt ending in one of ``outcomes``."""
    for a in reversed(history):
        if a.outcome in outcomes:
            return a.at if known is None or a.at > known else known
    return known


def may_dial_now(
    policy: AttemptPolicy,
    history: Sequence[AttemptRecord],
    now: datetime,
    *,
    number_history: NumberHistory = NumberHistory(),
    agent_reserved: bool = False,
    day_zone: str = "UTC",
    next_attempt_at: datetime | None = None,
    is_callback: bool = False,
    number: str | None = None,
) -> Verdict:
    """May the contact be dialled at ``now`` under the attempt policy?

    Checks, in order: not before ``next_attempt_at``; total attempts; attempts
    today (local day in ``day_zone``); minimum gap since the last call to the
    number (any campaign); no repeat after an abandoned call or an AMD-detected
    machine unless ``agent_reserved``. Callbacks skip the attempt-count limits when
    ``policy.callbacks_bypass_limits``; gaps and the abandon rule still apply.
    Windows and DNC are checked elsewhere (:mod:`compliance.check`).
    """
    if next_attempt_at is not None and now < next_attempt_at:
        return Verdict(False, Reason.NOT_DUE, next_attempt_at)
    return _limit_checks(
        policy, history, now, number_history, agent_reserved, day_zone, 0, is_callback, number
    )


def _dnc_scope(policy: AttemptPolicy, flags: OutcomeFlags) -> DncScope | None:
    if flags.dnc is DncAction.NONE:
        return None
    if flags.dnc is DncAction.GLOBAL:
        return DncScope.GLOBAL
    if flags.dnc is DncAction.CAMPAIGN:
        return DncScope.CAMPAIGN
    return policy.refusal_dnc_scope


def next_action(
    policy: AttemptPolicy,
    history: Sequence[AttemptRecord],
    outcome: Outcome,
    now: datetime,
    *,
    disposition: str | None = None,
    dispositions: DispositionSet | None = None,
    callback: CallbackRequest | None = None,
    number_history: NumberHistory = NumberHistory(),
    window: WindowEvaluator | None = None,
    zones: tuple[str, ...] = (),
    day_zone: str = "UTC",
    blocked_by_dnc: bool = False,
    number: str | None = None,
) -> RetryDecision:
    """Decide what follows the attempt that just ended at ``now``.

    ``history``: the contact's *earlier* attempts in this campaign (oldest
    first, not including this one). ``outcome``/``disposition``: the result of
    this attempt. ``blocked_by_dnc``: the number is on a DNC list now (e.g. the
    customer opted out); the contact then becomes final.

    The earliest next attempt is the latest of: the retry delay; the minimum
    gap; the no-repeat periods after an abandoned call and after a machine
    (unless a callback reserved for an agent); the next local midnight in ``day_zone`` when today's limit is used
    up; then, with ``window``, the next opening of the calling window in all
    ``zones``. Nothing open within the horizon makes the contact final
    (``no_open_window``).

    For an answered call pass the agent's ``disposition``; ``ANSWERED`` without
    one is final (``retry_disabled``), as the agent spoke to the customer.

    ``number``: the number this attempt dialled (a contact may have alternates): the gap and
    the no-repeat periods count that number's attempts only. A result whose flags carry a
    ``retry_after`` (a disposition's own delay) waits that long instead of its rule's delay.

    Callbacks (a disposition flagged ``callback`` with a ``callback`` request):
    the requested local time is resolved to UTC; if the window is closed then,
    the callback moves to the next opening (``callback_shifted``).
    """
    dset = dispositions or DispositionSet.default()
    flags = dset.flags(outcome, disposition)
    key = disposition or outcome.value
    dnc = _dnc_scope(policy, flags)
    cm = flags.contact_made

    if dnc is not None:
        return RetryDecision(DecisionKind.FINAL, None, Reason.DNC_ADDED, dnc=dnc, contact_made=cm)
    if blocked_by_dnc:
        return RetryDecision(DecisionKind.FINAL, None, Reason.DNC_GLOBAL, contact_made=cm)
    if flags.success:
        return RetryDecision(DecisionKind.FINAL, None, Reason.SUCCESS, success=True, contact_made=cm)
    if flags.final:
        return RetryDecision(DecisionKind.FINAL, None, Reason.FINAL_OUTCOME, contact_made=cm)

    nh = NumberHistory(
        last_attempt_at=now,
        last_abandon_at=now if outcome in ABANDON_OUTCOMES else number_history.last_abandon_at,
        last_machine_at=now if outcome is Outcome.MACHINE else number_history.last_machine_at,
    )
    hist = (*history, AttemptRecord(now, outcome, disposition, number))

    if flags.callback and callback is not None:
        at = resolve_local_time(callback.local_time, callback.zone)
        reserved = callback.agent_id is not None
        settled = earliest_allowed(policy, hist, max(at, now), nh, reserved, day_zone, True, window, zones, number)
        if settled is None:
            return RetryDecision(DecisionKind.FINAL, None, Reason.NO_OPEN_WINDOW, contact_made=cm)
        earliest = settled
        reason = Reason.CALLBACK if earliest <= at else Reason.CALLBACK_SHIFTED
        until = earliest + policy.personal_callback_grace if reserved else None
        return RetryDecision(
            DecisionKind.CALLBACK,
            earliest,
            reason,
            contact_made=cm,
            agent_id=callback.agent_id,
            reserved_until=until,
        )

    rule = policy.rule_for(key)
    occurrences = 1 + sum(1 for a in history if a.key == key)
    if not (flags.retry or flags.callback) or not rule.retry:
        return RetryDecision(DecisionKind.FINAL, None, Reason.RETRY_DISABLED, contact_made=cm)
    if rule.max_attempts is not None and occurrences >= rule.max_attempts:
        return RetryDecision(DecisionKind.FINAL, None, Reason.MAX_RETRIES_OUTCOME, contact_made=cm)
    lim = _limit_checks(policy, history, now, number_history, False, day_zone, 1, False, number)
    if not lim.allowed and lim.reason is Reason.MAX_ATTEMPTS_TOTAL:
        return RetryDecision(DecisionKind.FINAL, None, Reason.MAX_ATTEMPTS_TOTAL, contact_made=cm)
    delay = retry_delay(policy, history, key, flags)
    retry_at = earliest_allowed(policy, hist, now + delay, nh, False, day_zone, False, window, zones, number)
    if retry_at is None:
        return RetryDecision(DecisionKind.FINAL, None, Reason.NO_OPEN_WINDOW, contact_made=cm)
    return RetryDecision(DecisionKind.RETRY, retry_at, Reason.RETRY, contact_made=cm)


def retry_delay(
    policy: AttemptPolicy, history: Sequence[AttemptRecord], key: str, flags: OutcomeFlags
) -> timedelta:
    """The wait before retrying after a result ``key`` (the contact's earlier attempts in
    ``history``): the result's own ``retry_after`` when it has one, else its rule's delay for
    this occurrence."""
    if flags.retry_after is not None:
        return flags.retry_after
    occurrences = 1 + sum(1 for a in history if a.key == key)
    return policy.rule_for(key).delay_for(occurrences)


def earliest_allowed(
    policy: AttemptPolicy,
    history: Sequence[AttemptRecord],
    earliest: datetime,
    number_history: NumberHistory,
    reserved: bool,
    day_zone: str,
    is_callback: bool,
    window: WindowEvaluator | None,
    zones: tuple[str, ...],
    number: str | None = None,
) -> datetime | None:
    """The first instant from `earliest` that every limit allows, moved to the next opening of
    the window; None when the window never opens within its horizon."""
    # Each limit may clear at a different time; re-check at the candidate until stable.
    for _ in range(8):
        v = _limit_checks(policy, history, earliest, number_history, reserved, day_zone, 0, is_callback, number)
        if v.allowed or v.not_before is None:
            break
        earliest = max(earliest, v.not_before)
    if window is not None:
        return window.next_open(zones, earliest)
    return earliest
