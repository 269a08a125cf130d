"""A scenario sampler for the pacing benchmark: many floors drawn from wide ranges.

`sample_scenarios(n, seed)` returns n named, reproducible scenarios. Scenario i is drawn
from its own stream (seed, i), so the first k scenarios of a larger sample are the first k
of a smaller one, and a scenario can be rebuilt from its name's index alone.

Ranges (see BENCHMARKS.md, "Pacing on sampled scenarios"):

- agents: log-uniform, every third scenario in 5-19, the others in 20-300 (the issue's
  criteria treat the two groups apart, so both get a fixed share);
- human-answer rate: log-uniform 0.05-0.7; busy 2-8 %, congestion 0-3 %, invalid 1-10 %;
  with AMD, machines 10-40 % and AMD's errors (person called machine 2-15 %, machine called
  person 5-25 %, not sure 0-10 %, 2-4 s to decide). When the shares leave less than 5 % of
  no-answers, machines and failures are scaled down (the human rate is kept);
- talk: mean log-uniform 30-600 s, exponential (40 %), lognormal with cv 0.5-1.5 (40 %),
  fixed (20 %); wrap-up: none (15 %), else mean 5-90 s, fixed or exponential (half each);
- drift (30 %): the human rate moves down to 30-75 % of itself (60 %) or up to 1.3-2.2
  times itself (40 %, taken from no-answers, at most 0.7), starting at 10-60 % of the shift,
  over 5-30 % of it (a quarter of drifts are abrupt, 60 s);
- churn (30 %): the simulator's late log-ins, early log-outs and breaks;
- rings: live answers after U(lo, lo + 4..25) s with lo 2-8 s; no-answer timeout 15-40 s;
  fast failures U(1, 6) s;
- patience: exponential, mean 5-60 s; connect timeout 1-3 s; abandon cap 3 %.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from pacing.simulator import Scenario
from pacing.snapshot import Limits
from pacing.world import Duration, WorldModel

AGENTS_SMALL = (5, 19)
AGENTS_LARGE = (20, 300)
HUMAN_RATE = (0.05, 0.7)
TALK_MEAN = (30.0, 600.0)
WRAP_MEAN = (5.0, 90.0)
PATIENCE_MEAN = (5.0, 60.0)
CONNECT_TIMEOUT = (1.0, 3.0)
NO_ANSWER_RING = (15.0, 40.0)
MIN_NO_ANSWER = 0.05
MAX_HUMAN_RATE = 0.7


@dataclass(frozen=True)
class SampledScenario:
    """A drawn scenario, its readable name and the parameters it was drawn with."""

    name: str
    scenario: Scenario
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def agents(self) -> int:
        return self.scenario.agents


def _log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def _agents(rng: random.Random, small: bool) -> int:
    lo, hi = AGENTS_SMALL if small else AGENTS_LARGE
    # log-uniform over [lo, hi + 1) then floored, so both ends are reachable
    return min(hi, int(_log_uniform(rng, lo, hi + 1)))


def draw_scenario(index: int, seed: int, hours: float = 4.0) -> SampledScenario:
    """Scenario `index` of the sample `seed`."""
    rng = random.Random(f"pacing-sampler:{seed}:{index}")
    T = hours * 3600.0
    small = index % 3 == 0
    agents = _agents(rng, small)
    human = round(_log_uniform(rng, *HUMAN_RATE), 3)

    busy = rng.uniform(0.02, 0.08)
    congestion = rng.uniform(0.0, 0.03)
    invalid = rng.uniform(0.01, 0.10)
    amd = rng.random() < 0.35
    machine = rng.uniform(0.10, 0.40) if amd else 0.0
    others = busy + congestion + invalid + machine
    room = 1.0 - MIN_NO_ANSWER - human
    if others > room:
        scale = max(0.0, room) / others
        busy, congestion, invalid, machine = (x * scale for x in
                                              (busy, congestion, invalid, machine))
    # rounded down so that the rounding never eats into the no-answers
    busy, congestion, invalid, machine = (math.floor(x * 1e4) / 1e4 for x in
                                          (busy, congestion, invalid, machine))
    amd_fp = rng.uniform(0.02, 0.15) if amd else 0.0
    amd_fn = rng.uniform(0.05, 0.25) if amd else 0.0
    amd_ns = rng.uniform(0.0, 0.10) if amd else 0.0

    talk_mean = round(_log_uniform(rng, *TALK_MEAN))
    u = rng.random()
    if u < 0.4:
        talk_kind, talk_cv = "exponential", 1.0
        talk = Duration.exponential(float(talk_mean))
    elif u < 0.8:
        talk_kind, talk_cv = "lognormal", round(rng.uniform(0.5, 1.5), 2)
        talk = Duration.lognormal(float(talk_mean), talk_cv)
    else:
        talk_kind, talk_cv = "fixed", 0.0
        talk = Duration.fixed(float(talk_mean))

    if rng.random() < 0.15:
        wrap_kind, wrap_mean = "fixed", 0
    else:
        wrap_mean = round(rng.uniform(*WRAP_MEAN))
        wrap_kind = "fixed" if rng.random() < 0.5 else "exponential"
    wrap = Duration(kind=wrap_kind, mean=float(wrap_mean))

    ring_lo = round(rng.uniform(2.0, 8.0), 1)
    ring_hi = round(ring_lo + rng.uniform(4.0, 25.0), 1)
    no_answer_ring = round(rng.uniform(*NO_ANSWER_RING), 1)
    patience = round(rng.uniform(*PATIENCE_MEAN), 1)
    connect_timeout = round(rng.uniform(*CONNECT_TIMEOUT), 2)

    world = WorldModel(
        human_rate=human, machine_rate=machine, busy_rate=busy, congestion_rate=congestion,
        invalid_rate=invalid, answer_ring=Duration.uniform(ring_lo, ring_hi),
        no_answer_ring=no_answer_ring, talk=talk, wrap=wrap,
        patience=Duration.exponential(patience), amd_false_positive=round(amd_fp, 3),
        amd_false_negative=round(amd_fn, 3), amd_notsure=round(amd_ns, 3),
    )

    drift: tuple[float, float, float] | None = None
    drift_dir = ""
    if rng.random() < 0.30:
        up = rng.random() < 0.40
        up_to = min(MAX_HUMAN_RATE, human * rng.uniform(1.3, 2.2),
                    human + world.no_answer_rate - 0.01)
        down_to = human * rng.uniform(0.30, 0.75)
        if up and up_to > human * 1.1:
            to, drift_dir = up_to, "up"
        else:
            to, drift_dir = down_to, "down"
        start = rng.uniform(0.10, 0.60) * T
        over = 60.0 if rng.random() < 0.25 else rng.uniform(0.05, 0.30) * T
        drift = (round(to, 4), round(start), round(over))
    churn = rng.random() < 0.30

    talk_tag = {"exponential": "exp", "lognormal": "logn", "fixed": "fix"}[talk_kind]
    wrap_tag = f"w{wrap_mean}" + ("e" if wrap_kind == "exponential" and wrap_mean else "")
    name = f"s{index:03d}-a{agents}-h{human:.2f}-{talk_tag}{talk_mean}-{wrap_tag}"
    if amd:
        name += "-amd"
    if drift is not None:
        name += f"-drift{drift_dir}"
    if churn:
        name += "-churn"
    scenario = Scenario(
        agents=agents, hours=hours, world=world, connect_timeout=connect_timeout,
        amd=amd, drift=drift, churn=churn, limits=Limits(), name=name,
    )
    params: dict[str, Any] = {
        "index": index, "seed": seed, "hours": hours, "agents": agents,
        "human_rate": human, "machine_rate": machine, "busy_rate": busy,
        "congestion_rate": congestion, "invalid_rate": invalid,
        "no_answer_rate": round(world.no_answer_rate, 4),
        "talk_kind": talk_kind, "talk_mean": talk_mean, "talk_cv": talk_cv,
        "wrap_kind": wrap_kind, "wrap_mean": wrap_mean,
        "amd": amd, "amd_false_positive": world.amd_false_positive,
        "amd_false_negative": world.amd_false_negative, "amd_notsure": world.amd_notsure,
        "drift": list(drift) if drift else None, "drift_dir": drift_dir or None,
        "churn": churn, "answer_ring": [ring_lo, ring_hi], "no_answer_ring": no_answer_ring,
        "patience_mean": patience, "connect_timeout": connect_timeout,
    }
    return SampledScenario(name, scenario, params)


def sample_scenarios(n: int, seed: int = 11, hours: float = 4.0) -> list[SampledScenario]:
    """n scenarios of the sample `seed`, shifts of `hours` hours."""
    return [draw_scenario(i, seed, hours) for i in range(n)]


def scenario_index(name: str) -> int:
    """The index encoded in a sampled scenario's name ("s017-..." -> 17)."""
    head = name.split("-", 1)[0]
    if not head.startswith("s") or not head[1:].isdigit():
        raise ValueError(f"not a sampled scenario name: {name!r}")
    return int(head[1:])


__all__ = ["SampledScenario", "draw_scenario", "sample_scenarios", "scenario_index"]
