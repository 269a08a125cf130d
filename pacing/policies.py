"""The pacing policies and their registry (`make_policy`).

- progressive: one call per ready agent not already covered by a call in flight.
- ratio: a fixed number of calls in flight per ready agent (`level`).
- adaptive: VICIdial's ADAPT_AVERAGE controller (AST_VDadapt.pl) driving VICIdial's
  ratio dialling.
- pi: the UNICOM / SPSS Dimensions "overdial" controller.
- predictive: model-based; see `PredictivePolicy`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any

from pacing.abandon_loop import AbandonLoop
from pacing.estimators import Estimators
from pacing.exposure import ExposureScale
from pacing.lost_calls import (
    answers_excess,
    excess_over_frees,
    poisson_above,
    poisson_excess,
    running_max_ratio,
)
from pacing.policy import BasePolicy, PacingDecision, PacingReason, Policy
from pacing.snapshot import CampaignSnapshot

Details = dict[str, float | int | str]


def _abandon_view(snap: CampaignSnapshot, est: Estimators) -> tuple[float, int, int]:
    """(rate, answers, abandons): the ledger's if present, else the estimators' own."""
    hr = snap.headroom
    if hr is not None:
        return hr.rate, hr.answers, hr.abandons
    return est.abandon_rate, est.answers, est.abandons


class ProgressivePolicy(BasePolicy):
    """One call per ready agent not already covered by a call ringing or waiting."""

    name = "progressive"

    def _raw(self, snap: CampaignSnapshot) -> tuple[int, str, Details]:
        return snap.uncovered_ready, PacingReason.PROGRESSIVE.value, {}


class RatioPolicy(BasePolicy):
    """Keep `level` calls in flight per ready agent (round half up)."""

    name = "ratio"

    def __init__(self, level: float = 2.0) -> None:
        super().__init__()
        if level <= 0:
            raise ValueError("ratio level must be > 0")
        self.level = level

    def _raw(self, snap: CampaignSnapshot) -> tuple[int, str, Details]:
        goal = int(math.floor(self.level * snap.agents_ready + 0.5))
        return goal - snap.calls_in_flight, PacingReason.RATIO.value, {"level": self.level}


class AdaptivePolicy(BasePolicy):
    """VICIdial ADAPT_AVERAGE, after AST_VDadapt.pl.

    Each tick samples the differential (ready agents - calls waiting - dl_diff_target) and
    the agent count (on call + ready; ready only with available_only_ratio_tally). Every
    `period` seconds (15) the dial level becomes

        level * (1 + intensity_diff / 100),  with diff% = 100 * avg(differential) / avg(agents)
        intensity_diff = diff% * (intensity/100 + 1)       if diff% >= 0
                       = diff% * |intensity/100 - 1|       if diff% < 0

    over the last `samples` (15) samples, capped at `max_level` and floored at 1; then halved
    when the last minute had more than 20 calls with over 50 % dropped, and halved when today
    had more than 50 calls and the drop percentage exceeds `drop_limit_pct`
    (ADAPT_AVERAGE), and floored at 1 again. The drop percentage is drops / answers (the
    ledger's rate; newer VICIdial versions report drops against answers too).

    Dialling is VICIdial's: goal = round(level * agents_calc) lines, minus the lines
    already active (ringing, waiting, and connected to an agent).
    """

    name = "adaptive"

    def __init__(
        self,
        initial_level: float = 1.0,
        max_level: float = 3.0,
        drop_limit_pct: float = 3.0,
        intensity: float = 0.0,
        dl_diff_target: float = 0.0,
        samples: int = 15,
        period: float = 15.0,
        available_only_ratio_tally: bool = False,
    ) -> None:
        super().__init__()
        self.level = max(1.0, initial_level)
        self.max_level = max_level
        self.drop_limit_pct = drop_limit_pct
        self.intensity = intensity
        self.dl_diff_target = dl_diff_target
        self.period = period
        self.available_only = available_only_ratio_tally
        self._diff: deque[float] = deque(maxlen=samples)
        self._agents: deque[float] = deque(maxlen=samples)
        self._next_update: float | None = None
        self._own = Estimators()
        self._calls: deque[tuple[float, int]] = deque()  # (time, calls) for the last minute
        self._calls_today = 0
        self._drops_hist: deque[tuple[float, int]] = deque()

    def _agents_calc(self, snap: CampaignSnapshot) -> int:
        incall = len(snap.talk_elapsed)
        return snap.agents_ready if self.available_only else snap.agents_ready + incall

    def _raw(self, snap: CampaignSnapshot) -> tuple[int, str, Details]:
        est = snap.estimates or self._own
        now = snap.now
        self._diff.append(snap.agents_ready - len(snap.waiting_elapsed) - self.dl_diff_target)
        self._agents.append(self._agents_calc(snap))
        rate, _answers, drops = _abandon_view(snap, est)
        self._drops_hist.append((now, drops))
        while self._drops_hist and self._drops_hist[0][0] < now - 60.0:
            self._drops_hist.popleft()
        while self._calls and self._calls[0][0] < now - 60.0:
            self._calls.popleft()
        if self._next_update is None:
            self._next_update = now + self.period
        elif now >= self._next_update:
            self._next_update = now + self.period
            self._update_level(rate, drops)
        agents_calc = self._agents_calc(snap)
        active_lines = snap.calls_in_flight + len(snap.talk_elapsed)
        goal = int(math.floor(self.level * agents_calc + 0.5))
        n = max(0, goal - active_lines)
        self._calls.append((now, n))
        self._calls_today += n
        return n, PacingReason.ADAPTIVE.value, {"level": round(self.level, 3)}

    def _update_level(self, drop_rate: float, drops_total: int) -> None:
        agents_avg = sum(self._agents) / len(self._agents) if self._agents else 0.0
        if agents_avg <= 0:
            return
        diff_mul = (sum(self._diff) / len(self._diff)) / agents_avg
        diff_pct = diff_mul * 100.0
        intensity_mul = self.intensity / 100.0
        if diff_pct < 0:
            intensity_diff = diff_pct * abs(intensity_mul - 1.0)
        else:
            intensity_diff = diff_pct * (intensity_mul + 1.0)
        level = self.level * (intensity_diff / 100.0 + 1.0)
        level = min(level, self.max_level)
        level = max(level, 1.0)
        calls_one = sum(c for _, c in self._calls)
        drops_one = drops_total - (self._drops_hist[0][1] if self._drops_hist else drops_total)
        if calls_one > 20 and 100.0 * drops_one / calls_one > 50.0:
            level /= 2.0
        if self._calls_today > 50 and 100.0 * drop_rate > self.drop_limit_pct:
            level /= 2.0
        self.level = max(level, 1.0)


class PIPolicy(BasePolicy):
    """UNICOM / SPSS Dimensions overdial: calls in flight wanted =
    idle + idle * (1/connect_rate - 1) * adjust, where idle is the ready agents and the
    connect rate is the estimated hit rate; `adjust` (1 = dial exactly for the expected
    answers) is moved by a PI loop on the abandon rate's error against `target`.
    """

    name = "pi"

    def __init__(
        self,
        target: float = 0.022,
        kp: float = 3.0,
        ki: float = 0.0003,
        initial_adjust: float = 0.5,
        min_adjust: float = 0.2,
        max_adjust: float = 4.0,
    ) -> None:
        super().__init__()
        self.target = target
        self.kp = kp
        self.ki = ki
        self.initial_adjust = initial_adjust
        self.min_adjust = min_adjust
        self.max_adjust = max_adjust
        self._integral = 0.0
        self._last: float | None = None
        self._own = Estimators()
        self.adjust = initial_adjust

    def _raw(self, snap: CampaignSnapshot) -> tuple[int, str, Details]:
        est = snap.estimates or self._own
        dt = 0.0 if self._last is None else max(0.0, snap.now - self._last)
        self._last = snap.now
        rate, answers, _ = _abandon_view(snap, est)
        # Blend the cumulative rate with the recent one once there is evidence.
        measured = 0.5 * rate + 0.5 * est.recent_abandon_rate if answers >= 30 else rate
        error = self.target - measured
        if answers >= 30:
            self._integral += error * dt
        raw = self.initial_adjust + self.kp * error + self.ki * self._integral
        adjust = min(self.max_adjust, max(self.min_adjust, raw))
        if raw != adjust and self.ki > 0:  # anti-windup: hold the integral at the rail
            self._integral = (adjust - self.initial_adjust - self.kp * error) / self.ki
        self.adjust = adjust
        p = max(est.hit_rate, 0.01)
        idle = snap.agents_ready
        want = idle + idle * (1.0 / p - 1.0) * adjust
        n = int(math.ceil(want - 1e-9)) - snap.calls_in_flight
        return n, PacingReason.PI.value, {"adjust": round(adjust, 3), "hit_rate": round(p, 4)}


ANSWER_MODELS = ("poisson", "binomial")
FREE_MODELS = ("shifted", "count")
_GRID = (2.0, 5.0, 8.0, 11.0, 14.0, 17.0, 20.0, 24.0)
class PredictivePolicy(BasePolicy):
    """Model-based predictive pacing.

    For a grid of future offsets s (up to ~25 s, the answer horizon) it forecasts
    C(s), the answered calls that will need an agent by now + s (calls waiting, the calls
    ringing given their elapsed ring time, and n new calls), and F(s + connect_timeout), the
    agents free by then (ready ones, and those in wrap-up or on a call given the residual
    of their elapsed times). Calls are lost when answers outrun frees: L(n) = sup_s (C(s) -
    F(s + tau))^+, the running maximum of the excess. The policy places the largest n
    whose *marginal* abandon probability (E[L](n) - E[L](n - 1)) / P(call n is answered
    within the horizon) stays below `theta`, and whose total E[L](n) fits the ledger's
    remaining abandon budget.

    E[L](n) (`pacing.lost_calls`): at each offset, E[(C - F)^+] with C counted as calls
    that each answer or not (`answer_model="binomial"`: a binomial of C's mean and
    variance), F at its mean less `agent_sd_weight` standard deviations; the largest over
    the grid, scaled up by how much more the running maximum of a random walk of that mean
    and variance holds (`running_max`, Clark's approximation). Both matter most where the
    old model (a Poisson count at the worst offset: `answer_model="poisson"`,
    `running_max=False`) ranked states wrongly. Measured on high answer rates (42 and 87
    agents at 62-64 %, long calls): calls placed with nobody ready, ahead of the frees,
    were lost one time in ten, against a marginal test of about 6 %, while calls placed
    for four or more ready agents were almost never lost, against the same test: a
    Poisson count gives four calls ringing a chance of five answers, and the worst offset
    misses that answers and frees coming in step lose calls all along the horizon. So the
    old model dialled ahead where it was dear and held back where it was cheap; PI, which
    only dials for ready agents, had more busy time at half the abandons there.

    `free_model="count"` (selectable, not the default) counts the frees as the answers are
    counted: each busy agent frees or not, and C - F is one sum of yes/no outcomes (the
    answers and the agents who stay busy) against every agent, fitted by a binomial shifted
    to end where the sum ends (`pacing.lost_calls.excess_over_frees`; `agent_sd_weight`
    then has no part). Its E[L] is far closer to the exact sum (`scripts/bench_lost_calls.py`:
    error at most 0.09 standard deviations of C - F over 3000 random sets, against 0.36 for
    the shifted mean, which misses the loss outright on a tenth of them), yet over 37
    scenarios x 3 fresh seeds it read G +0.005 +- 0.016: it gains on high answer rates (87
    agents at 64 %: +0.10) and loses on small teams with long memoryless calls and no
    wrap-up (24 agents, 463 s: -0.19), where the shifted mean's caution with several calls
    ringing and nobody ready was worth more than the accuracy (BENCHMARKS.md).

    End-of-budget guard: E[L](n) counts the calls already ringing or waiting as well as the
    new ones, so it is the exposure of everything in flight. Besides the (borrowing) budget
    test above, any call beyond the progressive number needs that exposure plus a reserve
    of `reserve_z` standard deviations (Poisson: sqrt(E[L])) to fit in the ledger's
    *current* allowance, with nothing borrowed. The reserve grows with the calls in flight,
    so calls already ringing can never overdraw the budget on their own expectation plus
    noise; when it does not fit the policy places only what progressive would.

    The last abandons, counted whole: below `whole_below` (3) abandons of allowance, a lost
    call is a whole abandon and the allowance holds only floor(allowed) of them. More calls
    in flight beyond the ready agents than that are placed only while the chance that they
    lose more whole abandons than are left (Poisson, of the scaled E[L]) stays within
    `whole_chance` (0.2 %). The guard above bounds the exposure of one horizon, and near the
    cap it is renewed at every tick: a small team with a third of an abandon left took a
    1 % chance of losing a call tick after tick until one was lost, and ended a shift at
    3.003 % (13 agents, seed 2 of `s105`). At `whole_chance` 0 (every call beyond the ready
    agents counted as lost) the small teams lost 0.065 of busy time; at 0.2 % they lost
    none measurable (BENCHMARKS.md).

    theta is set by feedback on the measured abandon rate (`pacing.abandon_loop`: the
    recent rate is steered towards the rate that ends the shift at `target`, below the
    regulatory `cap`). With few observations or a small team (fewer than `min_agents`)
    theta shrinks smoothly, which is progressive pacing in the limit; with the budget spent
    it paces progressively. It never places fewer calls than progressive would.

    Small budgets: the abandons of the loop's recent window (the time it takes to steer,
    half an hour on a small team, a few minutes on a large one) at the rate it wants are
    Poisson, and their standard deviation is a swing the loop cannot steer out in time.
    While the budget (allowance plus borrowing) is less than `budget_noise_z` (3) such
    swings, theta is scaled by the ratio (`budget_caution`): a small team with a few
    abandons left dials more carefully, instead of spending them in one bad quarter hour
    and then pacing progressively, the profile's rule once the allowance is gone, for tens
    of minutes (on low answer rates that is an idle floor). A large floor earns an abandon
    of allowance back in seconds, and its budget is soon larger than the swing. Two
    swings left about one small-team run in a hundred one abandon over the cap at the
    shift's end (200 sampled floors x 3 seeds and seeds 4-6 of the small teams); three
    left none in 402 small-team runs, with slightly more busy time.

    The calls still to be placed: the calls the next ticks place are answered within the
    same horizon and take the same agents, and a myopic forecast (only the calls in flight
    and the new ones) leaves them out. So the marginal test's C(s) also carries the
    answers of calls placed from now on at the recent dial rate (an EWMA over
    `rate_window_s`), weighted by `future_weight` = 0.5: the next ticks make the same
    test with today's calls counted, so counting the interference whole on both sides
    would count it twice. On low answer rates, where many calls are in flight per agent,
    it adds 0.01-0.04 of busy time at the same abandon rate (20-150 agents, 4 h). The
    budget and the end-of-budget guard use only the calls actually placed.

    Calibration: E[L] is an approximation (frees counted at their mean less half a
    standard deviation err high; the fitted counts and the Gaussian running maximum can
    err either way, and the answers of calls not yet placed are left out of it); with the
    old model `scripts/pacing_calibration.py` measured the abandons that follow
    at about four to five times E[L] on the 150-agent floor of issue 11, and at a small
    fraction of it on others (281 agents on short calls with AMD: none in three hours while
    E[L] put the calls in flight at 0.08 abandons over each 26-s horizon). The theta loop
    absorbs a steady factor like that in the marginal test; what it cannot absorb is an
    error that swings tick to tick, or from state to state (above), which is why the hit
    rate is counted by dial cohort (see `pacing.estimators.DialCohorts`). The budget and
    the end-of-budget guard compare E[L] with abandons in the ledger, so there it is scaled
    by kappa, the abandons that followed over those E[L] predicted, recently, never below 1
    (`pacing.exposure`; `scale_guards`).
    """

    name = "predictive"

    def __init__(
        self,
        target: float = 0.025,
        theta: float = 0.025,
        connect_timeout: float = 2.0,
        min_agents: int = 8,
        min_observations: int = 150,
        budget_margin: float = 1.0,
        agent_sd_weight: float = 0.5,
        borrow_s: float = 300.0,
        borrow_above: float = 0.5,
        reserve_z: float = 2.0,
        rate_window_s: float = 20.0,
        future_weight: float = 0.5,
        scale_guards: bool = True,
        budget_noise_z: float = 3.0,
        answer_model: str = "binomial",
        running_max: bool = True,
        free_model: str = "shifted",
        whole_below: float = 3.0,
        whole_chance: float = 0.002,
    ) -> None:
        super().__init__()
        if answer_model not in ANSWER_MODELS:
            raise ValueError(f"answer_model must be one of {', '.join(ANSWER_MODELS)},"
                             f" not {answer_model!r}")
        if free_model not in FREE_MODELS:
            raise ValueError(f"free_model must be one of {', '.join(FREE_MODELS)},"
                             f" not {free_model!r}")
        if free_model == "count" and answer_model != "binomial":
            raise ValueError("free_model 'count' needs answer_model 'binomial'")
        self.free_model = free_model
        self.answer_model = answer_model
        self.running_max = running_max
        self.target = target
        self.exposure = ExposureScale() if scale_guards else None
        self.loop = AbandonLoop(target=target, theta=theta)
        self.connect_timeout = connect_timeout
        self.min_agents = min_agents
        self.min_observations = min_observations
        self.budget_margin = budget_margin
        self.agent_sd_weight = agent_sd_weight
        self.borrow_s = borrow_s
        self.borrow_above = borrow_above
        self.reserve_z = reserve_z
        self.rate_window_s = rate_window_s
        self.future_weight = future_weight
        self.budget_noise_z = budget_noise_z
        if whole_below < 0:
            raise ValueError("whole_below must be >= 0")
        self.whole_below = whole_below
        if not 0.0 <= whole_chance < 1.0:
            raise ValueError("whole_chance must be in [0, 1)")
        self.whole_chance = whole_chance
        self.grid = _GRID
        self.agent_grid = tuple(s + connect_timeout for s in _GRID)
        self._own = Estimators()
        self._last: float | None = None
        self._occupancy: float | None = None
        self._dial_rate = 0.0  # calls per second placed recently (EWMA)
        self._rate_at: float | None = None

    def decide(self, snapshot: CampaignSnapshot) -> PacingDecision:
        decision = super().decide(snapshot)
        now = snapshot.now
        if self._rate_at is not None and now > self._rate_at:
            dt = now - self._rate_at
            a = 1.0 - math.exp(-dt / self.rate_window_s)
            self._dial_rate += a * (decision.calls / dt - self._dial_rate)
        self._rate_at = now
        return decision

    def confidence(self, snap: CampaignSnapshot, est: Estimators) -> float:
        """0 (progressive) .. 1 (full predictive): evidence and team size."""
        obs = min(1.0, est.observations / max(1, self.min_observations))
        active = snap.agents_active
        team = min(1.0, max(0.0, (active - 1.0) / max(1.0, self.min_agents - 1.0)))
        return obs * (0.35 + 0.65 * team)

    def budget_caution(self, budget: float) -> float:
        """0..1, the share of theta a budget of `budget` abandons affords: 1 once it
        covers `budget_noise_z` standard deviations of the abandons the loop's recent
        window holds at the rate it wants (Poisson), in proportion below that."""
        loop = self.loop
        expected = loop.wanted_rate * loop.answer_rate * loop.window_s
        swing = self.budget_noise_z * math.sqrt(expected)
        if swing <= 0.0 or budget >= swing:
            return 1.0
        return max(0.0, budget / swing)

    def _raw(self, snap: CampaignSnapshot) -> tuple[int, str, Details]:
        est = snap.estimates or self._own
        dt = 0.0 if self._last is None else max(0.0, snap.now - self._last)
        self._last = snap.now
        active = snap.agents_active
        occ_now = len(snap.talk_elapsed) / active if active else 0.0
        if self._occupancy is None:
            self._occupancy = occ_now
        else:
            a = min(1.0, dt / 300.0)
            self._occupancy += a * (occ_now - self._occupancy)
        _, answers, abandons = _abandon_view(snap, est)
        self.loop.update(answers, abandons, dt)
        base = snap.uncovered_ready
        lim = snap.limits
        if lim.max_occupancy is not None and self._occupancy >= lim.max_occupancy:
            return base, PacingReason.CAP_OCCUPANCY.value, {"occupancy": round(self._occupancy, 3)}
        hr = snap.headroom
        cap = hr.cap if hr is not None else 0.03
        allowed = hr.allowed if hr is not None else cap * est.answers - est.abandons
        borrow = 0.0
        if allowed > 0.0:
            # Borrow the budget the next `borrow_s` seconds of answers will earn, scaled
            # down while the remaining allowance is below `borrow_above` abandons.
            borrow = cap * active * self.borrow_s / max(est.mean_cycle, 1.0)
            if self.borrow_above > 0:
                borrow *= min(1.0, allowed / self.borrow_above)
        budget = allowed - self.budget_margin + borrow
        if allowed <= 0:
            budget = min(budget, 0.0)
        if budget <= 0:
            return base, PacingReason.BUDGET_EXHAUSTED.value, {"budget": round(budget, 2)}
        conf = self.confidence(snap, est)
        caution = self.budget_caution(budget)
        theta = self.loop.theta * conf * caution
        if theta <= 1e-4:
            return base, PacingReason.WARMING_UP.value, {"confidence": round(conf, 3)}

        grid = self.grid
        g = len(grid)
        ready = float(snap.agents_ready)
        busy_frees, fv = est.agent_sums(snap.wrap_elapsed, snap.talk_elapsed, self.agent_grid)
        fm = [ready + x for x in busy_frees]
        waiting = float(len(snap.waiting_elapsed))
        ring_mean, ring_var = est.ringing_moments(snap.ringing_elapsed, grid)
        cm = [waiting + x for x in ring_mean]
        # The calls the next ticks will place compete for the same agents: at the recent
        # dial rate (half-weighted, see the class docstring) they add answers over the horizon.
        future = est.profile_future_calls(grid)
        rate = self._dial_rate * self.future_weight
        cf = [cm[j] + rate * future[j] for j in range(g)]
        qn = est.profile_new_call(grid)
        q_h = qn[-1]
        if q_h <= 1e-6:
            return base, PacingReason.WARMING_UP.value, {"hit_rate": est.hit_rate}

        sd_f = [self.agent_sd_weight * math.sqrt(v) for v in fv]

        f_eff = [max(0.0, fm[j] - sd_f[j]) for j in range(g)]
        placed: dict[int, float] = {}  # losses of the calls in flight and n new ones
        with_future: dict[int, float] = {}  # ... and of the calls the next ticks place

        binomial = self.answer_model == "binomial"
        # The variance of the answers: the ringing calls' and the new calls' (each answers
        # or not) and the future calls' (a Poisson stream: variance = mean).
        var_f = [ring_var[j] + rate * future[j] for j in range(g)]

        # Frees as a count (`free_model="count"`, `pacing.lost_calls.excess_over_frees`):
        # each busy agent frees or not (mean `busy_frees`, unshifted: the count carries the
        # spread), and the answers are a sum with a largest count (the calls that could
        # answer; the future calls' Poisson stream up to 4 sd above its mean).
        counted = self.free_model == "count"
        busy = len(snap.wrap_elapsed) + len(snap.talk_elapsed)
        most_placed: list[float] = []
        most_future: list[float] = []
        if counted:
            most_now = waiting + len(snap.ringing_elapsed)
            most_placed = [most_now] * g
            most_future = [most_now + rate * future[j] + 4.0 * math.sqrt(rate * future[j])
                           for j in range(g)]

        def worst(cache: dict[int, float], c: list[float], v: list[float], most: list[float],
                  n: int) -> float:
            got = cache.get(n)
            if got is None:
                mean = [c[j] + n * qn[j] for j in range(g)]
                var = [v[j] + n * qn[j] * (1.0 - qn[j]) for j in range(g)]
                if counted:
                    got = max(excess_over_frees(mean[j], var[j], most[j] + n, busy_frees[j],
                                                fv[j], busy, snap.agents_ready) for j in range(g))
                elif binomial:
                    got = max(answers_excess(mean[j], var[j], f_eff[j]) for j in range(g))
                else:
                    got = max(poisson_excess(mean[j], f_eff[j]) for j in range(g))
                if self.running_max and got > 1e-9:
                    got *= running_max_ratio([mean[j] - f_eff[j] for j in range(g)],
                                             [var[j] + fv[j] for j in range(g)])
                cache[n] = got
            return got

        def lost(n: int) -> float:
            return worst(placed, cm, ring_var, most_placed, n)

        kappa = self.exposure.kappa if self.exposure is not None else 1.0

        # The last abandons of the allowance, counted whole (see the class docstring): more
        # calls beyond the ready agents than the whole abandons left only within a small
        # chance of losing more than that.
        whole_left = math.floor(allowed) if allowed < self.whole_below else None
        beyond_ready = snap.calls_in_flight - snap.agents_ready  # before the new calls

        def ok(n: int) -> bool:
            if n <= base:
                return True
            ln = kappa * lost(n)  # in abandons the ledger will see (pacing.exposure)
            if whole_left is not None and beyond_ready + n > whole_left and (
                    self.whole_chance <= 0.0
                    or poisson_above(whole_left, ln) > self.whole_chance):
                return False
            if ln > budget:
                return False
            # End-of-budget guard: the exposure of all calls in flight plus a reserve that
            # grows with it must fit in the allowance earned so far (nothing borrowed).
            if ln + self.reserve_z * math.sqrt(ln) > allowed:
                return False
            # The marginal call: what it adds to everyone's losses, the calls still to be
            # placed included (they compete for the same agents).
            return (worst(with_future, cf, var_f, most_future, n)
                    - worst(with_future, cf, var_f, most_future, n - 1)) <= theta * q_h

        # Largest n with ok(n): the marginal loss grows with n, so search exponentially
        # then by bisection.
        lo = base
        step = max(1, int(active * 0.05) + 1)
        hi = lo + step
        limit = base + int(3 * active / max(q_h, 0.02)) + 5
        while hi < limit and ok(hi):
            lo = hi
            step *= 2
            hi = lo + step
        hi = min(hi, limit)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if ok(mid):
                lo = mid
            else:
                hi = mid
        n = lo
        horizon = grid[-1] + self.connect_timeout
        if self.exposure is not None:
            self.exposure.update(lost(n), horizon, abandons, snap.now)
        reason = PacingReason.PREDICTIVE.value if conf >= 0.999 else PacingReason.WARMING_UP.value
        # What the decision rested on, for the heartbeat and for `dialer simulate --trace`
        # (scripts/pacing_calibration.py holds expected_lost against what happened).
        details: Details = {
            "theta": round(theta, 4),
            "wanted_abandon_rate": round(self.loop.wanted_rate, 4),
            "recent_abandon_rate": round(self.loop.recent_rate, 4),
            "confidence": round(conf, 3),
            "expected_lost": round(lost(n), 4),
            "hit_rate": round(est.hit_rate, 4),
            "answers_per_dial": round(q_h, 4),
            "free_agents": round(fm[-1], 2),
            "headroom": round(allowed, 2),
            "future_rate": round(self._dial_rate, 3),
            "horizon_s": horizon,
            "kappa": round(kappa, 2),
            "budget": round(budget, 2),
            "budget_caution": round(caution, 3),
        }
        if whole_left is not None:
            details["whole_abandons_left"] = whole_left
        return n, reason, details


_REGISTRY: dict[str, Callable[..., BasePolicy]] = {
    "progressive": ProgressivePolicy,
    "ratio": RatioPolicy,
    "adaptive": AdaptivePolicy,
    "pi": PIPolicy,
    "predictive": PredictivePolicy,
}

POLICY_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def make_policy(name: str, **settings: Any) -> Policy:
    """A fresh policy by registry name, with its settings as keyword arguments."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; known: {', '.join(POLICY_NAMES)}") from None
    policy: Policy = factory(**settings)
    return policy
