"""What a pacing policy sees of one campaign at one instant.

The engine (or the simulator) builds a `CampaignSnapshot` every pacing tick (about once
a second) and hands it to `Policy.decide`. Everything is plain data: counts, lists of
elapsed seconds, the campaign's limits and the abandonment headroom the compliance
ledger reports. Times are seconds; `now` is any monotonic clock (the simulator uses
seconds since the start of the shift).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pacing.estimators import Estimators


@dataclass(frozen=True)
class Limits:
    """Hard caps every policy honours.

    max_dial_level: calls in flight (ringing + answered-and-waiting + new) per active agent
        (ready + on call + in wrap-up); VICIdial's "dial level" counts the same way.
    max_in_flight: absolute cap on calls in flight for the campaign (trunk capacity).
    max_attempts_per_agent_hour: attempts per active agent per hour, enforced as a token
        bucket refilled continuously (bucket depth: one minute of attempts).
    max_occupancy: if set (0..1), the campaign's ceiling on agent talk occupancy; when the
        measured occupancy reaches it the predictive policy stops dialling ahead and
        paces progressively, which protects wrap-up time.
    """

    max_dial_level: float = 3.0
    max_in_flight: int | None = None
    max_attempts_per_agent_hour: float | None = None
    max_occupancy: float | None = None

    def __post_init__(self) -> None:
        if self.max_dial_level <= 0:
            raise ValueError("max_dial_level must be > 0")
        if self.max_in_flight is not None and self.max_in_flight < 0:
            raise ValueError("max_in_flight must be >= 0")
        if self.max_attempts_per_agent_hour is not None and self.max_attempts_per_agent_hour < 0:
            raise ValueError("max_attempts_per_agent_hour must be >= 0")
        if self.max_occupancy is not None and not 0.0 < self.max_occupancy <= 1.0:
            raise ValueError("max_occupancy must be in (0, 1]")


@dataclass(frozen=True)
class AbandonHeadroom:
    """The abandonment ledger's view for the active regulation window.

    allowed: abandons that may still happen before the window's rate exceeds the cap
        (cap * answers - abandons; may be negative when over the cap).
    rate: abandons / answers in the window so far (0 when there are no answers).
    cap: the cap as a fraction (0.03 for 3 %).
    answers, abandons: the window's counts (denominator as the profile defines it).
    forbid_when_exhausted: the profile forbids any call that could abandon once the
        budget is spent (the policies then pace progressively).
    """

    allowed: float
    rate: float
    cap: float = 0.03
    answers: int = 0
    abandons: int = 0
    forbid_when_exhausted: bool = True

    @staticmethod
    def from_counts(answers: int, abandons: int, cap: float = 0.03) -> AbandonHeadroom:
        rate = abandons / answers if answers > 0 else 0.0
        return AbandonHeadroom(
            allowed=cap * answers - abandons, rate=rate, cap=cap, answers=answers,
            abandons=abandons,
        )

    @property
    def exhausted(self) -> bool:
        return self.allowed <= 0.0


@dataclass(frozen=True)
class CampaignSnapshot:
    """One campaign at one instant.

    agents_ready: agents logged in, ready and without a call.
    wrap_elapsed: for each agent in wrap-up (after-call work), seconds since it began.
    talk_elapsed: for each agent on a call, seconds since the call was connected.
    ringing_elapsed: for each call placed and not yet needing an agent (ringing, or
        answered and still in AMD), seconds since it was placed.
    waiting_elapsed: for each answered call waiting in the queue for an agent, seconds
        since it entered the queue.
    agents_paused: agents logged in but not available (break, meeting); not counted as
        active.
    headroom: the abandonment ledger's headroom, or None when no profile applies.
    estimates: the campaign's online estimators (the engine feeds them); None lets a
        policy fall back to its priors.
    """

    now: float
    agents_ready: int
    wrap_elapsed: Sequence[float] = ()
    talk_elapsed: Sequence[float] = ()
    ringing_elapsed: Sequence[float] = ()
    waiting_elapsed: Sequence[float] = ()
    limits: Limits = field(default_factory=Limits)
    headroom: AbandonHeadroom | None = None
    estimates: Estimators | None = None
    agents_paused: int = 0

    def __post_init__(self) -> None:
        if self.agents_ready < 0:
            raise ValueError("agents_ready must be >= 0")
        if self.agents_paused < 0:
            raise ValueError("agents_paused must be >= 0")

    @property
    def agents_active(self) -> int:
        """Agents ready, on a call or in wrap-up (paused agents excluded)."""
        return self.agents_ready + len(self.wrap_elapsed) + len(self.talk_elapsed)

    @property
    def calls_in_flight(self) -> int:
        """Calls placed that have no agent yet: ringing plus waiting in the queue."""
        return len(self.ringing_elapsed) + len(self.waiting_elapsed)

    @property
    def uncovered_ready(self) -> int:
        """Ready agents not already covered by a call in flight (progressive pacing)."""
        return max(0, self.agents_ready - self.calls_in_flight)
