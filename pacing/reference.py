"""A reference optimum for any scenario, labelled with what it is.

The constrained MDP of `pacing.optimum` is exact only for its own model: N agents, calls in
flight resolving at one exponential rate, exponential service (talk + wrap-up), a person
who finds every agent busy waiting an exponential time. Every scenario is mapped onto that
model with its own means, and the label says which further approximations were needed:

- ``cmdp``: talk exponential, no AMD, no drift, no churn. The exact optimum of the
  exponentialised scenario (ring times, wrap-up and the connect timeout keep their means
  but become exponential; the simulator's uniform rings and fixed timeouts are kinder, so
  a policy can beat it a little).
- ``exponentialised``: talk is lognormal or fixed; the model uses its mean. A fixed talk
  time is more predictable than the model, so this may understate what is possible.
- ``amd``: AMD hangs up on machines; the agent-bound share is people AMD lets through plus
  machines it misses (not sure counts as a person), the service mean mixes their talk times
  (machines: `Scenario.machine_talk`), and the ring mean includes AMD's decision time.
- ``segments``: the human rate drifts; the shift is cut into before / during / after the
  drift (the ramp at its midpoint rate) and the optimum of each is weighted by its length.
  It ignores the transitions (a policy needs time to notice) and any shifting of abandon
  budget between segments, so it is an approximation, not a bound.
- ``availability``: churn; the optimum of the mean number of available agents (logged in
  and not on a break, from the simulator's own schedule over 64 seeds) scaled by the share
  of logged-in time that is available. Busy rises with pooling and is concave in the
  number of agents, so using the mean errs on the optimistic side; transitions are ignored.

For large teams the model's state space is folded below N - (2 sqrt(N) + 10) busy agents
and holds 1.5x the steady calls in flight (`pacing.optimum`); the fold is checked and
widened when the optimum visits it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from pacing.optimum import OptimumResult, default_in_flight, lines_full, solve_cmdp
from pacing.simulator import Scenario, agent_schedule
from pacing.world import Duration, WorldModel

SCHEDULE_SEEDS = 64
MAX_IN_FLIGHT = 5000  # short calls at low hit rates need thousands in flight
REL_TOL = 0.2  # multiplier bracket; the policy mix is within 1e-4 of a tight one
FULL_STATE_AGENTS = 20  # below this the whole state space is cheap


@dataclass(frozen=True)
class ModelParams:
    """The exponential model's inputs for one segment of a scenario."""

    agents: float
    p: float  # share of dials that reach an agent
    service_s: float
    ring_s: float
    wait_s: float
    talk_share: float
    weight: float = 1.0  # share of the shift
    human_rate: float = 0.0
    # Calls in flight per agent the policies may hold (the scenario's max_dial_level): the
    # reference obeys the same cap, or it is out of every capped policy's reach.
    max_level: float = math.inf


@dataclass(frozen=True)
class Reference:
    scenario: str
    label: str
    busy: float
    occupancy: float
    abandon_ratio: float
    seconds: float
    availability: float = 1.0  # available / logged-in time (churn)
    parts: list[dict[str, Any]] = field(default_factory=list)

    def as_row(self) -> dict[str, Any]:
        return {
            "kind": "optimum", "scenario": self.scenario, "label": self.label,
            "optimum_busy": self.busy, "optimum_occupancy": self.occupancy,
            "optimum_abandon": self.abandon_ratio, "availability": self.availability,
            "seconds": self.seconds, "parts": self.parts,
        }


def expected_wait(timeout: float, patience: Duration, steps: int = 400) -> float:
    """E[min(timeout, patience)]: how long an unanswered person waits for an agent."""
    if timeout <= 0:
        return 0.0
    if patience.kind == "exponential":
        m = patience.mean
        return m * (1.0 - math.exp(-timeout / m)) if m > 0 else 0.0
    # integral of the survival function over [0, timeout] (trapezoid)
    h = timeout / steps
    s = 0.5 * ((1 - patience.cdf(0.0)) + (1 - patience.cdf(timeout)))
    s += sum(1 - patience.cdf(i * h) for i in range(1, steps))
    return s * h


def model_params(sc: Scenario, world: WorldModel | None = None, agents: float | None = None,
                 weight: float = 1.0) -> ModelParams:
    """The exponential model's inputs for `sc` (optionally with another world, e.g. a
    drift segment's, and another number of agents)."""
    w = world or sc.world
    if sc.amd:
        ns = w.amd_notsure
        pass_h = ns + (1 - ns) * (1 - w.amd_false_positive)
        pass_m = ns + (1 - ns) * w.amd_false_negative
        answer_ring = w.answer_ring.expected + w.amd_time.expected
    else:
        pass_h = pass_m = 1.0
        answer_ring = w.answer_ring.expected
    a_h = w.human_rate * pass_h
    a_m = w.machine_rate * pass_m
    p = a_h + a_m
    talk = (a_h * w.talk.expected + a_m * sc.machine_talk) / p if p > 0 else w.talk.expected
    service = talk + w.wrap.expected
    failed = w.busy_rate + w.congestion_rate + w.invalid_rate
    ring = ((w.human_rate + w.machine_rate) * answer_ring + w.no_answer_rate * w.no_answer_ring
            + failed * w.fail_ring.expected)
    return ModelParams(
        agents=float(sc.agents if agents is None else agents), p=p, service_s=service,
        ring_s=ring, wait_s=expected_wait(sc.connect_timeout, w.patience),
        talk_share=talk / service if service > 0 else 0.0, weight=weight,
        human_rate=w.human_rate, max_level=sc.limits.max_dial_level,
    )


def drift_segments(sc: Scenario) -> list[tuple[float, float]]:
    """(share of the shift, human rate) for before, during and after the drift."""
    T = sc.duration
    if sc.drift is None or T <= 0:
        return [(1.0, sc.world.human_rate)]
    _, start, over = sc.drift
    a = min(max(start, 0.0), T)
    b = min(max(start + over, a), T)
    out = []
    if a > 0:
        out.append((a / T, sc.world.human_rate))
    if b > a:
        out.append(((b - a) / T, sc.human_rate_at((a + b) / 2)))
    if b < T:
        out.append(((T - b) / T, sc.human_rate_at(T)))
    return out


def availability(sc: Scenario, seeds: int = SCHEDULE_SEEDS) -> tuple[float, float]:
    """(mean available agents, available / logged-in time) over the churn schedule."""
    T = sc.duration
    if not sc.churn or T <= 0:
        return float(sc.agents), 1.0
    logged = avail = 0.0
    for seed in range(1, seeds + 1):
        for shift in agent_schedule(sc.agents, T, True, seed):
            login, logout = min(shift.login, T), min(shift.logout, T)
            span = max(0.0, logout - login)
            off = 0.0
            back = 0.0  # a break that starts while on another is not taken (as simulated)
            for start, length in sorted(shift.breaks):
                if shift.login < start < shift.logout and start >= back:
                    off += max(0.0, min(start + length, logout) - start)
                    back = start + length
            logged += span
            avail += span - min(off, span)
    if logged <= 0:
        return 0.0, 0.0
    return avail / (seeds * T), avail / logged


def label_for(sc: Scenario) -> str:
    parts = []
    if sc.world.talk.kind != "exponential":
        parts.append("exponentialised")
    if sc.amd:
        parts.append("amd")
    elif sc.world.machine_rate > 0:
        parts.append("machines")
    if sc.drift is not None:
        parts.append("segments")
    if sc.churn:
        parts.append("availability")
    for _, human in drift_segments(sc):
        mp = model_params(sc, sc.world.with_overrides(human_rate=human))
        if mp.p > 0 and mp.ring_s / (mp.service_s * mp.p) > sc.limits.max_dial_level:
            parts.append("level-cap")  # the steady need of calls in flight exceeds the cap
            break
    return "cmdp" if not parts else "cmdp-" + "+".join(parts)


_CACHE: dict[tuple[Any, ...], OptimumResult] = {}


def model_size(mp: ModelParams, agents: int) -> tuple[int, int | None]:
    """(calls in flight the model holds, folded window of busy agents or None) for
    `agents` agents: 1.5x the steady need and a window from FULL_STATE_AGENTS agents, the
    whole space below; never more lines than the dial level allows."""
    big = agents >= FULL_STATE_AGENTS
    in_flight = default_in_flight(agents, mp.p, mp.service_s, mp.ring_s,
                                  factor=1.5 if big else 3.0, limit=MAX_IN_FLIGHT)
    if math.isfinite(mp.max_level):
        in_flight = min(in_flight, max(1, int(mp.max_level * agents)))
    return in_flight, int(2 * math.sqrt(agents) + 10) if big else None


def solve_params(mp: ModelParams, agents: int, cap: float) -> OptimumResult:
    """The CMDP for `agents` agents with the model inputs `mp` (memoised)."""
    key = (agents, round(mp.p, 6), round(mp.service_s, 4), round(mp.ring_s, 4),
           round(mp.wait_s, 4), round(mp.talk_share, 6), cap, mp.max_level)
    got = _CACHE.get(key)
    if got is None:
        in_flight, b_window = model_size(mp, agents)
        if math.isfinite(mp.max_level):
            # Every line in use, if that keeps within the cap, is the optimum under the
            # dial level's cap (`pacing.optimum.lines_full`), and costs nothing to compute.
            full = lines_full(agents, mp.p, mp.service_s, mp.ring_s,
                              max(1, int(mp.max_level * agents)), wait_s=mp.wait_s,
                              talk_share=mp.talk_share)
            if full.abandon_ratio <= cap:
                _CACHE[key] = full
                return full
        got = solve_cmdp(
            agents, mp.p, mp.service_s, mp.ring_s, cap=cap, wait_s=mp.wait_s,
            max_in_flight=in_flight, b_window=b_window,
            talk_share=mp.talk_share, rel_tol=REL_TOL,
        )
        _CACHE[key] = got
    return got


def _busy_at(mp: ModelParams, cap: float) -> tuple[float, float, float, list[dict[str, Any]]]:
    """(busy, occupancy, abandon ratio) for a possibly fractional number of agents:
    linear between the neighbouring integers below 50 agents, rounded above."""
    n = mp.agents
    lo = max(1, int(math.floor(n)))
    if n >= 50 or abs(n - round(n)) < 1e-9:
        ks, ws = [max(1, int(round(n)))], [1.0]
    else:
        ks, ws = [lo, lo + 1], [lo + 1 - n, n - lo]
    busy = occ = ab = 0.0
    parts = []
    for k, wk in zip(ks, ws, strict=True):
        t0 = time.time()
        r = solve_params(mp, k, cap)
        busy += wk * r.busy
        occ += wk * r.occupancy
        ab += wk * r.abandon_ratio
        parts.append({
            "agents": k, "weight": mp.weight * wk, "p": round(mp.p, 5),
            "service_s": round(mp.service_s, 2), "ring_s": round(mp.ring_s, 2),
            "wait_s": round(mp.wait_s, 3), "human_rate": round(mp.human_rate, 4),
            "busy": round(r.busy, 5), "abandon": round(r.abandon_ratio, 5),
            "states": r.states, "floor_mass": r.floor_mass,
            "seconds": round(time.time() - t0, 2),
        })
    return busy, occ, ab, parts


def reference_for(sc: Scenario) -> Reference:
    """The labelled reference optimum of one scenario."""
    t0 = time.time()
    cap = sc.abandon_cap
    n_avail, share = availability(sc)
    busy = occ = ab = 0.0
    parts: list[dict[str, Any]] = []
    for weight, human in drift_segments(sc):
        world = sc.world.with_overrides(human_rate=human)
        mp = model_params(sc, world, agents=n_avail, weight=weight)
        b, o, a, ps = _busy_at(mp, cap)
        busy += weight * b
        occ += weight * o
        ab += weight * a
        parts += ps
    return Reference(
        scenario=sc.name, label=label_for(sc), busy=busy * share, occupancy=occ * share,
        abandon_ratio=ab, seconds=time.time() - t0, availability=share, parts=parts,
    )


__all__ = ["ModelParams", "Reference", "availability", "drift_segments", "expected_wait",
           "label_for", "model_params", "model_size", "reference_for"]
