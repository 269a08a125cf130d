"""Abandonment accounting: the ledger the pacer reads its cap headroom from.

Definitions (per :class:`AbandonmentRule`, set by the regulation profile)
---------------------------------------------------------------------------
Each attempt outcome fed to the ledger is classified:

* **live** — a person answered: outcomes ``answered``, ``abandoned``,
  ``queue_hangup``, ``opt_out`` (:data:`compliance.outcomes.HUMAN_ANSWERED`).
* **abandon** — a live call not connected to an agent within
  ``connect_deadline_s`` of the answer/greeting: ``abandoned`` and ``opt_out``
  (the opt-out key is only offered on abandoned calls) always; ``queue_hangup``
  when the wait is unknown or exceeded the deadline; ``answered`` when the
  engine reports a connect wait above the deadline (late connect).
* **machine** — AMD classified the answer as a machine (``machine``).

Numerator and denominator over the window:

* ``N = abandons + machines × amd_fp_rate`` when ``count_amd_false_positives``
  (UK), else ``N = abandons`` (US: TCPA counts abandons of calls answered by a
  person).
* ``D = live + machines × amd_fp_rate`` when ``count_amd_false_positives`` (the
  estimated false positives were live people, so they are live calls too),
  else ``D = live``.
* ``rate = N / D`` (0.0 when ``D == 0``).

Window: a record at time ``t`` counts at ``now`` when ``now - window < t <= now``
(the left edge is excluded: a record exactly ``window`` old has dropped out).
Times are truncated to whole seconds before bucketing, so window edges resolve
to the second. US: 30 days; UK: 24 hours.

Headroom: the number of further abandons the window can take *with the current
denominator held fixed* and the rate still ``<= cap``::

    headroom = max(0, floor(cap × D − N + 1e-9))

It is conservative (a new abandon is itself a live call and would raise ``D``
too) and it is 0 when ``D == 0``: with no live calls yet, any abandon would put
the rate at 100%. The ``1e-9`` guards float round-off (e.g. 0.03 × 100).

Cost: records are aggregated per (second) bucket in a deque; feeding is O(1)
amortised and pruning pops expired buckets from the left. Outcomes that count
nowhere (no answer, busy…) are not stored. Feed records in roughly
non-decreasing time order; a late record is inserted in order (O(log n) search
plus an insertion).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from compliance.outcomes import Outcome

__all__ = ["AbandonmentRule", "OutcomeRecord", "LedgerSnapshot", "AbandonmentLedger", "classify"]


@dataclass(frozen=True, slots=True)
class AbandonmentRule:
    """How a profile counts abandonment. See the module docstring."""

    name: str
    window: timedelta
    cap: float  # e.g. 0.03
    connect_deadline_s: float = 2.0
    count_amd_false_positives: bool = False
    amd_fp_rate: float = 0.0

    def __post_init__(self) -> None:
        if self.window <= timedelta(0):
            raise ValueError("abandonment window must be positive")
        if not 0.0 <= self.cap <= 1.0:
            raise ValueError("abandonment cap must be within 0..1")
        if not 0.0 <= self.amd_fp_rate <= 1.0:
            raise ValueError("amd_fp_rate must be within 0..1")
        if self.connect_deadline_s < 0:
            raise ValueError("connect_deadline_s must be >= 0")


@dataclass(frozen=True, slots=True)
class OutcomeRecord:
    """One attempt outcome as fed to the ledger.

    ``connect_wait_s``: seconds from joining the queue (after AMD and the greeting)
    to agent connect, see :func:`connect_wait_s`; None if unknown.
    """

    at: datetime
    outcome: Outcome
    connect_wait_s: float | None = None


def connect_wait_s(
    answered: float | datetime | None, queued: float | datetime | None, connected: float | datetime | None
) -> float | None:
    """The one definition of a call's connect wait, live or rebuilt from stored attempts:
    from the queue join (AMD and the greeting are not waiting for an agent) to the agent
    connect; from the answer only when the queue join is unknown. None if not connected."""
    start = queued if queued is not None else answered
    if isinstance(start, datetime) and isinstance(connected, datetime):
        return (connected - start).total_seconds()
    if isinstance(start, int | float) and isinstance(connected, int | float):
        return float(connected - start)
    return None


def classify(rule: AbandonmentRule, outcome: Outcome, connect_wait_s: float | None) -> tuple[int, int, int]:
    """``(live, abandon, machine)`` increments of one outcome under ``rule``."""
    if outcome is Outcome.MACHINE:
        return (0, 0, 1)
    if outcome in (Outcome.ABANDONED, Outcome.OPT_OUT):
        return (1, 1, 0)
    if outcome is Outcome.QUEUE_HANGUP:
        late = connect_wait_s is None or connect_wait_s > rule.connect_deadline_s
        return (1, int(late), 0)
    if outcome is Outcome.ANSWERED:
        late = connect_wait_s is not None and connect_wait_s > rule.connect_deadline_s
        return (1, int(late), 0)
    return (0, 0, 0)


@dataclass(frozen=True, slots=True)
class LedgerSnapshot:
    """Counts in the window at ``now`` (aggregates only, no numbers)."""

    live: int
    abandons: int
    machines: int
    numerator: float
    denominator: float
    rate: float
    headroom: int


class AbandonmentLedger:
    """Rolling abandonment counts for one campaign under one rule.

    >>> from datetime import UTC, datetime, timedelta
    >>> rule = AbandonmentRule("us", timedelta(days=30), 0.03)
    >>> led = AbandonmentLedger(rule)
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> for i in range(100):
    ...     led.record(t, Outcome.ANSWERED)
    >>> led.record(t, Outcome.ABANDONED)
    >>> led.headroom(t)  # D=101, N=1: floor(3.03 - 1) = 2
    2
    """

    __slots__ = ("rule", "_buckets", "_live", "_abandons", "_machines", "_window_s")

    def __init__(self, rule: AbandonmentRule, records: Iterable[OutcomeRecord] = ()) -> None:
        self.rule = rule
        self._window_s = int(rule.window.total_seconds())
        # each bucket: [second, live, abandons, machines]
        self._buckets: deque[list[int]] = deque()
        self._live = 0
        self._abandons = 0
        self._machines = 0
        for r in records:
            self.record(r.at, r.outcome, r.connect_wait_s)

    def record(self, at: datetime, outcome: Outcome, connect_wait_s: float | None = None) -> None:
        """Feed one attempt outcome that ended at ``at`` (aware datetime)."""
        live, ab, mach = classify(self.rule, outcome, connect_wait_s)
        if not (live or ab or mach):
            return
        sec = math.floor(at.timestamp())
        b = self._buckets
        if b and b[-1][0] == sec:
            bucket = b[-1]
        elif not b or b[-1][0] < sec:
            bucket = [sec, 0, 0, 0]
            b.append(bucket)
        else:  # late record: find or insert its bucket
            secs = [x[0] for x in b]
            i = bisect.bisect_left(secs, sec)
            if i < len(b) and b[i][0] == sec:
                bucket = b[i]
            else:
                bucket = [sec, 0, 0, 0]
                b.insert(i, bucket)
        bucket[1] += live
        bucket[2] += ab
        bucket[3] += mach
        self._live += live
        self._abandons += ab
        self._machines += mach

    def prune(self, now: datetime) -> None:
        """Drop buckets at or before ``now - window`` (cheap: pops from the left)."""
        edge = math.floor(now.timestamp()) - self._window_s
        b = self._buckets
        while b and b[0][0] <= edge:
            _, live, ab, mach = b.popleft()
            self._live -= live
            self._abandons -= ab
            self._machines -= mach

    def _counts(self, now: datetime) -> tuple[int, int, int]:
        self.prune(now)
        live, ab, mach = self._live, self._abandons, self._machines
        cutoff = math.floor(now.timestamp())
        for bucket in reversed(self._buckets):  # records after `now` (rare) do not count yet
            if bucket[0] <= cutoff:
                break
            live -= bucket[1]
            ab -= bucket[2]
            mach -= bucket[3]
        return live, ab, mach

    def snapshot(self, now: datetime) -> LedgerSnapshot:
        """Counts, rate and headroom in the window ending at ``now``.

        ``now`` should not go backwards between calls: pruning is permanent.
        """
        live, ab, mach = self._counts(now)
        fp = mach * self.rule.amd_fp_rate if self.rule.count_amd_false_positives else 0.0
        num = ab + fp
        den = live + fp
        rate = num / den if den > 0 else 0.0
        head = max(0, math.floor(self.rule.cap * den - num + 1e-9)) if den > 0 else 0
        return LedgerSnapshot(live, ab, mach, num, den, rate, head)

    def rate(self, now: datetime) -> float:
        """Abandon rate N / D over the window ending at ``now`` (0.0 if D = 0)."""
        return self.snapshot(now).rate

    def headroom(self, now: datetime) -> int:
        """Further abandons the window can take at the current D, staying <= cap."""
        return self.snapshot(now).headroom

    def __len__(self) -> int:
        """Number of stored one-second buckets (memory indicator)."""
        return len(self._buckets)
