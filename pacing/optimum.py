"""The best non-anticipating pacing for exponential scenarios: a constrained MDP.

Model (after Bhulai & Koole 2003's dialling model): N agents; state (b, c) with b agents
busy (talk plus wrap-up, exponential with mean `service`) and c calls in flight (each
resolves at rate gamma = 1 / mean ring time over all line results; with probability p it is
a person). A person who finds b = N is abandoned at once; otherwise an agent takes the call.
At any moment the dialler may add calls (c -> c' >= c). Objective: maximise connects per
unit time subject to abandons <= cap * (human answers), i.e.

    (1 - cap) * abandon_rate - cap * connect_rate <= 0.

The constraint is relaxed with a Lagrange multiplier lambda (reward 1 + lambda*cap per
connect, -lambda*(1 - cap) per abandon); each relaxed problem is solved by relative value
iteration on the uniformised chain (vectorised with numpy), the policy's long-run rates by
iterating its stationary distribution, and lambda by bisection. The constrained optimum
mixes the two policies bracketing the cap, so its busy fraction is interpolated linearly
in the abandon ratio between them.

Results: `OptimumResult.busy` = E[b] / N, comparable with the simulator's `busy`
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


@dataclass(frozen=True)
class _Eval:
    busy: float
    connect_rate: float
    abandon_rate: float

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
    def __init__(self, agents: int, p: float, mu: float, gamma: float, cap_c: int) -> None:
        self.N = agents
        self.p = p
        self.mu = mu
        self.gamma = gamma
        self.C = cap_c
        b = np.arange(agents + 1)[:, None].astype(float)
        c = np.arange(cap_c + 1)[None, :].astype(float)
        self.b = np.broadcast_to(b, (agents + 1, cap_c + 1))
        self.c = np.broadcast_to(c, (agents + 1, cap_c + 1))
        self.Lam = agents * mu + cap_c * gamma
        self.rate_done = self.b * mu / self.Lam
        self.rate_res = self.c * gamma / self.Lam
        self.stay = 1.0 - self.rate_done - self.rate_res
        self.full = np.zeros((agents + 1, cap_c + 1), dtype=bool)
        self.full[agents, :] = True

    def _shift_c(self, v: np.ndarray) -> np.ndarray:
        """v(b, c-1) (c = 0 maps to itself; its rate is zero)."""
        out = np.empty_like(v)
        out[:, 1:] = v[:, :-1]
        out[:, 0] = v[:, 0]
        return out

    def _shift_b_down(self, v: np.ndarray) -> np.ndarray:
        out = np.empty_like(v)
        out[1:, :] = v[:-1, :]
        out[0, :] = v[0, :]
        return out

    def _after_human(self, v: np.ndarray) -> np.ndarray:
        """v after a human answer: (b+1, c-1) if b < N, else (N, c-1)."""
        vc = self._shift_c(v)
        out = np.empty_like(v)
        out[:-1, :] = vc[1:, :]
        out[-1, :] = vc[-1, :]
        return out

    def solve(self, lam: float, cap: float, iters: int = 200000, tol: float = 1e-9
              ) -> np.ndarray:
        """Relative value iteration; returns the target calls in flight per (b, c)."""
        r_conn = 1.0 + lam * cap
        r_ab = -lam * (1.0 - cap)
        reward_h = np.where(self.full, r_ab, r_conn) * self.p * self.rate_res
        v = np.zeros((self.N + 1, self.C + 1))
        prev_g = None
        for it in range(iters):
            w = (
                reward_h
                + self.rate_done * self._shift_b_down(v)
                + self.rate_res * (self.p * self._after_human(v)
                                   + (1.0 - self.p) * self._shift_c(v))
                + self.stay * v
            )
            # impulse: V(b, c) = max over c' >= c of W(b, c')
            vn = np.maximum.accumulate(w[:, ::-1], axis=1)[:, ::-1]
            g = vn[0, 0] - v[0, 0]
            diff = vn - v
            v = vn - vn[0, 0]
            if it > 50 and float(diff.max() - diff.min()) < tol * max(1.0, abs(g)):
                break
            prev_g = g
        del prev_g
        # Policy: target c' = argmax over c' >= c of W (the last W computed).
        targets = np.empty((self.N + 1, self.C + 1), dtype=np.int64)
        for bi in range(self.N + 1):
            row = w[bi]
            best = self.C
            best_v = row[self.C]
            for ci in range(self.C, -1, -1):
                if row[ci] > best_v + 1e-12:
                    best_v = row[ci]
                    best = ci
                targets[bi, ci] = best
        return targets

    def evaluate(self, targets: np.ndarray, iters: int = 200000, tol: float = 1e-12) -> _Eval:
        """Long-run busy fraction, connect and abandon rates of a target policy."""
        n_b, n_c = self.N + 1, self.C + 1
        pi = np.zeros((n_b, n_c))
        pi[0, targets[0, 0]] = 1.0
        bb = np.arange(n_b)[:, None] * np.ones((1, n_c), dtype=np.int64)
        cc = np.ones((n_b, 1), dtype=np.int64) * np.arange(n_c)[None, :]
        # Post-decision destinations of each event (pre-decision state -> policy target).
        b_done = np.maximum(bb - 1, 0)
        dest_done = (b_done, targets[b_done, cc])
        c_res = np.maximum(cc - 1, 0)
        b_h = np.minimum(bb + 1, self.N)
        dest_h = (b_h, targets[b_h, c_res])
        dest_n = (bb, targets[bb, c_res])
        flat = n_c
        idx_done = (dest_done[0] * flat + dest_done[1]).ravel()
        idx_h = (dest_h[0] * flat + dest_h[1]).ravel()
        idx_n = (dest_n[0] * flat + dest_n[1]).ravel()
        rd = self.rate_done.ravel()
        rr = self.rate_res.ravel()
        st = self.stay.ravel()
        p = self.p
        x = pi.ravel()
        size = x.size
        for it in range(iters):
            nx = st * x
            nx += np.bincount(idx_done, weights=rd * x, minlength=size)
            nx += np.bincount(idx_h, weights=rr * p * x, minlength=size)
            nx += np.bincount(idx_n, weights=rr * (1 - p) * x, minlength=size)
            if it % 50 == 0 and float(np.abs(nx - x).sum()) < tol:
                x = nx
                break
            x = nx
        pi = x.reshape(n_b, n_c)
        busy = float((pi * self.b).sum()) / self.N
        res_rate = pi * self.c * self.gamma * self.p
        abandon = float(res_rate[self.N, :].sum())
        connect = float(res_rate[: self.N, :].sum())
        return _Eval(busy, connect, abandon)


def solve_optimum(
    agents: int,
    world: WorldModel,
    cap: float = 0.03,
    max_in_flight: int | None = None,
    lambda_hi: float = 200.0,
    bisections: int = 14,
) -> OptimumResult:
    """The constrained optimum for `agents` agents on `world`, with exponential ring and
    service times of the world's means (talk + wrap-up)."""
    p = world.human_rate
    if agents <= 0 or p <= 0:
        return OptimumResult(agents, 0.0, 0.0, 0.0, 0.0, 0.0, 0)
    service = world.talk.expected + world.wrap.expected
    mu = 1.0 / service
    gamma = 1.0 / mean_ring_time(world)
    if max_in_flight is None:
        steady = agents * mu / (p * gamma)
        max_in_flight = int(min(600, math.ceil(3.0 * steady + 4.0 * math.sqrt(steady) + 20)))
    model = _Model(agents, p, mu, gamma, max_in_flight)

    def run(lam: float) -> _Eval:
        return model.evaluate(model.solve(lam, cap))

    lo, hi = 0.0, lambda_hi
    e_lo = run(lo)
    if e_lo.ratio <= cap:
        best, lam_used = e_lo, lo
        e_hi = e_lo
    else:
        e_hi = run(hi)
        for _ in range(bisections):
            mid = (lo + hi) / 2
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
        busy = w * e_lo.busy + (1 - w) * e_hi.busy
        conn = w * e_lo.connect_rate + (1 - w) * e_hi.connect_rate
        ab = w * e_lo.abandon_rate + (1 - w) * e_hi.abandon_rate
        best = _Eval(busy, conn, ab)
        lam_used = hi
    share_talk = world.talk.expected / service
    return OptimumResult(
        agents=agents,
        busy=best.busy,
        occupancy=best.busy * share_talk,
        abandon_ratio=best.ratio,
        connects_per_hour=best.connect_rate * 3600.0,
        multiplier=lam_used,
        max_in_flight=max_in_flight,
    )
