"""Online, cheap estimators the engine feeds with call outcomes.

One `Estimators` object per campaign. The engine (or the simulator) calls:

- `observe_result(kind, elapsed_s)` when a placed call resolves: kind is "human" (a
  person answered and the call now needs an agent; elapsed_s is dial-to-queue time,
  AMD included), "machine" (AMD said machine; the dialer hung up), "no_answer" or
  "failed" (busy, congestion, invalid);
- `observe_talk(seconds)` and `observe_wrap(seconds)` when a call or a wrap-up ends;
- `observe_connect(waited_s)` / `observe_abandon()` when a queued answer reaches an agent
  or is abandoned.

Everything adapts: outcome shares are counted by dial cohort (the outcomes of calls dialled
in the same two seconds, released together once they have all had time to resolve; see
`DialCohorts`) and use exponential forgetting (half-life in attempts) with
a prior expressed as pseudo-attempts, plus a change detector that re-anchors the slow
estimate when a fast window disagrees beyond three standard errors (a new list batch with a
different answer rate mid-shift). Durations keep the most recent samples and blend with a
prior distribution while samples are few.

Policies read forecasts through `profile_*` methods that return, for a grid of future
offsets (seconds from now), probabilities for one agent or one call; these are memoised per
integer elapsed second and per estimator version, so a pacing tick costs a dictionary look-up
per agent.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Sequence

import numpy as np

from pacing.world import Duration, WorldModel

KINDS = ("human", "machine", "no_answer", "failed")


class DecayingShares:
    """Shares of categorical outcomes with exponential forgetting, a prior and change
    detection on one category (the hit rate)."""

    def __init__(
        self,
        prior: dict[str, float],
        prior_weight: float = 30.0,
        half_life: float = 250.0,
        fast_half_life: float = 80.0,
        watch: str = "human",
    ) -> None:
        total = sum(prior.values())
        if total <= 0:
            raise ValueError("prior shares must sum to > 0")
        self.prior = {k: v / total for k, v in prior.items()}
        self.prior_weight = prior_weight
        self.decay = 0.5 ** (1.0 / half_life)
        self.fast_decay = 0.5 ** (1.0 / fast_half_life)
        self.counts = dict.fromkeys(self.prior, 0.0)
        self.n = 0.0
        self.fast_watch = 0.0
        self.fast_n = 0.0
        self.watch = watch
        self.total_observations = 0
        self.resets = 0
        self._exceed = 0

    def observe(self, kind: str) -> None:
        if kind not in self.counts:
            raise ValueError(f"unknown outcome {kind!r}")
        d = self.decay
        for k in self.counts:
            self.counts[k] *= d
        self.counts[kind] += 1.0
        self.n = self.n * d + 1.0
        self.fast_watch = self.fast_watch * self.fast_decay + (1.0 if kind == self.watch else 0.0)
        self.fast_n = self.fast_n * self.fast_decay + 1.0
        self.total_observations += 1
        self._detect_change()

    def observe_many(self, counts: dict[str, float]) -> None:
        """A whole cohort at once (calls dialled together): the same forgetting as that many
        single observations, and one change-detector step."""
        total = sum(counts.values())
        if total <= 0:
            return
        for kind in counts:
            if kind not in self.counts:
                raise ValueError(f"unknown outcome {kind!r}")
        # `total` observations in a row carry geometric weights summing to `weight`; the
        # order within a cohort is unknown, so each kind gets its share of that weight.
        d = self.decay ** total
        weight = (1.0 - d) / (1.0 - self.decay)
        for k in self.counts:
            self.counts[k] = self.counts[k] * d + counts.get(k, 0.0) / total * weight
        self.n = self.n * d + weight
        fd = self.fast_decay ** total
        fast_weight = (1.0 - fd) / (1.0 - self.fast_decay)
        self.fast_watch = self.fast_watch * fd + counts.get(self.watch, 0.0) / total * fast_weight
        self.fast_n = self.fast_n * fd + fast_weight
        self.total_observations += int(round(total))
        self._detect_change()

    def _detect_change(self) -> None:
        if self.fast_n < 30 or self.n < 2 * self.fast_n:
            return
        slow = self.share(self.watch)
        fast = self.fast_watch / self.fast_n
        se = math.sqrt(max(slow * (1 - slow), 1e-4) / self.fast_n)
        if abs(fast - slow) > 2.0 * se:
            self._exceed += 1
        else:
            self._exceed = 0
        if self._exceed >= 10:
            self._exceed = 0
            # Re-anchor: keep the slow estimate's other shares, rescaled, at the fast weight.
            others = {k: v for k, v in self.counts.items() if k != self.watch}
            other_total = sum(others.values())
            target_other = self.fast_n - self.fast_watch
            for k, v in others.items():
                self.counts[k] = v / other_total * target_other if other_total > 0 else 0.0
            self.counts[self.watch] = self.fast_watch
            self.n = self.fast_n
            self.resets += 1

    @property
    def _prior_w(self) -> float:
        """The prior's weight fades as evidence accumulates (after 10x its weight in
        attempts it is worth a tenth), so a wrong prior leaves no lasting bias."""
        k = 10.0 * self.prior_weight
        return self.prior_weight * k / (k + self.total_observations)

    def share(self, kind: str) -> float:
        w = self._prior_w
        return (self.counts[kind] + w * self.prior[kind]) / (self.n + w)

    @property
    def effective_observations(self) -> float:
        return self.n


class EmpiricalDuration:
    """A duration distribution from recent samples, blended with a prior while few.

    `cdf(x)` reads a table on a 1-second grid rebuilt every `rebuild_every` samples, so it is
    O(1); `version` changes whenever the table does.
    """

    def __init__(
        self,
        prior: Duration,
        window: int = 600,
        prior_weight: float = 20.0,
        rebuild_every: int = 50,
        max_seconds: int = 7200,
    ) -> None:
        self.prior = prior
        self.samples: deque[float] = deque(maxlen=window)
        self.prior_weight = prior_weight
        self.rebuild_every = rebuild_every
        self.max_seconds = max_seconds
        self.version = 0
        self._since_rebuild = 0
        self.count = 0
        self._table: list[float] = []
        self._array = np.zeros(1)
        self._mean = prior.expected
        self._rebuild()

    def observe(self, seconds: float) -> None:
        self.samples.append(max(0.0, float(seconds)))
        self.count += 1
        self._since_rebuild += 1
        if self._since_rebuild >= self.rebuild_every or (
            self.count < self.rebuild_every and self.count in (5, 10, 20, 35)
        ):
            self._rebuild()

    def _rebuild(self) -> None:
        self._since_rebuild = 0
        self.version += 1
        n = len(self.samples)
        w = n / (n + self.prior_weight)
        srt = sorted(self.samples)
        top = self.max_seconds
        if srt:
            top = min(self.max_seconds, int(srt[-1]) + 2)
        prior_top = self.prior.expected * 8 + 30
        top = int(min(self.max_seconds, max(top, prior_top)))
        table = []
        for x in range(top + 1):
            emp = bisect.bisect_right(srt, x) / n if n else 0.0
            table.append(w * emp + (1 - w) * self.prior.cdf(x))
        self._table = table
        self._array = np.asarray(table)
        emp_mean = sum(srt) / n if n else 0.0
        self._mean = w * emp_mean + (1 - w) * self.prior.expected

    @property
    def mean(self) -> float:
        return self._mean

    def cdf(self, x: float) -> float:
        if x < 0:
            return 0.0
        i = int(x)
        t = self._table
        if i + 1 < len(t):
            frac = x - i
            return t[i] + (t[i + 1] - t[i]) * frac
        # Beyond the table: exponential tail from the last point, with the mean as scale.
        last = t[-1]
        return 1.0 - (1.0 - last) * math.exp(-(x - (len(t) - 1)) / max(self._mean, 1.0))

    def cdf_array(self, x: np.ndarray) -> np.ndarray:
        """`cdf` over an array (same table, same tail)."""
        t = self._array
        top = len(t) - 1
        # The table is on a 1-second grid: interpolate by hand (np.interp needs the grid).
        xc = np.clip(x, 0.0, top)
        i = np.minimum(xc.astype(np.intp), top - 1) if top > 0 else np.zeros(np.shape(x), np.intp)
        out = t[i] + (t[np.minimum(i + 1, top)] - t[i]) * (xc - i)
        beyond = x >= top
        if beyond.any():
            tail = 1.0 - (1.0 - t[-1]) * np.exp(-(x - top) / max(self._mean, 1.0))
            out = np.where(beyond, tail, out)
        return np.where(x < 0, 0.0, out)

    def residual_cdf_array(self, elapsed: np.ndarray, x: np.ndarray) -> np.ndarray:
        """`residual_cdf` over arrays broadcast together."""
        f_e = self.cdf_array(elapsed)
        surv = 1.0 - f_e
        memoryless = 1.0 - np.exp(-np.maximum(x, 0.0) / max(self._mean, 1.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            cond = (self.cdf_array(elapsed + x) - f_e) / surv
        return np.where(surv < 1e-9, memoryless, np.clip(cond, 0.0, 1.0))

    def residual_cdf(self, elapsed: float, x: float) -> float:
        """P(T <= elapsed + x | T > elapsed)."""
        f_e = self.cdf(elapsed)
        surv = 1.0 - f_e
        if surv < 1e-9:
            # Past everything seen: assume a memoryless remainder with the mean as scale.
            return 1.0 - math.exp(-max(x, 0.0) / max(self._mean, 1.0))
        return max(0.0, min(1.0, (self.cdf(elapsed + x) - f_e) / surv))

    def quantiles(self, k: int) -> list[float]:
        """k equally weighted atoms (mid-quantiles) approximating the distribution."""
        out = []
        t = self._table
        for j in range(k):
            q = (j + 0.5) / k
            i = bisect.bisect_left(t, q)
            out.append(float(min(i, len(t) - 1)))
        return out


class DialCohorts:
    """Outcomes grouped by the moment their call was dialled, released in dial order once
    every call of the cohort has had time to resolve.

    Why: outcomes come back in order of ring time, fast failures first and no-answers last
    (at the ring timeout). A forgetting estimator fed in arrival order after a burst of
    dials sees the failures, then the answers, then a wave of no-answers, and swings: in
    a 150-agent simulation the hit rate read 0.05 against a true 0.12 right after each
    burst, the policy dialled for half the answers it got and abandoned them. Grouped by
    dial time, every cohort carries the true mix. The price is a lag of one ring timeout.

    `horizon`: how long after its dial second a cohort is assumed complete; it follows the
    longest ring time seen recently (at least `min_horizon`). An outcome arriving for a
    cohort already released is counted at once.
    """

    def __init__(self, shares: DecayingShares, min_horizon: float, bucket_s: float = 2.0) -> None:
        self.shares = shares
        self.min_horizon = min_horizon
        self.bucket_s = bucket_s
        self.pending: dict[int, dict[str, float]] = {}
        self.released_upto = -1  # buckets <= this index are released
        self.recent_elapsed: deque[float] = deque(maxlen=400)
        self._horizon = min_horizon

    @property
    def horizon(self) -> float:
        return self._horizon

    def add(self, kind: str, elapsed_s: float, now: float) -> None:
        elapsed_s = max(0.0, elapsed_s)
        self.recent_elapsed.append(elapsed_s)
        if len(self.recent_elapsed) % 50 == 1:
            self._horizon = min(300.0, max(self.min_horizon, max(self.recent_elapsed) + 1.0))
        bucket = int((now - elapsed_s) // self.bucket_s)
        if bucket <= self.released_upto:
            self.shares.observe(kind)
            return
        counts = self.pending.get(bucket)
        if counts is None:
            counts = self.pending[bucket] = {}
        counts[kind] = counts.get(kind, 0.0) + 1.0
        self.advance(now)

    def advance(self, now: float) -> None:
        """Release, oldest first, the cohorts every call of which has resolved by now."""
        last = int((now - self._horizon) // self.bucket_s) - 1
        if last <= self.released_upto:
            return
        for bucket in sorted(b for b in self.pending if b <= last):
            self.shares.observe_many(self.pending.pop(bucket))
        self.released_upto = last


class Estimators:
    """Per-campaign online estimates: outcome shares, ring times, talk and wrap-up.

    prior: the operator's expectation of the list (a WorldModel); defaults to the world
        model's defaults. prior_weight: how many attempts the prior hit rate is worth.
    half_life: forgetting of outcome shares, in attempts.
    """

    def __init__(
        self,
        prior: WorldModel | None = None,
        prior_weight: float = 30.0,
        half_life: float = 250.0,
        amd_time: Duration | None = None,
    ) -> None:
        w = prior or WorldModel()
        self.prior_world = w
        failed = w.busy_rate + w.congestion_rate + w.invalid_rate
        self.shares = DecayingShares(
            {
                "human": max(w.human_rate, 1e-3),
                "machine": max(w.machine_rate, 1e-3),
                "no_answer": max(w.no_answer_rate, 1e-3),
                "failed": max(failed, 1e-3),
            },
            prior_weight=prior_weight,
            half_life=half_life,
        )
        extra = amd_time.expected if amd_time is not None else 0.0
        human_prior = w.answer_ring
        if extra > 0:
            human_prior = Duration.uniform(
                w.answer_ring.low + extra, w.answer_ring.high + extra
            ) if w.answer_ring.kind == "uniform" else Duration(
                kind=w.answer_ring.kind, mean=w.answer_ring.mean + extra, cv=w.answer_ring.cv
            )
        self.times: dict[str, EmpiricalDuration] = {
            "human": EmpiricalDuration(human_prior, rebuild_every=40, max_seconds=300),
            "machine": EmpiricalDuration(human_prior, rebuild_every=40, max_seconds=300),
            "no_answer": EmpiricalDuration(
                Duration.fixed(w.no_answer_ring), rebuild_every=40, max_seconds=300
            ),
            "failed": EmpiricalDuration(w.fail_ring, rebuild_every=40, max_seconds=300),
        }
        self.cohorts = DialCohorts(self.shares, min_horizon=w.no_answer_ring + extra + 2.0)
        self.talk = EmpiricalDuration(w.talk, rebuild_every=50)
        self.wrap = EmpiricalDuration(w.wrap, rebuild_every=50, max_seconds=1800)
        # Own abandonment counts (used when the snapshot carries no ledger headroom).
        self.answers = 0
        self.abandons = 0
        self.recent_abandon = 0.0  # EWMA of the abandon indicator per answer
        self._abandon_decay = 0.5 ** (1.0 / 300.0)
        self._recent_n = 0.0
        self._memos: dict[str, dict[tuple[object, ...], list[float]]] = {}
        self._memo_versions: dict[str, tuple[int, ...]] = {}

    # -- feeding ---------------------------------------------------------------
    def observe_result(self, kind: str, elapsed_s: float, now: float | None = None) -> None:
        """A placed call resolved `elapsed_s` after it was dialled. With `now` (the caller's
        clock) its outcome joins its dial cohort (see `DialCohorts`); without, it is
        counted at once."""
        if now is None:
            self.shares.observe(kind)
        else:
            self.cohorts.add(kind, elapsed_s, now)
        self.times[kind].observe(elapsed_s)

    def advance(self, now: float) -> None:
        """Bring the outcome shares up to `now` (policies call it every tick)."""
        self.cohorts.advance(now)

    def observe_talk(self, seconds: float) -> None:
        self.talk.observe(seconds)

    def observe_wrap(self, seconds: float) -> None:
        self.wrap.observe(seconds)

    def observe_connect(self, waited_s: float = 0.0) -> None:
        self.answers += 1
        self._recent(0.0)

    def observe_abandon(self) -> None:
        self.answers += 1
        self.abandons += 1
        self._recent(1.0)

    def _recent(self, x: float) -> None:
        d = self._abandon_decay
        self.recent_abandon = self.recent_abandon * d + x
        self._recent_n = self._recent_n * d + 1.0

    # -- point estimates ---------------------------------------------------------
    @property
    def hit_rate(self) -> float:
        """Share of attempts that reach the queue as a (presumed) person."""
        return self.shares.share("human")

    @property
    def machine_rate(self) -> float:
        return self.shares.share("machine")

    @property
    def observations(self) -> int:
        return self.shares.total_observations

    @property
    def abandon_rate(self) -> float:
        return self.abandons / self.answers if self.answers else 0.0

    @property
    def recent_abandon_rate(self) -> float:
        return self.recent_abandon / self._recent_n if self._recent_n > 0 else 0.0

    @property
    def mean_cycle(self) -> float:
        """Mean agent cycle: talk plus wrap-up."""
        return self.talk.mean + self.wrap.mean

    # -- forecasts ---------------------------------------------------------------
    def _memo_for(self, kind: str) -> dict[tuple[object, ...], list[float]]:
        """The memo for one kind of profile, cleared when what it depends on changes."""
        if kind == "talk":
            v: tuple[int, ...] = (self.talk.version, self.wrap.version)
        elif kind == "wrap":
            v = (self.wrap.version,)
        else:
            v = (
                *(self.times[k].version for k in KINDS),
                int(self.shares.total_observations // 25),
            )
        memo = self._memos.get(kind)
        if memo is None or self._memo_versions.get(kind) != v:
            memo = {}
            self._memos[kind] = memo
            self._memo_versions[kind] = v
        return memo

    def profile_new_call(self, grid: Sequence[float]) -> list[float]:
        """For a call placed now: P(it needs an agent by now + s), s over grid."""
        memo = self._memo_for("calls")
        key: tuple[object, ...] = ("new", tuple(grid))
        got = memo.get(key)
        if got is None:
            p = self.hit_rate
            f = self.times["human"]
            got = [p * f.cdf(s) for s in grid]
            memo[key] = got
        return got

    def profile_future_calls(self, grid: Sequence[float]) -> list[float]:
        """For calls placed steadily from now at one per second: the expected number that
        need an agent by now + s (the integral of `profile_new_call` over the dial times)."""
        memo = self._memo_for("calls")
        key: tuple[object, ...] = ("future", tuple(grid))
        got = memo.get(key)
        if got is None:
            p = self.hit_rate
            f = self.times["human"]
            got = []
            for s in grid:
                steps = max(1, int(math.ceil(s * 2)))
                h = s / steps
                # Trapezoid rule on half-second steps: the cdf is smooth enough.
                acc = 0.5 * (f.cdf(0.0) + f.cdf(s)) + sum(f.cdf(i * h) for i in range(1, steps))
                got.append(p * acc * h)
            memo[key] = got
        return got

    def profile_ringing(self, elapsed: float, grid: Sequence[float]) -> list[float]:
        """For a call ringing for `elapsed` s: P(it needs an agent by now + s)."""
        return self._row("calls", elapsed, grid)

    def profile_wrap(self, elapsed: float, grid: Sequence[float]) -> list[float]:
        """For an agent in wrap-up for `elapsed` s: P(ready again by now + s)."""
        return self._row("wrap", elapsed, grid)

    def profile_talk(self, elapsed: float, grid: Sequence[float]) -> list[float]:
        """For an agent talking for `elapsed` s: P(talk and wrap-up both over by now + s)."""
        return self._row("talk", elapsed, grid)

    def _row(self, kind: str, elapsed: float, grid: Sequence[float]) -> list[float]:
        e = max(0, int(elapsed))
        return self._table(kind, grid, e)[e].tolist()

    def _wrap_atoms(self, memo: dict[tuple[object, ...], list[float]]) -> list[tuple[float, float]]:
        got = memo.get(("atoms",))
        if got is None:
            qs = self.wrap.quantiles(5)
            got = [float(q) for q in qs]
            memo[("atoms",)] = got
        counts: dict[float, int] = {}
        for q in got:
            counts[q] = counts.get(q, 0) + 1
        return [(q, c / len(got)) for q, c in counts.items()]

    def _table(self, kind: str, grid: Sequence[float], upto: int) -> np.ndarray:
        """Profiles by whole elapsed second 0..upto (rows) over grid (columns), for "wrap",
        "talk" or "calls" (ringing); rebuilt when the estimates they rest on change, so a
        tick costs a few array operations whatever the size of the floor."""
        memo = self._memo_for(kind)
        key: tuple[object, ...] = ("table", tuple(grid))
        got = memo.get(key)
        if got is not None and len(got) > upto:
            return got  # type: ignore[return-value]
        rows = max(upto + 1, 2 * (len(got) if got is not None else 32))
        e = np.arange(rows, dtype=float)[:, None]
        g = np.asarray(grid, dtype=float)[None, :]
        if kind == "wrap":
            table = self.wrap.residual_cdf_array(e, g)
        elif kind == "talk":
            atoms = self._wrap_atoms(memo)
            w = np.array([a for a, _ in atoms])[:, None]
            weight = np.array([b for _, b in atoms])[None, :, None]
            offsets = g - w  # (atoms, grid): the talk must end that long before s
            r = self.talk.residual_cdf_array(e[:, :, None], offsets[None, :, :])
            table = (weight * np.where(offsets[None, :, :] > 0, r, 0.0)).sum(axis=1)
        else:
            ev = e[:, 0]
            surv = np.zeros_like(ev)
            for k in KINDS:
                surv += self.shares.share(k) * (1.0 - self.times[k].cdf_array(ev))
            f = self.times["human"]
            base = f.cdf_array(ev)
            with np.errstate(divide="ignore", invalid="ignore"):
                table = self.hit_rate / surv[:, None] * (f.cdf_array(e + g) - base[:, None])
            table = np.where(surv[:, None] < 1e-9, 0.0, np.clip(table, 0.0, 1.0))
        memo[key] = table  # type: ignore[assignment]
        return table

    def _sum_profiles(self, kind: str, elapsed: Sequence[float], grid: Sequence[float]) -> np.ndarray:
        """Rows of `_table` for each elapsed (whole seconds), one row per item."""
        idx = np.asarray(elapsed, dtype=float).astype(np.intp)
        np.maximum(idx, 0, out=idx)
        table = self._table(kind, grid, int(idx.max()))
        return table[idx]

    def agent_sums(
        self, wrap_elapsed: Sequence[float], talk_elapsed: Sequence[float],
        grid: Sequence[float],
    ) -> tuple[list[float], list[float]]:
        """Sum over busy agents of P(free by now + s) and of its Bernoulli variance."""
        mean = np.zeros(len(grid))
        var = np.zeros(len(grid))
        for kind, elapsed in (("wrap", wrap_elapsed), ("talk", talk_elapsed)):
            if len(elapsed):
                p = self._sum_profiles(kind, elapsed, grid)
                mean += p.sum(axis=0)
                var += (p * (1.0 - p)).sum(axis=0)
        return mean.tolist(), var.tolist()

    def ringing_moments(
        self, ringing_elapsed: Sequence[float], grid: Sequence[float],
    ) -> tuple[list[float], list[float]]:
        """Sum over ringing calls of P(it needs an agent by now + s) and of its Bernoulli
        variance: each call answers or not, so their count is far tighter than a Poisson
        count of the same mean when answer rates are high."""
        if not len(ringing_elapsed):
            return [0.0] * len(grid), [0.0] * len(grid)
        p = self._sum_profiles("calls", ringing_elapsed, grid)
        return p.sum(axis=0).tolist(), (p * (1.0 - p)).sum(axis=0).tolist()

    def agents_free_forecast(
        self, agents_ready: int, wrap_elapsed: Sequence[float],
        talk_elapsed: Sequence[float], grid: Sequence[float],
    ) -> list[float]:
        """Expected number of agents free (ready, or back from talk and wrap-up) by each
        offset in grid, ignoring calls still to be connected."""
        out = [float(agents_ready)] * len(grid)
        for e in wrap_elapsed:
            prof = self.profile_wrap(e, grid)
            out = [a + b for a, b in zip(out, prof, strict=True)]
        for e in talk_elapsed:
            prof = self.profile_talk(e, grid)
            out = [a + b for a, b in zip(out, prof, strict=True)]
        return out
