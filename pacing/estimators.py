"""Online, cheap estimators the engine feeds with call outcomes.

One `Estimators` object per campaign. The engine (or the simulator) calls:

- `observe_result(kind, elapsed_s)` when a placed call resolves: kind is "human" (a
  person answered and the call now needs an agent; elapsed_s is dial-to-queue time,
  AMD included), "machine" (AMD said machine; the dialer hung up), "no_answer" or
  "failed" (busy, congestion, invalid);
- `observe_talk(seconds)` and `observe_wrap(seconds)` when a call or a wrap-up ends;
- `observe_connect(waited_s)` / `observe_abandon()` when a queued answer reaches an agent
  or is abandoned.

Everything adapts: outcome shares use exponential forgetting (half-life in attempts) with
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
    def observe_result(self, kind: str, elapsed_s: float) -> None:
        self.shares.observe(kind)
        self.times[kind].observe(elapsed_s)

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

    def survival(self, elapsed: float) -> float:
        """P(a call placed `elapsed` seconds ago is still unresolved)."""
        total = 0.0
        for k in KINDS:
            total += self.shares.share(k) * (1.0 - self.times[k].cdf(elapsed))
        return total

    def profile_ringing(self, elapsed: float, grid: Sequence[float]) -> list[float]:
        """For a call ringing for `elapsed` s: P(it needs an agent by now + s)."""
        e = int(elapsed)
        memo = self._memo_for("calls")
        key: tuple[object, ...] = (e, tuple(grid))
        got = memo.get(key)
        if got is None:
            surv = self.survival(e)
            f = self.times["human"]
            if surv < 1e-9:
                got = [0.0 for _ in grid]
            else:
                p = self.hit_rate / surv
                base = f.cdf(e)
                got = [min(1.0, max(0.0, p * (f.cdf(e + s) - base))) for s in grid]
            memo[key] = got
        return got

    def profile_wrap(self, elapsed: float, grid: Sequence[float]) -> list[float]:
        """For an agent in wrap-up for `elapsed` s: P(ready again by now + s)."""
        e = int(elapsed)
        memo = self._memo_for("wrap")
        key: tuple[object, ...] = (e, tuple(grid))
        got = memo.get(key)
        if got is None:
            got = [self.wrap.residual_cdf(e, s) for s in grid]
            memo[key] = got
        return got

    def profile_talk(self, elapsed: float, grid: Sequence[float]) -> list[float]:
        """For an agent talking for `elapsed` s: P(talk and wrap-up both over by now + s)."""
        e = int(elapsed)
        memo = self._memo_for("talk")
        key: tuple[object, ...] = (e, tuple(grid))
        got = memo.get(key)
        if got is None:
            atoms = self._wrap_atoms(memo)
            got = []
            for s in grid:
                acc = 0.0
                for w, weight in atoms:
                    if s > w:
                        acc += weight * self.talk.residual_cdf(e, s - w)
                got.append(acc)
            memo[key] = got
        return got

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

    def agent_sums(
        self, wrap_elapsed: Sequence[float], talk_elapsed: Sequence[float],
        grid: Sequence[float],
    ) -> tuple[list[float], list[float]]:
        """Sum over busy agents of P(free by now + s) and of its Bernoulli variance."""
        g = len(grid)
        mean = [0.0] * g
        var = [0.0] * g
        tg = tuple(grid)
        rng_g = range(g)
        if wrap_elapsed:
            memo = self._memo_for("wrap")
            for e in wrap_elapsed:
                prof = memo.get((int(e), tg))
                if prof is None:
                    prof = self.profile_wrap(e, tg)
                for j in rng_g:
                    p = prof[j]
                    if p > 0.0:
                        mean[j] += p
                        var[j] += p * (1.0 - p)
        if talk_elapsed:
            memo = self._memo_for("talk")
            for e in talk_elapsed:
                prof = memo.get((int(e), tg))
                if prof is None:
                    prof = self.profile_talk(e, tg)
                for j in rng_g:
                    p = prof[j]
                    if p > 0.0:
                        mean[j] += p
                        var[j] += p * (1.0 - p)
        return mean, var

    def ringing_sums(self, ringing_elapsed: Sequence[float], grid: Sequence[float]) -> list[float]:
        """Sum over ringing calls of P(it needs an agent by now + s)."""
        g = len(grid)
        mean = [0.0] * g
        tg = tuple(grid)
        memo = self._memo_for("calls")
        for e in ringing_elapsed:
            prof = memo.get((int(e), tg))
            if prof is None:
                prof = self.profile_ringing(e, tg)
            for j in range(g):
                mean[j] += prof[j]
        return mean

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
