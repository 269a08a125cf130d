"""Scenario building, batch runs and aggregation for `dialer simulate` and the benchmark.

Pure functions over plain data; the caller decides whether to fan runs out over processes
(`run_one` takes and returns picklable values).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pacing.optimum import OptimumResult, solve_optimum
from pacing.policies import POLICY_NAMES, make_policy
from pacing.simulator import Scenario, TickTrace, simulate
from pacing.snapshot import Limits
from pacing.world import Duration, WorldModel

METRICS = (
    "occupancy", "busy", "abandon_rate", "abandon_rate_worst_hour", "abandon_rate_first_30min",
    "calls_per_agent_hour", "attempts_per_agent_hour", "mean_agent_wait_s", "p90_agent_wait_s",
    "dials_per_connect", "attempts", "human_answers", "connects", "abandons",
    "amd_false_positives",
)

# Settings the benchmark uses for the baselines (documented in BENCHMARKS.md).
DEFAULT_SETTINGS: dict[str, dict[str, Any]] = {
    "progressive": {},
    "ratio": {"level": 2.0},
    "adaptive": {"max_level": 3.0, "drop_limit_pct": 3.0},
    "pi": {},
    "predictive": {},
}


@dataclass(frozen=True)
class RunSpec:
    scenario: Scenario
    policy: str
    seed: int
    settings: Mapping[str, Any] = field(default_factory=dict)


def campaign_settings(policy: str, scenario: Scenario) -> dict[str, Any]:
    """What the engine hands a policy from its campaign (`dialer/engine/runner.py`), taken
    from the scenario: predictive counts agents free by the answer plus the connect
    timeout, the campaign's setting."""
    if policy == "predictive":
        return {"connect_timeout": scenario.connect_timeout}
    return {}


def run_one(spec: RunSpec, trace: TickTrace | None = None) -> dict[str, Any]:
    """One shift; returns the metrics dict plus scenario name and conservation errors.
    The policy's settings: the benchmark's defaults, the scenario's campaign settings, then
    the spec's own."""
    settings = dict(DEFAULT_SETTINGS.get(spec.policy, {}))
    settings.update(campaign_settings(spec.policy, spec.scenario))
    settings.update(spec.settings)
    res = simulate(spec.scenario, make_policy(spec.policy, **settings), seed=spec.seed, trace=trace)
    out = res.metrics()
    out["policy"] = spec.policy
    out["scenario"] = spec.scenario.name
    out["conservation_errors"] = res.conservation_errors()
    return out


def t95(n: int) -> float:
    """Two-sided 95 % Student t quantile for n samples (n - 1 degrees of freedom)."""
    table = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365, 9: 2.306,
             10: 2.262, 11: 2.228, 12: 2.201, 15: 2.145, 20: 2.093, 30: 2.045}
    if n < 2:
        return float("nan")
    if n in table:
        return table[n]
    keys = sorted(table)
    for k in keys:
        if k >= n:
            return table[k]
    return 1.96


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Mean, 95 % half-width, min and max of each metric over seeds (one policy)."""
    out: dict[str, Any] = {"runs": len(rows)}
    for m in METRICS:
        xs = [float(r[m]) for r in rows]
        mean = statistics.fmean(xs) if xs else 0.0
        half = t95(len(xs)) * statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else 0.0
        out[m] = mean
        out[m + "_ci95"] = half
        out[m + "_max"] = max(xs) if xs else 0.0
        out[m + "_min"] = min(xs) if xs else 0.0
    return out


_OPT_CACHE: dict[tuple[Any, ...], OptimumResult] = {}


def optimum_for(scenario: Scenario) -> OptimumResult | None:
    """The CMDP optimum when the scenario is exponential (memoised), else None."""
    if not scenario.is_exponential:
        return None
    w = scenario.world
    key = (scenario.agents, w.human_rate, w.machine_rate, w.busy_rate, w.congestion_rate,
           w.invalid_rate, w.answer_ring.expected, w.no_answer_ring, w.fail_ring.expected,
           w.talk.expected, w.wrap.expected, scenario.abandon_cap)
    got = _OPT_CACHE.get(key)
    if got is None:
        got = solve_optimum(scenario.agents, w, cap=scenario.abandon_cap)
        _OPT_CACHE[key] = got
    return got


def gap_closure(busy: float, progressive_busy: float, optimum_busy: float) -> float | None:
    span = optimum_busy - progressive_busy
    if span <= 1e-9:
        return None
    return (busy - progressive_busy) / span


def duration_from(spec: Any, default: Duration) -> Duration:
    """A Duration from a TOML value: a number (exponential mean) or a table."""
    if spec is None:
        return default
    if isinstance(spec, int | float):
        return Duration.exponential(float(spec))
    if isinstance(spec, Mapping):
        return Duration(
            kind=str(spec.get("kind", "exponential")), mean=float(spec.get("mean", 0.0)),
            cv=float(spec.get("cv", 1.0)), low=float(spec.get("low", 0.0)),
            high=float(spec.get("high", 0.0)),
        )
    raise ValueError(f"cannot read a duration from {spec!r}")


def talk_duration(kind: str, mean: float, cv: float) -> Duration:
    if kind == "exponential":
        return Duration.exponential(mean)
    if kind == "lognormal":
        return Duration.lognormal(mean, cv)
    if kind == "fixed":
        return Duration.fixed(mean)
    raise ValueError(f"unknown talk distribution {kind!r}")


def scenario_from_mapping(data: Mapping[str, Any], base: Scenario | None = None) -> Scenario:
    """A Scenario from a TOML-like mapping. Top-level keys: name, agents, hours,
    connect_timeout, abandon_cap, amd, churn, cold_start, drift = [to, start_s, over_s];
    [world] keys of WorldModel (durations as a number = exponential mean, or a table
    {kind, mean, cv, low, high}); [limits] keys of Limits."""
    sc = base or Scenario()
    w = sc.world
    world_data = dict(data.get("world", {}))
    world_changes: dict[str, Any] = {}
    for key, value in world_data.items():
        if key in ("answer_ring", "fail_ring", "talk", "wrap", "patience", "amd_time"):
            world_changes[key] = duration_from(value, getattr(w, key))
        else:
            world_changes[key] = float(value)
    if world_changes:
        w = replace(w, **world_changes)
    limits = sc.limits
    if "limits" in data:
        limits = replace(limits, **dict(data["limits"]))
    drift = data.get("drift", sc.drift)
    return replace(
        sc,
        name=str(data.get("name", sc.name)),
        agents=int(data.get("agents", sc.agents)),
        hours=float(data.get("hours", sc.hours)),
        connect_timeout=float(data.get("connect_timeout", sc.connect_timeout)),
        abandon_cap=float(data.get("abandon_cap", sc.abandon_cap)),
        amd=bool(data.get("amd", sc.amd)),
        churn=bool(data.get("churn", sc.churn)),
        cold_start=bool(data.get("cold_start", sc.cold_start)),
        drift=tuple(float(x) for x in drift) if drift is not None else None,  # type: ignore[arg-type]
        world=w,
        limits=limits,
    )


# -- the benchmark grid ----------------------------------------------------------------

TALKS: dict[str, Duration] = {
    "exp180": Duration.exponential(180.0),
    "logn180": Duration.lognormal(180.0, 1.0),
    "logn300": Duration.lognormal(300.0, 0.7),
}
ADD_ONS = ("amd", "drift", "churn", "cold")


def grid_scenario(agents: int, hit: float, talk: str, add_on: str | None = None,
                  hours: float = 8.0) -> Scenario:
    """One benchmark scenario: wrap-up fixed 20 s, live answers after 3-20 s, no answer
    at 25 s, fast failures 1-6 s (the world model's defaults)."""
    world = WorldModel(human_rate=hit, talk=TALKS[talk], wrap=Duration.fixed(20.0))
    name = f"a{agents}-h{hit:.2f}-{talk}"
    sc = Scenario(agents=agents, hours=hours, world=world, name=name, limits=Limits())
    if add_on is None:
        return sc
    if add_on == "amd":
        # 30 % machines (taken from no-answers), AMD 85 % accurate both ways.
        w = world.with_overrides(machine_rate=0.30, amd_false_positive=0.15,
                                 amd_false_negative=0.15)
        if w.no_answer_rate < 0:
            raise ValueError("no room for machines")
        return replace(sc, world=w, amd=True, name=name + "+amd")
    if add_on == "drift":
        # The hit rate drifts from its value to half of it during the second hour.
        return replace(sc, drift=(hit / 2.0, 3600.0, 3600.0), name=name + "+drift")
    if add_on == "churn":
        return replace(sc, churn=True, name=name + "+churn")
    if add_on == "cold":
        return replace(sc, cold_start=True, name=name + "+cold")
    raise ValueError(f"unknown add-on {add_on!r}")


def grid(agents: Iterable[int] = (5, 20, 100), hits: Iterable[float] = (0.15, 0.30, 0.60),
         talks: Iterable[str] = tuple(TALKS), add_ons: Iterable[str | None] = (None,),
         hours: float = 8.0) -> list[Scenario]:
    out = []
    for add_on in add_ons:
        for a in agents:
            for h in hits:
                for t in talks:
                    if add_on == "amd" and h + 0.30 + 0.10 > 1.0 + 1e-9:
                        continue
                    out.append(grid_scenario(a, h, t, add_on, hours))
    return out


__all__ = [
    "DEFAULT_SETTINGS", "METRICS", "POLICY_NAMES", "RunSpec", "campaign_settings", "gap_closure", "grid",
    "grid_scenario", "optimum_for", "run_one", "scenario_from_mapping", "summarize",
    "talk_duration",
]
