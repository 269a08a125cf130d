"""The world model: how customers, lines and agents behave.

One model, two users: the discrete-event simulator in `pacing.simulator` plays it in
simulated time, and the AMI PBX simulator in `ami.simulator` plays it in (scaled) wall
time over TCP. Both draw from the same distributions, so a scenario means the same
thing in either place.

Everything here is plain data and pure sampling from a `random.Random` the caller owns,
which is what makes common random numbers across policies possible.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from enum import Enum


class LineResult(str, Enum):
    """What the network does with a dialled number, before any person or machine."""

    HUMAN = "human"  # a person answers
    MACHINE = "machine"  # an answering machine / voicemail answers
    NO_ANSWER = "no_answer"  # rings until the dialer's ring timeout
    BUSY = "busy"
    CONGESTION = "congestion"  # network congestion / all circuits busy
    INVALID = "invalid"  # number not in service / unallocated


class AmdVerdict(str, Enum):
    """What Asterisk's AMD() reports (AMDSTATUS)."""

    HUMAN = "HUMAN"
    MACHINE = "MACHINE"
    NOTSURE = "NOTSURE"


@dataclass(frozen=True)
class Duration:
    """A positive duration distribution in seconds.

    kind: "fixed" (mean), "exponential" (mean), "lognormal" (mean and coefficient of
    variation cv), "uniform" (low..high).
    """

    kind: str = "exponential"
    mean: float = 180.0
    cv: float = 1.0
    low: float = 0.0
    high: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("fixed", "exponential", "lognormal", "uniform"):
            raise ValueError(f"unknown duration kind {self.kind!r}")
        if self.kind == "uniform":
            if not 0 <= self.low <= self.high:
                raise ValueError(f"uniform duration needs 0 <= low <= high, got {self.low}..{self.high}")
        elif self.mean < 0:
            raise ValueError(f"duration mean must be >= 0, got {self.mean}")
        if self.kind == "lognormal" and self.cv <= 0:
            raise ValueError(f"lognormal duration needs cv > 0, got {self.cv}")

    @property
    def expected(self) -> float:
        if self.kind == "uniform":
            return (self.low + self.high) / 2
        return self.mean

    def sample(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.mean
        if self.kind == "exponential":
            return rng.expovariate(1.0 / self.mean) if self.mean > 0 else 0.0
        if self.kind == "uniform":
            return rng.uniform(self.low, self.high)
        # lognormal parameterised by mean and cv
        sigma2 = math.log(1.0 + self.cv * self.cv)
        mu = math.log(self.mean) - sigma2 / 2
        return rng.lognormvariate(mu, math.sqrt(sigma2))

    def cdf(self, x: float) -> float:
        """P(sample <= x)."""
        if x < 0:
            return 0.0
        if self.kind == "fixed":
            return 1.0 if x >= self.mean else 0.0
        if self.kind == "exponential":
            return 1.0 - math.exp(-x / self.mean) if self.mean > 0 else 1.0
        if self.kind == "uniform":
            if x >= self.high:
                return 1.0
            if x < self.low:
                return 0.0
            return (x - self.low) / (self.high - self.low)
        if x <= 0:
            return 0.0
        sigma2 = math.log(1.0 + self.cv * self.cv)
        mu = math.log(self.mean) - sigma2 / 2
        return 0.5 * math.erfc(-(math.log(x) - mu) / math.sqrt(2.0 * sigma2))

    @property
    def is_exponential(self) -> bool:
        return self.kind == "exponential"

    @staticmethod
    def fixed(seconds: float) -> Duration:
        return Duration(kind="fixed", mean=seconds)

    @staticmethod
    def exponential(mean: float) -> Duration:
        return Duration(kind="exponential", mean=mean)

    @staticmethod
    def lognormal(mean: float, cv: float) -> Duration:
        return Duration(kind="lognormal", mean=mean, cv=cv)

    @staticmethod
    def uniform(low: float, high: float) -> Duration:
        return Duration(kind="uniform", low=low, high=high)


@dataclass(frozen=True)
class WorldModel:
    """Shares and distributions describing one contact list on one network.

    The shares of line results must sum to at most 1; whatever is left over is
    NO_ANSWER. `human_rate` is the "hit rate": the share of dials a person answers.
    """

    human_rate: float = 0.30
    machine_rate: float = 0.0
    busy_rate: float = 0.05
    congestion_rate: float = 0.02
    invalid_rate: float = 0.03
    # Ring time until a person or machine answers (the DESIGN benchmark: 3-20 s).
    answer_ring: Duration = field(default_factory=lambda: Duration.uniform(3.0, 20.0))
    # Fast failures (busy, congestion, invalid) come back after 1-6 s.
    fail_ring: Duration = field(default_factory=lambda: Duration.uniform(1.0, 6.0))
    # A no-answer rings until the dialer's ring timeout; the network may give up first.
    no_answer_ring: float = 25.0
    talk: Duration = field(default_factory=lambda: Duration.exponential(180.0))
    wrap: Duration = field(default_factory=lambda: Duration.fixed(20.0))
    # How long a person waits in the queue before hanging up (mean; exponential).
    patience: Duration = field(default_factory=lambda: Duration.exponential(30.0))
    # AMD: probability it calls a person a machine (false positive) and a machine a
    # person (false negative); the rest is NOTSURE with probability amd_notsure.
    amd_false_positive: float = 0.0
    amd_false_negative: float = 0.0
    amd_notsure: float = 0.0
    amd_time: Duration = field(default_factory=lambda: Duration.uniform(2.0, 4.0))

    def __post_init__(self) -> None:
        shares = {
            "human_rate": self.human_rate,
            "machine_rate": self.machine_rate,
            "busy_rate": self.busy_rate,
            "congestion_rate": self.congestion_rate,
            "invalid_rate": self.invalid_rate,
            "amd_false_positive": self.amd_false_positive,
            "amd_false_negative": self.amd_false_negative,
            "amd_notsure": self.amd_notsure,
        }
        for name, value in shares.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        total = (
            self.human_rate + self.machine_rate + self.busy_rate
            + self.congestion_rate + self.invalid_rate
        )
        if total > 1.0 + 1e-9:
            raise ValueError(f"line result shares sum to {total:.3f}, more than 1")
        if self.no_answer_ring <= 0:
            raise ValueError("no_answer_ring must be > 0")

    @property
    def no_answer_rate(self) -> float:
        return max(0.0, 1.0 - self.human_rate - self.machine_rate - self.busy_rate
                   - self.congestion_rate - self.invalid_rate)

    def line_result(self, rng: random.Random) -> LineResult:
        u = rng.random()
        for result, share in (
            (LineResult.HUMAN, self.human_rate),
            (LineResult.MACHINE, self.machine_rate),
            (LineResult.BUSY, self.busy_rate),
            (LineResult.CONGESTION, self.congestion_rate),
            (LineResult.INVALID, self.invalid_rate),
        ):
            if u < share:
                return result
            u -= share
        return LineResult.NO_ANSWER

    def ring_time(self, result: LineResult, rng: random.Random) -> float:
        """Seconds from dial to the line result becoming known."""
        if result in (LineResult.HUMAN, LineResult.MACHINE):
            return self.answer_ring.sample(rng)
        if result is LineResult.NO_ANSWER:
            return self.no_answer_ring
        return self.fail_ring.sample(rng)

    def amd_verdict(self, result: LineResult, rng: random.Random) -> AmdVerdict:
        """AMD's verdict on an answered call (only meaningful for HUMAN/MACHINE)."""
        u = rng.random()
        if u < self.amd_notsure:
            return AmdVerdict.NOTSURE
        u = rng.random()
        if result is LineResult.HUMAN:
            return AmdVerdict.MACHINE if u < self.amd_false_positive else AmdVerdict.HUMAN
        return AmdVerdict.HUMAN if u < self.amd_false_negative else AmdVerdict.MACHINE

    def with_overrides(self, **changes: object) -> WorldModel:
        from dataclasses import replace

        return replace(self, **changes)  # type: ignore[arg-type]
