"""A discrete-event call-centre simulator in simulated time.

It plays one campaign for a shift: agents log in and out and take breaks, a policy is asked
every `tick` seconds how many calls to place, each call is one customer drawn from the
shared `WorldModel` (line result, ring time, AMD verdict, talk and wrap-up, patience). An
answered call that reaches no agent within the connect timeout (or whose caller hangs up
first) is abandoned.

Common random numbers: the k-th call placed meets the same customer under every policy
(each customer has its own `random.Random` seeded from (seed, k)), and the agents' log-in,
log-out and break schedule comes from a separate stream; so policies are compared on the
same customers and the same staffing.

Time accounting is clipped to the shift [0, hours]; calls still in progress at the end run
to completion so that every call ends exactly once (see `SimResult.conservation_errors`).
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from pacing.estimators import Estimators
from pacing.policy import PacingDecision, Policy
from pacing.snapshot import AbandonHeadroom, CampaignSnapshot, Limits
from pacing.world import AmdVerdict, Duration, LineResult, WorldModel

# Sees each pacing tick: (snapshot, decision, ledger answers so far, ledger abandons so far).
TickTrace = Callable[[CampaignSnapshot, PacingDecision, int, int], None]


@dataclass(frozen=True)
class Scenario:
    """One what-if: staffing, list and network behaviour, and add-ons.

    drift: (to_rate, start_s, over_s): the human-answer rate moves linearly from
        world.human_rate to to_rate between start_s and start_s + over_s, as when a new list
        batch is released mid-shift. Down, the freed share becomes no-answer; up, the extra
        share comes out of the no-answers (which must leave room for it).
    churn: agents log in late, leave early and take breaks (drawn per seed).
    cold_start: the estimators start from a misleading prior (hit rate twice the truth,
        talk time half) instead of the scenario's own figures.
    amd: answered calls go through AMD (world.amd_*); "machine" verdicts are hung up.
    """

    agents: int = 20
    hours: float = 8.0
    world: WorldModel = field(default_factory=WorldModel)
    connect_timeout: float = 2.0
    tick: float = 1.0
    abandon_cap: float = 0.03
    amd: bool = False
    drift: tuple[float, float, float] | None = None
    churn: bool = False
    cold_start: bool = False
    limits: Limits = field(default_factory=Limits)
    machine_talk: float = 8.0
    name: str = ""

    @property
    def duration(self) -> float:
        return self.hours * 3600.0

    def human_rate_at(self, t: float) -> float:
        w = self.world
        if self.drift is None:
            return w.human_rate
        to, start, over = self.drift
        if t <= start:
            return w.human_rate
        if over <= 0 or t >= start + over:
            return to
        return w.human_rate + (to - w.human_rate) * (t - start) / over

    @property
    def is_exponential(self) -> bool:
        """Talk exponential and no add-ons: the CMDP optimum applies (it models ring and
        service times as exponential with the scenario's means)."""
        return (
            self.world.talk.kind == "exponential" and not self.amd and self.drift is None
            and not self.churn and not self.cold_start
        )


@dataclass
class SimResult:
    """Metrics of one run (times in seconds)."""

    policy: str
    seed: int
    scenario: str
    duration: float
    logged_in_time: float = 0.0
    talk_time: float = 0.0
    wrap_time: float = 0.0
    ready_time: float = 0.0
    break_time: float = 0.0
    attempts: int = 0
    human_answers: int = 0
    machine_answers: int = 0
    connects: int = 0
    human_connects: int = 0
    abandons: int = 0
    ledger_answers: int = 0
    ledger_abandons: int = 0
    amd_false_positives: int = 0
    no_answers: int = 0
    failures: int = 0
    machines_hung_up: int = 0
    agent_waits: list[float] = field(default_factory=list, repr=False)
    answers_by_minute: list[int] = field(default_factory=list, repr=False)
    abandons_by_minute: list[int] = field(default_factory=list, repr=False)
    # conservation bookkeeping
    ended_calls: int = 0
    double_ends: int = 0
    open_calls: int = 0
    agent_time_errors: list[str] = field(default_factory=list, repr=False)

    @property
    def occupancy(self) -> float:
        return self.talk_time / self.logged_in_time if self.logged_in_time > 0 else 0.0

    @property
    def busy(self) -> float:
        return (self.talk_time + self.wrap_time) / self.logged_in_time if self.logged_in_time else 0.0

    @property
    def abandon_rate(self) -> float:
        return self.abandons / self.human_answers if self.human_answers else 0.0

    @property
    def ledger_abandon_rate(self) -> float:
        """The rate the engine's ledger reads: a machine AMD lets through counts as a
        person, connected or abandoned, since nobody can tell which abandoned calls were
        machines (`abandon_rate` counts people only)."""
        return self.ledger_abandons / self.ledger_answers if self.ledger_answers else 0.0

    @property
    def calls_per_agent_hour(self) -> float:
        hours = self.logged_in_time / 3600.0
        return self.connects / hours if hours > 0 else 0.0

    @property
    def attempts_per_agent_hour(self) -> float:
        hours = self.logged_in_time / 3600.0
        return self.attempts / hours if hours > 0 else 0.0

    @property
    def dials_per_connect(self) -> float:
        return self.attempts / self.connects if self.connects else 0.0

    @property
    def mean_agent_wait_s(self) -> float:
        w = self.agent_waits
        return sum(w) / len(w) if w else 0.0

    @property
    def p90_agent_wait_s(self) -> float:
        w = sorted(self.agent_waits)
        if not w:
            return 0.0
        return w[min(len(w) - 1, int(math.ceil(0.9 * len(w))) - 1)]

    def window_abandon_rate(self, start_min: int, end_min: int) -> float:
        a = sum(self.answers_by_minute[start_min:end_min])
        b = sum(self.abandons_by_minute[start_min:end_min])
        return b / a if a else 0.0

    @property
    def first_30min_abandon_rate(self) -> float:
        return self.window_abandon_rate(0, 30)

    @property
    def worst_hour_abandon_rate(self) -> float:
        """Worst abandon rate over any rolling 60-minute window of the shift."""
        n = len(self.answers_by_minute)
        if n <= 60:
            return self.window_abandon_rate(0, n)
        a = sum(self.answers_by_minute[:60])
        b = sum(self.abandons_by_minute[:60])
        worst = b / a if a else 0.0
        for m in range(60, n):
            a += self.answers_by_minute[m] - self.answers_by_minute[m - 60]
            b += self.abandons_by_minute[m] - self.abandons_by_minute[m - 60]
            if a and b / a > worst:
                worst = b / a
        return worst

    def conservation_errors(self) -> list[str]:
        errs = list(self.agent_time_errors)
        if self.double_ends:
            errs.append(f"{self.double_ends} calls ended more than once")
        if self.open_calls:
            errs.append(f"{self.open_calls} calls never ended")
        if self.ended_calls != self.attempts:
            errs.append(f"ended {self.ended_calls} calls but placed {self.attempts}")
        outcomes = (
            self.connects + self.ledger_abandons + self.no_answers + self.failures
            + self.machines_hung_up
        )
        if outcomes != self.attempts:
            errs.append(f"outcomes add to {outcomes}, attempts {self.attempts}")
        parts = self.talk_time + self.wrap_time + self.ready_time + self.break_time
        if abs(parts - self.logged_in_time) > 1e-6 * max(1.0, self.logged_in_time):
            errs.append(f"agent states add to {parts:.3f}s, logged in {self.logged_in_time:.3f}s")
        return errs

    def metrics(self) -> dict[str, Any]:
        """The figures `dialer simulate --json` prints."""
        return {
            "policy": self.policy,
            "seed": self.seed,
            "occupancy": self.occupancy,
            "busy": self.busy,
            "abandon_rate": self.abandon_rate,
            "ledger_abandon_rate": self.ledger_abandon_rate,
            "abandon_rate_worst_hour": self.worst_hour_abandon_rate,
            "abandon_rate_first_30min": self.first_30min_abandon_rate,
            "calls_per_agent_hour": self.calls_per_agent_hour,
            "attempts_per_agent_hour": self.attempts_per_agent_hour,
            "mean_agent_wait_s": self.mean_agent_wait_s,
            "p90_agent_wait_s": self.p90_agent_wait_s,
            "dials_per_connect": self.dials_per_connect,
            "attempts": self.attempts,
            "human_answers": self.human_answers,
            "connects": self.connects,
            "abandons": self.abandons,
            "amd_false_positives": self.amd_false_positives,
        }


# Agent states
_OFF, _READY, _TALK, _WRAP, _BREAK = range(5)
_STATE_FIELD = {_READY: "ready_time", _TALK: "talk_time", _WRAP: "wrap_time", _BREAK: "break_time"}

# Event kinds (ordered so simultaneous events resolve deterministically)
_EV_RESOLVE, _EV_TIMEOUT, _EV_TALK_END, _EV_WRAP_END, _EV_LOGIN, _EV_LOGOUT = range(6)
_EV_BREAK_START, _EV_BREAK_END, _EV_TICK = 6, 7, 8


@dataclass
class _Agent:
    id: int
    state: int = _OFF
    since: float = 0.0
    login_at: float = 0.0
    logout_at: float = 0.0
    pending_logout: bool = False
    pending_break: float = 0.0
    times: dict[int, float] = field(default_factory=dict)


@dataclass(eq=False)
class _Call:
    id: int
    dialled: float
    outcome: str  # human | machine_agent | machine_hangup | human_hangup | no_answer | failed
    resolve_after: float
    talk: float
    wrap: float
    patience: float
    is_human: bool
    queued_at: float = 0.0
    ended: bool = False


@dataclass(frozen=True)
class AgentShift:
    """One agent's planned shift: log-in and log-out times and (start, length) breaks.
    A break whose start is outside [login, logout) is not taken."""

    login: float
    logout: float
    breaks: tuple[tuple[float, float], ...] = ()


def agent_schedule(agents: int, duration: float, churn: bool, seed: int) -> list[AgentShift]:
    """The agents' planned log-ins, log-outs and breaks for one seed (its own stream, so
    every policy meets the same staffing). Without churn everyone works the whole shift.
    With churn a quarter log in up to 30 min late, 15 % leave early (up to 2 h before the
    end, or in the second half of a shift of 2 h or less) and everyone plans two breaks of
    10-15 min away from the shift's first and last hour."""
    rng = random.Random(f"agents:{seed}")
    T = duration
    out: list[AgentShift] = []
    for _ in range(agents):
        login, logout = 0.0, T
        breaks: list[tuple[float, float]] = []
        if churn:
            if rng.random() < 0.25:
                login = rng.uniform(0.0, 1800.0)
            if rng.random() < 0.15:
                logout = rng.uniform(T - 7200.0, T) if T > 7200 else rng.uniform(T / 2, T)
            for _ in range(2):
                start = rng.uniform(min(3600.0, T / 4), max(T - 3600.0, T * 3 / 4))
                breaks.append((start, rng.uniform(600.0, 900.0)))
        out.append(AgentShift(login, logout, tuple(breaks)))
    return out


class _Sim:
    def __init__(self, scenario: Scenario, policy: Policy, seed: int,
                 estimators: Estimators | None) -> None:
        self.sc = scenario
        self.policy = policy
        self.seed = seed
        self.T = scenario.duration
        self.events: list[tuple[float, int, int, int]] = []
        self.seq = 0
        self.agents: list[_Agent] = []
        self.ready: dict[int, float] = {}  # agent id -> ready since (insertion = FIFO)
        self.talking: dict[int, float] = {}
        self.wrapping: dict[int, float] = {}
        self.ringing: dict[int, float] = {}
        self.waiting: deque[_Call] = deque()
        self.calls: dict[int, _Call] = {}
        self.call_agent: dict[int, int] = {}
        self.agent_call: dict[int, _Call] = {}
        self.next_call = 0
        minutes = int(math.ceil(self.T / 60.0)) + 1
        self.res = SimResult(
            policy=getattr(policy, "name", type(policy).__name__), seed=seed,
            scenario=scenario.name, duration=self.T,
            answers_by_minute=[0] * minutes, abandons_by_minute=[0] * minutes,
        )
        if estimators is None:
            w = scenario.world
            prior = w
            if scenario.cold_start:
                prior = w.with_overrides(
                    human_rate=min(0.9, 2 * w.human_rate), machine_rate=0.0,
                    talk=Duration.exponential(w.talk.expected / 2),
                )
            estimators = Estimators(prior=prior, amd_time=w.amd_time if scenario.amd else None)
        self.est = estimators
        self.trace: TickTrace | None = None
        self.ledger_answers = 0
        self.ledger_abandons = 0
        self.world_cache: dict[int, WorldModel] = {}

    # -- helpers ---------------------------------------------------------------
    def push(self, t: float, kind: int, ref: int) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, kind, self.seq, ref))

    def set_state(self, a: _Agent, state: int, now: float) -> None:
        if a.state != _OFF:
            lo = min(a.since, self.T)
            hi = min(now, self.T)
            if hi > lo:
                a.times[a.state] = a.times.get(a.state, 0.0) + (hi - lo)
        if a.state == _READY:
            self.ready.pop(a.id, None)
        elif a.state == _TALK:
            self.talking.pop(a.id, None)
        elif a.state == _WRAP:
            self.wrapping.pop(a.id, None)
        a.state = state
        a.since = now
        if state == _READY:
            self.ready[a.id] = now
        elif state == _TALK:
            self.talking[a.id] = now
        elif state == _WRAP:
            self.wrapping[a.id] = now

    def world_at(self, t: float) -> WorldModel:
        w = self.sc.world
        if self.sc.drift is None:
            return w
        minute = int(t // 60)
        got = self.world_cache.get(minute)
        if got is None:
            h = self.sc.human_rate_at(minute * 60.0)
            got = w.with_overrides(human_rate=h)
            self.world_cache[minute] = got
        return got

    def end_call(self, c: _Call) -> None:
        if c.ended:
            self.res.double_ends += 1
            return
        c.ended = True
        self.res.ended_calls += 1
        self.calls.pop(c.id, None)

    # -- setup -----------------------------------------------------------------
    def schedule_agents(self) -> None:
        for i, shift in enumerate(agent_schedule(self.sc.agents, self.T, self.sc.churn,
                                                 self.seed)):
            a = _Agent(id=i)
            a.login_at, a.logout_at = shift.login, shift.logout
            self.agents.append(a)
            self.push(shift.login, _EV_LOGIN, i)
            if shift.logout < self.T:
                self.push(shift.logout, _EV_LOGOUT, i)
            for start, length in shift.breaks:
                if shift.login < start < shift.logout:
                    self.push(start, _EV_BREAK_START, i * 100000 + int(length))

    # -- calls -----------------------------------------------------------------
    def dial(self, now: float) -> None:
        k = self.next_call
        self.next_call += 1
        rng = random.Random(self.seed * 1_000_003 + k * 7919 + 17)
        w = self.world_at(now)
        u = rng.random()
        ring_answer = w.answer_ring.sample(rng)
        ring_fail = w.fail_ring.sample(rng)
        talk = w.talk.sample(rng)
        wrap = w.wrap.sample(rng)
        patience = w.patience.sample(rng)
        amd_time = w.amd_time.sample(rng)
        # The line result from u with the (possibly drifting) shares.
        result = LineResult.NO_ANSWER
        for res, share in (
            (LineResult.HUMAN, w.human_rate), (LineResult.MACHINE, w.machine_rate),
            (LineResult.BUSY, w.busy_rate), (LineResult.CONGESTION, w.congestion_rate),
            (LineResult.INVALID, w.invalid_rate),
        ):
            if u < share:
                result = res
                break
            u -= share
        verdict = w.amd_verdict(result, rng) if self.sc.amd else None
        is_human = result is LineResult.HUMAN
        if result in (LineResult.HUMAN, LineResult.MACHINE):
            after = ring_answer
            if self.sc.amd:
                after += amd_time
            if verdict is AmdVerdict.MACHINE:
                outcome = "human_hangup" if is_human else "machine_hangup"
            else:
                outcome = "human" if is_human else "machine_agent"
            if outcome == "machine_agent":
                talk = self.sc.machine_talk
        elif result is LineResult.NO_ANSWER:
            after = w.no_answer_ring
            outcome = "no_answer"
        else:
            after = ring_fail
            outcome = "failed"
        c = _Call(k, now, outcome, after, talk, wrap, patience, is_human)
        self.calls[k] = c
        self.ringing[k] = now
        self.res.attempts += 1
        self.push(now + after, _EV_RESOLVE, k)

    def on_resolve(self, c: _Call, now: float) -> None:
        self.ringing.pop(c.id, None)
        elapsed = now - c.dialled
        if c.outcome in ("human", "machine_agent"):
            self.est.observe_result("human", elapsed, now)
            minute = int(min(now, self.T) // 60)
            if c.is_human:
                self.res.human_answers += 1
                self.res.answers_by_minute[minute] += 1
            else:
                self.res.machine_answers += 1
            c.queued_at = now
            self.ledger_answers += 1
            if self.ready:
                self.connect(c, now)
            else:
                self.waiting.append(c)
                wait = min(self.sc.connect_timeout, c.patience)
                self.push(now + wait, _EV_TIMEOUT, c.id)
        elif c.outcome in ("human_hangup", "machine_hangup"):
            self.est.observe_result("machine", elapsed, now)
            if c.is_human:
                self.res.amd_false_positives += 1
            else:
                self.res.machine_answers += 1
            self.res.machines_hung_up += 1
            self.end_call(c)
        elif c.outcome == "no_answer":
            self.est.observe_result("no_answer", elapsed, now)
            self.res.no_answers += 1
            self.end_call(c)
        else:
            self.est.observe_result("failed", elapsed, now)
            self.res.failures += 1
            self.end_call(c)

    def connect(self, c: _Call, now: float) -> None:
        aid, since = next(iter(self.ready.items()))
        a = self.agents[aid]
        if since < self.T:
            self.res.agent_waits.append(min(now, self.T) - since)
        self.set_state(a, _TALK, now)
        self.agent_call[aid] = c
        self.res.connects += 1
        if c.is_human:
            self.res.human_connects += 1
        self.est.observe_connect(now - c.queued_at)
        self.push(now + c.talk, _EV_TALK_END, aid)

    def on_timeout(self, c: _Call, now: float) -> None:
        try:
            self.waiting.remove(c)
        except ValueError:
            return
        self.ledger_abandons += 1
        self.est.observe_abandon()
        if c.is_human:
            self.res.abandons += 1
            self.res.abandons_by_minute[int(min(c.queued_at, self.T) // 60)] += 1
        self.res.ledger_abandons += 1
        self.end_call(c)

    def agent_free(self, a: _Agent, now: float) -> None:
        """An agent finished wrap-up, came back from a break or logged in."""
        if a.pending_logout:
            a.pending_logout = False
            self.set_state(a, _OFF, now)
            return
        if a.pending_break > 0:
            length = a.pending_break
            a.pending_break = 0.0
            self.set_state(a, _BREAK, now)
            self.push(now + length, _EV_BREAK_END, a.id)
            return
        self.set_state(a, _READY, now)
        if self.waiting:
            c = self.waiting.popleft()
            self.connect(c, now)

    # -- main loop -------------------------------------------------------------
    def run(self) -> SimResult:
        self.schedule_agents()
        self.push(0.0, _EV_TICK, 0)
        sc = self.sc
        tick = sc.tick
        T = self.T
        cap = sc.abandon_cap
        limits = sc.limits
        while self.events:
            now, kind, _, ref = heapq.heappop(self.events)
            if kind == _EV_TICK:
                if now >= T:
                    continue
                self.pacing_tick(now, cap, limits)
                self.push(now + tick, _EV_TICK, 0)
            elif kind == _EV_RESOLVE:
                self.on_resolve(self.calls[ref], now)
            elif kind == _EV_TIMEOUT:
                c = self.calls.get(ref)
                if c is not None and not c.ended:
                    self.on_timeout(c, now)
            elif kind == _EV_TALK_END:
                a = self.agents[ref]
                c = self.agent_call.pop(ref)
                self.est.observe_talk(now - a.since)
                self.end_call(c)
                self.set_state(a, _WRAP, now)
                self.push(now + c.wrap, _EV_WRAP_END, ref)
            elif kind == _EV_WRAP_END:
                a = self.agents[ref]
                self.est.observe_wrap(now - a.since)
                self.agent_free(a, now)
            elif kind == _EV_LOGIN:
                self.agent_free(self.agents[ref], now)
            elif kind == _EV_LOGOUT:
                a = self.agents[ref]
                if a.state in (_READY, _BREAK):
                    self.set_state(a, _OFF, now)
                elif a.state != _OFF:
                    a.pending_logout = True
            elif kind == _EV_BREAK_START:
                a = self.agents[ref // 100000]
                length = float(ref % 100000)
                if a.state == _READY:
                    self.set_state(a, _BREAK, now)
                    self.push(now + length, _EV_BREAK_END, a.id)
                elif a.state in (_TALK, _WRAP):
                    a.pending_break = length
            elif kind == _EV_BREAK_END:
                a = self.agents[ref]
                if a.state == _BREAK:
                    self.agent_free(a, now)
        return self.finish()

    def pacing_tick(self, now: float, cap: float, limits: Limits) -> None:
        headroom = AbandonHeadroom.from_counts(self.ledger_answers, self.ledger_abandons, cap)
        snap = CampaignSnapshot(
            now=now,
            agents_ready=len(self.ready),
            wrap_elapsed=[now - t for t in self.wrapping.values()],
            talk_elapsed=[now - t for t in self.talking.values()],
            ringing_elapsed=[now - t for t in self.ringing.values()],
            waiting_elapsed=[now - c.queued_at for c in self.waiting],
            limits=limits,
            headroom=headroom,
            estimates=self.est,
            agents_paused=sum(1 for a in self.agents if a.state == _BREAK),
        )
        decision = self.policy.decide(snap)
        if self.trace is not None:
            self.trace(snap, decision, self.ledger_answers, self.ledger_abandons)
        for _ in range(decision.calls):
            self.dial(now)

    def finish(self) -> SimResult:
        res = self.res
        T = self.T
        for a in self.agents:
            if a.state != _OFF:
                self.set_state(a, _OFF, max(T, a.since))
            span = max(0.0, min(a.logout_at, T) - min(a.login_at, T))
            total = sum(a.times.values())
            # Agents finishing a call after their log-out time stay logged in until then.
            res.logged_in_time += total
            if total + 1e-6 < span:
                res.agent_time_errors.append(
                    f"agent {a.id}: states add to {total:.3f}s, logged in at least {span:.3f}s"
                )
            for state, attr in _STATE_FIELD.items():
                setattr(res, attr, getattr(res, attr) + a.times.get(state, 0.0))
        res.open_calls = len(self.calls)
        res.ledger_answers = self.ledger_answers
        return res


def simulate(
    scenario: Scenario,
    policy: Policy | Callable[[], Policy],
    seed: int = 0,
    estimators: Estimators | None = None,
    trace: TickTrace | None = None,
) -> SimResult:
    """Run one shift of `scenario` under `policy` (an instance or a zero-argument factory).
    `trace`, if given, sees every pacing tick: the snapshot, the decision, and the ledger's
    answers and abandons so far."""
    if isinstance(policy, Policy) and not isinstance(policy, type):
        pol: Policy = policy
    else:
        pol = policy()
    sim = _Sim(scenario, pol, seed, estimators)
    sim.trace = trace
    return sim.run()


def scenario_dict(scenario: Scenario) -> dict[str, Any]:
    return asdict(scenario)
