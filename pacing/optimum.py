"""The best non-anticipating pacing for exponential scenarios: a constrained MDP.

Model (after Bhulai & Koole 2003's dialling model): N agents; state (b, c) with b agents
busy (talk plus wrap-up, exponential with mean `service`) and c calls in flight (each
resolves at rate gamma = 1 / mean ring time over all line results; with probability p it is
a person). A person who finds b = N is abandoned at once; otherwise an agent takes the call.
At any moment the dialler may add calls (c -> c' >= c). Objective: maximise connects per
unit time subject to abandons <= cap * (human answers), i.e.

    (1 - cap) * abandon_rate - cap * connect_rate <= 0.

Optionally (`wait_s` > 0) a person who finds every agent busy waits in a queue of at most
`queue` places and gives up at rate 1 / wait_s (the connect timeout, exponentialised); the
next agent to finish takes the longest waiting. Then b runs to N + queue: b > N means N
agents busy and b - N people waiting. With many agents this matters: 300 agents of 10
minutes free one every 2 s, so a 2 s connect timeout saves about half the people the
instant-abandon model loses.

The constraint is relaxed with a Lagrange multiplier lambda (reward 1 + lambda*cap per
connect, -lambda*(1 - cap) per abandon); each relaxed problem is solved by relative value
iteration on the uniformised chain (vectorised with numpy), the policy's long-run rates by
iterating its stationary distribution, and lambda by bracketing and bisection (each solve
warm-started from the previous one). The constrained optimum mixes the two policies
bracketing the cap, so its busy fraction is interpolated linearly in the abandon ratio
between them.

Cost: a value-iteration sweep costs (N + 1) x (C + 1) states and convergence takes about
(N mu + C gamma) / mu sweeps (one mean service time of uniformised steps), so the cost
grows roughly with N^3 / p^2. `b_window` bounds it for large N: states with fewer than
N - b_window busy agents are folded into N - b_window (a completion there is ignored). The
optimum keeps b close to N, so the fold changes nothing measurable when the stationary mass
at the floor is negligible; `OptimumResult.floor_mass` reports it and `solve_cmdp` widens
the window when it is not.

Results: `OptimumResult.busy` = E[min(b, N)] / N, comparable with the simulator's `busy`
((talk + wrap-up) / logged-in time); `occupancy` scales it by talk / (talk + wrap-up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pacing.world import WorldModel


@dataclass(frozen=True)
class OptimumResult:
    agents: int
    busy: float
    occupancy: float
    abandon_ratio: float
    connects_per_hour: float
    multiplier: float
    max_in_flight: int
    floor_mass: float = 0.0
    states: int = 0
    solves: int = 0
    b_min: int = 0  # states below it folded into it (the window solve_cmdp settled on)


@dataclass(frozen=True)
class _Eval:
    busy: float
    connect_rate: float
    abandon_rate: float
    floor_mass: float = 0.0

    @property
    def ratio(self) -> float:
        total = self.connect_rate + self.abandon_rate
        return self.abandon_rate / total if total > 0 else 0.0


def mean_ring_time(world: WorldModel) -> float:
    """Mean seconds from dial to line result, over all results."""
    w = world
    failed = w.busy_rate + w.congestion_rate + w.invalid_rate
    return (
        (w.human_rate + w.machine_rate) * w.answer_ring.expected
        + w.no_answer_rate * w.no_answer_ring
        + failed * w.fail_ring.expected
    )


class _Model:
    """The uniformised chain on post-decision states (b, c), b in [b_min, N + queue]."""

    def __init__(self, agents: int, p: float, mu: float, gamma: float, cap_c: int,
                 queue: int = 0, theta: float = 0.0, b_min: int = 0) -> None:
        self.N = agents
        self.p = p
        self.mu = mu
        self.gamma = gamma
        self.C = cap_c
        self.Q = queue if theta > 0 else 0
        self.theta = theta
        self.b_min = max(0, min(b_min, agents))
        self.B = agents + self.Q
        bs = np.arange(self.b_min, self.B + 1)
        self.nb = len(bs)
        b = bs[:, None].astype(float)
        c = np.arange(cap_c + 1)[None, :].astype(float)
        shape = (self.nb, cap_c + 1)
        self.b = np.broadcast_to(b, shape)
        self.c = np.broadcast_to(c, shape)
        self.served = np.minimum(self.b, agents)
        self.waiting = np.maximum(self.b - agents, 0.0)
        self.Lam = agents * mu + cap_c * gamma + self.Q * theta
        self.rate_done = self.served * mu / self.Lam
        self.rate_res = self.c * gamma / self.Lam
        self.rate_to = self.waiting * theta / self.Lam
        self.stay = 1.0 - self.rate_done - self.rate_res - self.rate_to
        self.below = np.broadcast_to(bs[:, None] < agents, shape)  # a person is connected
        self.over = np.zeros(shape, dtype=bool)  # a person finds no room: lost at once
        self.over[-1, :] = True
        self.queued = np.broadcast_to(bs[:, None] > agents, shape)  # a completion connects
        self.last_v: np.ndarray | None = None
        self.last_x: np.ndarray | None = None

    @property
    def states(self) -> int:
        return self.nb * (self.C + 1)

    # v(b, c-1); c = 0 maps to itself (its rate is zero)
    @staticmethod
    def _shift_c(v: np.ndarray) -> np.ndarray:
        out = np.empty_like(v)
        out[:, 1:] = v[:, :-1]
        out[:, 0] = v[:, 0]
        return out

    # v(b-1, c); the floor maps to itself (b = 0 has rate zero; b_min > 0 is the fold)
    @staticmethod
    def _down(v: np.ndarray) -> np.ndarray:
        out = np.empty_like(v)
        out[1:, :] = v[:-1, :]
        out[0, :] = v[0, :]
        return out

    # v(b+1, c); the top (N + queue) maps to itself (the person is lost)
    @staticmethod
    def _up(v: np.ndarray) -> np.ndarray:
        out = np.empty_like(v)
        out[:-1, :] = v[1:, :]
        out[-1, :] = v[-1, :]
        return out

    def solve(self, lam: float, cap: float, iters: int = 200000, tol: float = 1e-9,
              v0: np.ndarray | None = None) -> np.ndarray:
        """Relative value iteration; returns the target calls in flight per (b, c)."""
        r_conn = 1.0 + lam * cap
        r_ab = -lam * (1.0 - cap)
        reward = (
            self.p * self.rate_res * np.where(self.below, r_conn, np.where(self.over, r_ab, 0.0))
            + self.rate_done * np.where(self.queued, r_conn, 0.0)
            + self.rate_to * r_ab
        )
        # Coefficients of the neighbours, laid out so that each term is one multiply-add
        # on array views (no shifted copies): the loop is memory-bound.
        dn = np.ascontiguousarray((self.rate_done + self.rate_to)[1:, :])
        dn0 = (self.rate_done + self.rate_to)[0, :]
        hum = np.ascontiguousarray((self.rate_res * self.p)[:-1, 1:])
        hum_top = (self.rate_res * self.p)[-1, 1:]
        non = np.ascontiguousarray((self.rate_res * (1.0 - self.p))[:, 1:])
        stay = self.stay + 0.0
        stay[0, :] += dn0  # the floor's completions stay (fold); b = 0 has none
        v = np.zeros((self.nb, self.C + 1)) if v0 is None else v0.copy()
        w = np.empty_like(v)
        tmp = np.empty_like(v)
        vn = np.empty_like(v)
        for it in range(iters):
            np.multiply(stay, v, out=w)
            w += reward
            np.multiply(dn, v[:-1, :], out=tmp[1:, :])
            w[1:, :] += tmp[1:, :]
            np.multiply(non, v[:, :-1], out=tmp[:, 1:])
            w[:, 1:] += tmp[:, 1:]
            np.multiply(hum, v[1:, :-1], out=tmp[:-1, 1:])
            w[:-1, 1:] += tmp[:-1, 1:]
            w[-1, 1:] += hum_top * v[-1, :-1]
            # impulse: V(b, c) = max over c' >= c of W(b, c')
            np.maximum.accumulate(w[:, ::-1], axis=1, out=vn[:, ::-1])
            check = it > 20 and it % 10 == 0
            if check:
                np.subtract(vn, v, out=tmp)
                g = vn[0, 0] - v[0, 0]
            np.subtract(vn, vn[0, 0], out=v)
            if check and float(tmp.max() - tmp.min()) < tol * max(1.0, abs(g)):
                break
        self.last_v = v
        return self._targets(w)

    def _targets(self, w: np.ndarray) -> np.ndarray:
        """argmax over c' >= c of W(b, c'), the largest c' among (near-)ties."""
        r = w[:, ::-1]
        runmax = np.maximum.accumulate(r, axis=1)
        new = np.ones(r.shape, dtype=bool)
        new[:, 1:] = r[:, 1:] > runmax[:, :-1] + 1e-12
        j = np.where(new, np.arange(self.C + 1)[None, :], 0)
        best = np.maximum.accumulate(j, axis=1)
        return (self.C - best)[:, ::-1].astype(np.int64)

    def evaluate(self, targets: np.ndarray, iters: int = 200000, tol: float = 1e-12,
                 x0: np.ndarray | None = None) -> _Eval:
        """Long-run busy fraction, connect and abandon rates of a target policy."""
        n_b, n_c = self.nb, self.C + 1
        size = n_b * n_c
        # One step: move the mass along each event to the pre-decision state, then send
        # every state to its policy target with one scatter (a post-decision state is its
        # own target, so the mass that stays put is unchanged by it).
        dest = (np.arange(n_b)[:, None] * n_c + targets).ravel()
        dn = (self.rate_done + self.rate_to)[1:, :]
        dn0 = (self.rate_done + self.rate_to)[0, :]
        hum = (self.rate_res * self.p)[:-1, 1:]
        hum_top = (self.rate_res * self.p)[-1, 1:]
        non = (self.rate_res * (1.0 - self.p))[:, 1:]
        stay = self.stay + 0.0
        stay[0, :] += dn0
        x: np.ndarray
        if x0 is None:
            x = np.zeros(size)
            start = (self.N - self.b_min) if self.b_min > 0 else 0
            x[start * n_c + int(targets[start, 0])] = 1.0
        else:
            x = x0.ravel().copy()
        y = np.empty((n_b, n_c))
        for it in range(iters):
            xm = x.reshape(n_b, n_c)
            np.multiply(stay, xm, out=y)
            y[:-1, :] += dn * xm[1:, :]
            y[:, :-1] += non * xm[:, 1:]
            y[1:, :-1] += hum * xm[:-1, 1:]
            y[-1, :-1] += hum_top * xm[-1, 1:]
            nx: np.ndarray = np.bincount(dest, weights=y.ravel(), minlength=size)
            if it % 50 == 0 and float(np.abs(nx - x).sum()) < tol:
                x = nx
                break
            x = nx
        self.last_x = x
        pi = x.reshape(n_b, n_c)
        busy = float((pi * self.served).sum()) / self.N
        arrivals = pi * self.c * self.gamma * self.p
        connect = float(arrivals[self.below].sum()) + float(
            (pi * self.served * self.mu)[self.queued].sum())
        abandon = float(arrivals[self.over].sum()) + float((pi * self.waiting).sum()) * self.theta
        floor = float(pi[0, :].sum()) if self.b_min > 0 else 0.0
        return _Eval(busy, connect, abandon, floor)


def default_in_flight(agents: int, p: float, service_s: float, ring_s: float,
                      factor: float = 3.0, limit: int = 600) -> int:
    """Calls in flight the model may hold: `factor` times the steady need (all agents
    busy: agents / service * ring / p) plus a margin, at most `limit`. The optimum keeps about
    the steady need in flight; more only matters to refill after a dip, so a factor of 1.5
    changes the optimum by less than 1e-4 (checked at 50 agents) and costs half."""
    steady = agents / service_s * ring_s / p
    return int(min(limit, math.ceil(factor * steady + 4.0 * math.sqrt(steady) + 20)))


def _queue_places(agents: int, service_s: float, wait_s: float) -> int:
    """Places in the model's queue: a few more than the people who can wait at once."""
    if wait_s <= 0:
        return 0
    return int(math.ceil(3.0 + 2.0 * math.sqrt(agents * wait_s / service_s)))


def lines_full(agents: int, p: float, service_s: float, ring_s: float, in_flight: int,
               wait_s: float = 0.0, talk_share: float = 1.0) -> OptimumResult:
    """The model with every line always in use: `in_flight` calls resolve at 1 / ring_s each
    and are replaced at once, so people arrive as a Poisson stream and the agents are a
    birth-death chain (Erlang's loss system, with impatience when wait_s > 0).

    When the dial level caps the calls in flight and this rule keeps within the abandon cap,
    it is the constrained optimum (no rule can place more calls, and more calls never mean
    fewer connects), found in microseconds where the MDP takes minutes: with the cap binding,
    its optimum leaves many agents idle, far outside the folded window."""
    if agents <= 0 or p <= 0 or in_flight <= 0:
        return OptimumResult(agents, 0.0, 0.0, 0.0, 0.0, 0.0, max(0, in_flight))
    lam = in_flight * p / ring_s
    mu = 1.0 / service_s
    theta = 1.0 / wait_s if wait_s > 0 else 0.0
    top = agents + _queue_places(agents, service_s, wait_s)
    b = np.arange(top + 1, dtype=float)
    down = np.minimum(b, agents) * mu + np.maximum(b - agents, 0.0) * theta
    log_pi = np.zeros(top + 1)
    log_pi[1:] = np.cumsum(math.log(lam) - np.log(down[1:]))
    pi = np.exp(log_pi - log_pi.max())
    pi /= pi.sum()
    served = np.minimum(b, agents)
    connects = lam * pi[b < agents].sum() + (pi[b > agents] * agents * mu).sum()
    abandons = lam * pi[-1] + (pi * np.maximum(b - agents, 0.0) * theta).sum()
    busy = float((pi * served).sum() / agents)
    total = connects + abandons
    return OptimumResult(
        agents=agents, busy=busy, occupancy=busy * talk_share,
        abandon_ratio=float(abandons / total) if total > 0 else 0.0,
        connects_per_hour=float(connects) * 3600.0, multiplier=0.0,
        max_in_flight=in_flight, states=top + 1,
    )


def solve_cmdp(
    agents: int,
    p: float,
    service_s: float,
    ring_s: float,
    cap: float = 0.03,
    wait_s: float = 0.0,
    queue: int | None = None,
    max_in_flight: int | None = None,
    b_window: int | None = None,
    talk_share: float = 1.0,
    rel_tol: float = 0.01,
    lambda_start: float = 0.5,
) -> OptimumResult:
    """The constrained optimum of the exponential dialling model.

    agents N; p = share of dials that reach an agent-bound answer; service_s = mean
    talk + wrap-up; ring_s = mean time from dial to line result; wait_s = mean time a
    person waits for an agent (0: lost at once); b_window: see the module docstring (None:
    the whole state space); talk_share = talk / (talk + wrap-up) for the occupancy.
    The multiplier is bisected until the bracket is within rel_tol (relative); the mix of
    the two bracketing policies is feasible, so a loose bracket errs low, and by little:
    a bracket of 1.4x moved busy by 1e-4 at 184 agents."""
    if agents <= 0 or p <= 0:
        return OptimumResult(agents, 0.0, 0.0, 0.0, 0.0, 0.0, 0)
    mu = 1.0 / service_s
    gamma = 1.0 / ring_s
    theta = 1.0 / wait_s if wait_s > 0 else 0.0
    if queue is None:
        queue = _queue_places(agents, service_s, wait_s)
    if max_in_flight is None:
        max_in_flight = default_in_flight(agents, p, service_s, ring_s)
    while True:
        b_min = 0 if b_window is None else max(0, agents - b_window)
        model = _Model(agents, p, mu, gamma, max_in_flight, queue=queue, theta=theta,
                       b_min=b_min)
        solves = 0

        def run(lam: float, model: _Model = model) -> _Eval:
            nonlocal solves
            solves += 1
            targets = model.solve(lam, cap, v0=model.last_v)
            return model.evaluate(targets, x0=model.last_x)

        # Bracket the multiplier by doubling or halving from lambda_start, then bisect
        # geometrically: the ratio falls as the multiplier grows.
        lam = lambda_start
        e = run(lam)
        unconstrained: _Eval | None = None
        if e.ratio > cap:
            lo, e_lo = lam, e
            hi, e_hi = lam * 2.0, run(lam * 2.0)
            while e_hi.ratio > cap and hi < 1e5:
                lo, e_lo = hi, e_hi
                hi *= 2.0
                e_hi = run(hi)
        else:
            hi, e_hi = lam, e
            lo = lam / 2.0
            while True:
                if lo < 1e-3:
                    lo = 0.0
                e_lo = run(lo)
                if e_lo.ratio > cap:
                    break
                if lo == 0.0:
                    unconstrained = e_lo  # filling every line keeps within the cap
                    break
                hi, e_hi = lo, e_lo
                lo /= 2.0
        if unconstrained is not None:
            best, lam_used = unconstrained, 0.0
        else:
            steps = 0
            while (hi > lo * (1.0 + rel_tol) and (lo > 0 or hi > 1e-4)
                   and e_lo.ratio - e_hi.ratio > 1e-6 and steps < 40):
                steps += 1
                mid = math.sqrt(lo * hi) if lo > 0 else hi / 2.0
                e_mid = run(mid)
                if e_mid.ratio > cap:
                    lo, e_lo = mid, e_mid
                else:
                    hi, e_hi = mid, e_mid
            # Mix the bracketing policies so that the abandon ratio is exactly the cap.
            if e_lo.ratio > e_hi.ratio:
                w = (cap - e_hi.ratio) / (e_lo.ratio - e_hi.ratio)
                w = min(1.0, max(0.0, w))
            else:
                w = 0.0
            best = _Eval(
                w * e_lo.busy + (1 - w) * e_hi.busy,
                w * e_lo.connect_rate + (1 - w) * e_hi.connect_rate,
                w * e_lo.abandon_rate + (1 - w) * e_hi.abandon_rate,
                max(e_lo.floor_mass, e_hi.floor_mass),
            )
            lam_used = hi
        if b_window is None or best.floor_mass < 1e-4 or b_min == 0:
            break
        b_window *= 2  # the fold was visited: widen the window and solve again
    return OptimumResult(
        agents=agents,
        busy=best.busy,
        occupancy=best.busy * talk_share,
        abandon_ratio=best.ratio,
        connects_per_hour=best.connect_rate * 3600.0,
        multiplier=lam_used,
        max_in_flight=max_in_flight,
        floor_mass=best.floor_mass,
        states=model.states,
        solves=solves,
        b_min=model.b_min,
    )


def solve_optimum(
    agents: int,
    world: WorldModel,
    cap: float = 0.03,
    max_in_flight: int | None = None,
    wait_s: float = 0.0,
    b_window: int | None = None,
) -> OptimumResult:
    """The constrained optimum for `agents` agents on `world`, with exponential ring and
    service times of the world's means (talk + wrap-up); people who find every agent busy
    are lost at once unless wait_s > 0."""
    service = world.talk.expected + world.wrap.expected
    return solve_cmdp(
        agents, world.human_rate, service, mean_ring_time(world), cap=cap, wait_s=wait_s,
        max_in_flight=max_in_flight, b_window=b_window,
        talk_share=world.talk.expected / service if service > 0 else 0.0,
    )


@dataclass(frozen=True)
class ThresholdTable:
    """The optimum's own decision rule: hold `targets[b - b_min, c]` calls in flight in state
    (b, c), b = agents busy plus people waiting (at most `agents + queue`; states below
    `b_min` are folded into it), c = calls in flight."""

    agents: int
    queue: int
    targets: np.ndarray
    b_min: int = 0

    def calls_to_place(self, busy: int, waiting: int, in_flight: int) -> int:
        b = min(min(busy, self.agents) + waiting, self.agents + self.queue)
        c = min(in_flight, self.targets.shape[1] - 1)
        return max(0, int(self.targets[max(b, self.b_min) - self.b_min, c]) - in_flight)


def threshold_table(agents: int, p: float, service_s: float, ring_s: float, cap: float = 0.03,
                    wait_s: float = 0.0, max_in_flight: int | None = None,
                    b_window: int | None = None) -> ThresholdTable:
    """The decision rule of the constrained optimum (the feasible side of the multiplier's
    bracket); `max_in_flight` and `b_window` as for `solve_cmdp`. For diagnostics
    (scripts/bench_reference_policy.py): it knows the model's true means and nothing of
    elapsed times."""
    res = solve_cmdp(agents, p, service_s, ring_s, cap=cap, wait_s=wait_s,
                     max_in_flight=max_in_flight, b_window=b_window)
    theta = 1.0 / wait_s if wait_s > 0 else 0.0
    model = _Model(agents, p, 1.0 / service_s, 1.0 / ring_s, res.max_in_flight,
                   queue=_queue_places(agents, service_s, wait_s), theta=theta, b_min=res.b_min)
    return ThresholdTable(agents, model.Q, model.solve(res.multiplier, cap), model.b_min)
