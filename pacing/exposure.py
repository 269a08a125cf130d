"""How many abandons the loss bound's exposure turns into on this floor: its scale, kappa.

Predictive pacing bounds its risk with E[L], the abandons it expects over the answer
horizon from every call in flight (see `pacing.policies.PredictivePolicy`). E[L] is a
lower bound whose scale varies by floor: the abandons that followed were measured at four
to five times it on a 150-agent floor, and at many times it right after a burst of dials
on a 53-agent floor with AMD (0.01 expected, seven abandons in the minute after). The
theta loop absorbs the scale for the marginal test, but the budget and the end-of-budget
guard compare E[L] with abandons in the ledger, where a bound five times too low spends
an early shift's whole allowance in one burst, and the profile then allows only
progressive dialling until answers have earned it back (tens of minutes on small budgets).

So the guards use kappa x E[L]. Summed over time as E[L] x dt / horizon, the bound is a
prediction of abandons; kappa is the realised abandons over that prediction, recently
(exponential forgetting), starting from 1 with the weight of `prior` abandons. It is used
only to scale the bound up: a floor where the bound is pessimistic keeps the guard as it
is (the theta loop lets it spend there).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ExposureScale:
    half_life_s: float = 1800.0
    prior: float = 1.0  # abandons of evidence the starting ratio of 1 is worth
    _predicted: float = field(init=False, default=0.0)
    _realised: float = field(init=False, default=0.0)
    _abandons: int | None = field(init=False, default=None)
    _at: float | None = field(init=False, default=None)

    def update(self, exposure: float, horizon_s: float, abandons: int, now: float) -> None:
        """Since the last update the calls in flight held `exposure` expected abandons
        over `horizon_s`; the ledger's cumulative abandon count is now `abandons`."""
        dt = 0.0 if self._at is None else max(0.0, now - self._at)
        self._at = now
        decay = 0.5 ** (dt / self.half_life_s)
        new = 0 if self._abandons is None else max(0, abandons - self._abandons)
        self._abandons = abandons
        self._predicted = self._predicted * decay + exposure * dt / max(horizon_s, 1.0)
        self._realised = self._realised * decay + new

    @property
    def kappa(self) -> float:
        """Realised over predicted abandons, never below 1."""
        return max(1.0, (self._realised + self.prior) / (self._predicted + self.prior))

