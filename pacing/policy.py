"""The pacing interface: a snapshot in, a decision out.

How the engine uses it, once per pacing tick (about every second) per campaign::

    from pacing import CampaignSnapshot, Estimators, Limits, AbandonHeadroom, make_policy

    est = Estimators()                      # one per campaign, lives as long as the campaign
    policy = make_policy("predictive")      # or progressive / ratio / adaptive / pi
    ...
    snap = CampaignSnapshot(
        now=monotonic(), agents_ready=3,
        wrap_elapsed=[4.0], talk_elapsed=[65.0, 12.5], ringing_elapsed=[2.0, 9.1],
        waiting_elapsed=[], limits=Limits(max_dial_level=3.0),
        headroom=AbandonHeadroom.from_counts(answers=812, abandons=17, cap=0.03),
        estimates=est,
    )
    decision = policy.decide(snap)          # PacingDecision(calls=4, reason="predictive", ...)
    for _ in range(decision.calls):
        originate_next_contact()
    # and as events arrive:
    est.observe_result("human", 11.2)       # or "machine" / "no_answer" / "failed"
    est.observe_talk(174.0); est.observe_wrap(21.0)
    est.observe_connect(0.4) / est.observe_abandon()

A policy keeps only its own controller state (a PI integrator, the adaptive dial level, a
token bucket); it never blocks and never performs I/O. `decide` is cheap: a few hundred
microseconds for 100 agents.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol, runtime_checkable

from pacing.snapshot import CampaignSnapshot


class PacingReason(str, Enum):
    """Why a policy asked for this many calls (exported as a metric label)."""

    NO_AGENTS = "no_agents"
    PROGRESSIVE = "progressive"
    RATIO = "ratio"
    ADAPTIVE = "adaptive"
    PI = "pi"
    PREDICTIVE = "predictive"
    WARMING_UP = "warming_up"  # predictive blending towards progressive (cold start)
    BUDGET_EXHAUSTED = "budget_exhausted"  # abandonment headroom spent: progressive only
    CAP_DIAL_LEVEL = "cap_dial_level"
    CAP_IN_FLIGHT = "cap_in_flight"
    CAP_ATTEMPT_RATE = "cap_attempt_rate"
    CAP_OCCUPANCY = "cap_occupancy"


@dataclass(frozen=True)
class PacingDecision:
    """calls: new calls to place now (>= 0). reason: a `PacingReason` value. dial_level: calls in
    flight after placing them, per active agent. details: numbers worth logging."""

    calls: int
    reason: str
    dial_level: float = 0.0
    details: Mapping[str, float | int | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.calls < 0:
            raise ValueError("calls must be >= 0")


@runtime_checkable
class Policy(Protocol):
    """A pacing policy. `name` is its registry name."""

    name: str

    def decide(self, snapshot: CampaignSnapshot) -> PacingDecision: ...


class BasePolicy:
    """Applies the common guards around a policy's raw wish.

    Order: no active agents -> 0; the raw number; abandonment headroom exhausted (when the
    profile forbids) -> at most the progressive number; then the caps (dial level, calls in
    flight, attempts per agent-hour). The result is never negative.
    """

    name = "base"

    def __init__(self) -> None:
        self._tokens: float | None = None
        self._last_now: float | None = None

    def _raw(self, snap: CampaignSnapshot) -> tuple[int, str, dict[str, float | int | str]]:
        raise NotImplementedError

    def decide(self, snapshot: CampaignSnapshot) -> PacingDecision:
        snap = snapshot
        dt = 0.0 if self._last_now is None else max(0.0, snap.now - self._last_now)
        self._last_now = snap.now
        active = snap.agents_active
        in_flight = snap.calls_in_flight
        if active <= 0:
            self._refill(snap, dt, active)
            return PacingDecision(0, PacingReason.NO_AGENTS.value, 0.0, {})
        if snap.estimates is not None:
            snap.estimates.advance(snap.now)
        n, reason, details = self._raw(snap)
        n = max(0, int(n))
        progressive = snap.uncovered_ready
        hr = snap.headroom
        if hr is not None and hr.forbid_when_exhausted and hr.exhausted and n > progressive:
            n, reason = progressive, PacingReason.BUDGET_EXHAUSTED.value
        lim = snap.limits
        level_cap = int(math.floor(lim.max_dial_level * active + 1e-9)) - in_flight
        if n > level_cap:
            n, reason = max(0, level_cap), PacingReason.CAP_DIAL_LEVEL.value
        if lim.max_in_flight is not None and n > lim.max_in_flight - in_flight:
            n, reason = max(0, lim.max_in_flight - in_flight), PacingReason.CAP_IN_FLIGHT.value
        self._refill(snap, dt, active)
        if self._tokens is not None:
            allowed = int(math.floor(self._tokens + 1e-9))
            if n > allowed:
                n, reason = max(0, allowed), PacingReason.CAP_ATTEMPT_RATE.value
            self._tokens -= n
        level = (in_flight + n) / active
        return PacingDecision(n, reason, level, details)

    def _refill(self, snap: CampaignSnapshot, dt: float, active: int) -> None:
        cap = snap.limits.max_attempts_per_agent_hour
        if cap is None:
            self._tokens = None
            return
        rate = cap * active / 3600.0
        depth = max(1.0, rate * 60.0)
        if self._tokens is None:
            self._tokens = depth
        else:
            self._tokens = min(depth, self._tokens + rate * dt)
