"""The feedback loop that sets how much risk predictive pacing takes: its threshold theta.

Predictive pacing places a call while its marginal expected loss stays below theta (see
`pacing.policies.PredictivePolicy`). The loss model is a bound whose scale varies from floor
to floor (measured at a fifth of the abandons that followed on one floor and at ten times
them on another), so no fixed theta fits every floor: the loop finds it from what happens.

It is a cascade. The outer part says what abandon rate the next half hour should run at:
the target, plus whatever the shift has left unspent below the target (or minus what it
overspent), spread over the answers of `catch_up_s` seconds (at most 1.2 times the target).
The inner part compares that with the recent abandon rate and moves theta multiplicatively,
by up to an e-fold per window. The window holds about `evidence` (ten) abandons at the
target rate, between five minutes (a large floor, where that many come quickly) and half an
hour (a small one, where a few abandons are all there is and a quiet ten minutes says
little); it starts from `prior_answers` answers at the target so that a quiet minute is not
read as zero.

The loop it replaces steered the ledger's cumulative allowance directly: an integrator
driving an integrator, which had to be slow (an e-fold per 30 minutes) to stay stable, so
on floors where the bound is pessimistic it spent a tenth of the budget over a whole shift
(0.07 % abandons at 281 agents against a 2.5 % target), and where the answer rate drifted
up it lagged past the cap (3.00 %). Comparing rates reacts in minutes; the cumulative
figure still steers, through the rate it asks for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class AbandonLoop:
    """theta, and the abandon rates it is steered by."""

    target: float  # abandons per human answer the shift should end at
    theta: float  # the threshold, updated by `update`
    evidence: float = 10.0  # abandons at the target rate the recent window should hold
    min_recent_s: float = 300.0
    max_recent_s: float = 1800.0
    catch_up_s: float = 1800.0
    prior_answers: float = 20.0
    min_theta: float = 0.002
    max_theta: float = 2.0
    wanted_rate: float = field(init=False, default=0.0)
    recent_rate: float = field(init=False, default=0.0)
    _seen: tuple[int, int] | None = field(init=False, default=None, repr=False)
    _answers: float = field(init=False, default=0.0, repr=False)
    _abandons: float = field(init=False, default=0.0, repr=False)
    _answer_rate: float | None = field(init=False, default=None, repr=False)
    _elapsed: float = field(init=False, default=0.0, repr=False)
    _first_answers: int = field(init=False, default=0, repr=False)

    def __post_init__(self) -> None:
        self.wanted_rate = self.recent_rate = self.target

    @property
    def answer_rate(self) -> float:
        """Human answers per second, recently."""
        return self._answer_rate or 0.0

    @property
    def window_s(self) -> float:
        """The recent window, in seconds: it holds about `evidence` abandons at the target,
        minutes on a large floor, half an hour on a small one, where a few abandons are all
        there is."""
        window = self.evidence / max(1e-9, self.target * self.answer_rate)
        return min(self.max_recent_s, max(self.min_recent_s, window))

    def update(self, answers: int, abandons: int, dt: float) -> float:
        """Feed the shift's cumulative human answers and abandons, `dt` seconds after the
        previous call; returns the new theta."""
        seen, self._seen = self._seen, (answers, abandons)
        if seen is None:
            self._first_answers = answers
        if seen is None or dt <= 0.0:
            return self.theta
        new_answers = max(0, answers - seen[0])
        new_abandons = max(0, abandons - seen[1])
        per_s = new_answers / dt
        self._elapsed += dt
        if self._elapsed < self.min_recent_s:
            # The first minutes: the average since the loop started, not an average that
            # starts from nothing.
            self._answer_rate = (answers - self._first_answers) / self._elapsed
        else:
            rate = self._answer_rate or 0.0
            self._answer_rate = rate + (1.0 - math.exp(-dt / self.min_recent_s)) * (per_s - rate)
        recent_s = self.window_s
        keep = math.exp(-dt / recent_s)
        self._answers = keep * self._answers + new_answers
        self._abandons = keep * self._abandons + new_abandons
        target = self.target  # shorter lines below
        unspent = target * answers - abandons
        ahead = max(self.prior_answers, self._answer_rate * self.catch_up_s)
        self.wanted_rate = min(1.2 * target, max(0.0, target + unspent / ahead))
        prior = self.prior_answers
        self.recent_rate = (self._abandons + target * prior) / (self._answers + prior)
        err = max(-2.0, min(2.0, (self.wanted_rate - self.recent_rate) / target))
        self.theta *= math.exp(err * dt / (2.0 * recent_s))  # |err| <= 2: an e-fold per window
        self.theta = min(self.max_theta, max(self.min_theta, self.theta))
        return self.theta
