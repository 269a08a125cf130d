"""Aggregation and the markdown report of the sampled-scenario benchmark.

Pure functions over the JSON-lines rows `scripts/bench_pacing_sampler.py` writes: run rows
(one shift: scenario, policy, seed and `SimResult.metrics()`) and optimum rows (one per
scenario: the labelled reference of `pacing.reference`).

Per scenario, every figure is the mean over the seeds that every policy of that scenario
has run (common random numbers: the same customers and staffing), and the gap closure is

    G = (busy - progressive busy) / (reference busy - progressive busy),

undefined where the reference is not above progressive.

Issue 11's criteria for the judged policy (predictive):

- teams of 20 agents or more: cumulative abandon <= 3 % in every run; G >= 0.9 in at least
  95 % of the scenarios; G >= 0.8 in all; occupancy at least that of every other policy
  that stays within the cap (every run) in that scenario;
- teams of 5-19: occupancy never below progressive's (seed means); abandon <= 3 % in
  every run.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pacing.sampler import scenario_index

LARGE_TEAM = 20
EPS = 1e-12


@dataclass(frozen=True)
class SampleRows:
    """A results file's rows, indexed: its sample, the references and the run rows."""

    sample_seed: int
    hours: float
    optima: dict[str, dict[str, Any]]  # by scenario name
    runs: dict[tuple[str, str, int], dict[str, Any]]  # by (scenario, policy, seed)


def index_rows(rows: Iterable[dict[str, Any]]) -> SampleRows:
    """The rows of one results file (its first meta row names the sample)."""
    rows = list(rows)
    meta: dict[str, Any] = next((r for r in rows if r.get("kind") == "meta"), {})
    return SampleRows(
        sample_seed=int(meta.get("sample_seed", 11)), hours=float(meta.get("hours", 4.0)),
        optima={r["scenario"]: r for r in rows if r.get("kind") == "optimum"},
        runs={(r["scenario"], r["policy"], int(r["seed"])): r for r in rows if r.get("kind") == "run"},
    )


def results_arguments(ap: argparse.ArgumentParser, seeds: str) -> None:
    """The options of a script that reads a results file back: the file, the scenarios
    (`--only`), the seeds (default `seeds`) and the worker processes."""
    ap.add_argument("--results", type=Path, required=True,
                    help="the sampled-scenario benchmark's JSON-lines file")
    ap.add_argument("--only", action="append", default=[], help="a scenario name or index")
    ap.add_argument("--seeds", default=seeds, help=f"comma-separated seeds (default {seeds})")
    ap.add_argument("--workers", type=int, default=2)


def chosen_scenarios(sample: SampleRows, only: Sequence[str], small: bool) -> list[str]:
    """The scenarios a script reading the results back plays: those named in `only`
    (names or indexes), else every scenario of one team-size group (`small`: under
    `LARGE_TEAM` agents)."""
    wanted = {scenario_index(n) for n in only}
    return sorted(
        name for name, ref in sample.optima.items()
        if (scenario_index(name) in wanted if wanted
            else (int(ref.get("agents", 0)) >= LARGE_TEAM) != small))


def read_results(path: Path) -> SampleRows:
    """A results file's rows, indexed; a missing file stops the script with its name."""
    if not path.exists():
        raise SystemExit(f"error: no results file {path}")
    return index_rows(json.loads(line) for line in path.read_text().splitlines() if line.strip())


@dataclass
class PolicyFigures:
    seeds: int
    occupancy: float
    busy: float
    abandon_mean: float
    abandon_max: float
    worst_seed: int
    g: float | None = None


@dataclass
class ScenarioSummary:
    name: str
    agents: int
    label: str
    reference_busy: float | None
    policies: dict[str, PolicyFigures] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=list)

    @property
    def large(self) -> bool:
        return self.agents >= LARGE_TEAM


def gap(busy: float, progressive: float, reference: float) -> float | None:
    span = reference - progressive
    if span <= 1e-9:
        return None
    return (busy - progressive) / span


def summarise(runs: Iterable[Mapping[str, Any]], optima: Mapping[str, Mapping[str, Any]],
              policies: Sequence[str] | None = None, cap: float = 0.03
              ) -> dict[str, ScenarioSummary]:
    """Per-scenario seed means over the seeds every policy of the scenario has run."""
    by: dict[str, dict[str, dict[int, Mapping[str, Any]]]] = defaultdict(lambda: defaultdict(dict))
    agents: dict[str, int] = {}
    for r in runs:
        if policies is not None and r["policy"] not in policies:
            continue
        by[r["scenario"]][r["policy"]][int(r["seed"])] = r
        agents[r["scenario"]] = int(r.get("agents", 0))
    out: dict[str, ScenarioSummary] = {}
    for name, pol in by.items():
        seeds = sorted(set.intersection(*(set(s) for s in pol.values())))
        if not seeds:
            continue
        opt = optima.get(name)
        ref = float(opt["optimum_busy"]) if opt else None
        label = str(opt["label"]) if opt else "-"
        n_agents = agents[name] or (int(opt.get("agents", 0)) if opt else 0)
        sm = ScenarioSummary(name, n_agents, label, ref, seeds=seeds)
        for p, rows in pol.items():
            rs = [rows[s] for s in seeds]
            ab = [float(r["abandon_rate"]) for r in rs]
            worst = max(range(len(seeds)), key=lambda i: ab[i])
            sm.policies[p] = PolicyFigures(
                seeds=len(seeds),
                occupancy=statistics.fmean(float(r["occupancy"]) for r in rs),
                busy=statistics.fmean(float(r["busy"]) for r in rs),
                abandon_mean=statistics.fmean(ab), abandon_max=max(ab),
                worst_seed=seeds[worst],
            )
        prog = sm.policies.get("progressive")
        if prog is not None and ref is not None:
            for f in sm.policies.values():
                f.g = gap(f.busy, prog.busy, ref)
        out[name] = sm
    return out


def quantile(xs: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default)."""
    s = sorted(xs)
    if not s:
        return float("nan")
    pos = q * (len(s) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def distribution(xs: Sequence[float]) -> tuple[float, float, float, float, float]:
    """(min, p5, median, p95, max)."""
    return (quantile(xs, 0.0), quantile(xs, 0.05), quantile(xs, 0.5), quantile(xs, 0.95),
            quantile(xs, 1.0))


@dataclass
class Criterion:
    group: str  # ">= 20 agents" or "5-19 agents"
    text: str
    passed: bool
    met: int  # scenarios meeting it
    total: int  # scenarios it applies to
    failures: list[str] = field(default_factory=list)  # "name: why"

    @property
    def share(self) -> float:
        return self.met / self.total if self.total else float("nan")


def criteria(summaries: Mapping[str, ScenarioSummary], policy: str = "predictive",
             cap: float = 0.03) -> list[Criterion]:
    """Issue 11's criteria for `policy` on the summarised scenarios (see module doc)."""
    large = [s for s in summaries.values() if s.large and policy in s.policies]
    small = [s for s in summaries.values() if not s.large and policy in s.policies]
    out: list[Criterion] = []

    def abandon_check(group: str, scs: list[ScenarioSummary]) -> Criterion:
        fails = []
        for s in scs:
            f = s.policies[policy]
            if f.abandon_max > cap + EPS:
                fails.append(f"{s.name}: seed {f.worst_seed} abandon "
                             f"{100 * f.abandon_max:.2f} %")
        return Criterion(group, f"abandon <= {100 * cap:g} % in every run", not fails,
                         len(scs) - len(fails), len(scs), fails)

    g_large = [s for s in large if s.policies[policy].g is not None]
    out.append(abandon_check(f">= {LARGE_TEAM} agents", large))
    fails9 = [f"{s.name}: G {s.policies[policy].g:.2f}" for s in g_large
              if (s.policies[policy].g or 0.0) < 0.9 - EPS]
    met9 = len(g_large) - len(fails9)
    out.append(Criterion(f">= {LARGE_TEAM} agents", "G >= 0.9 in >= 95 % of scenarios",
                         bool(g_large) and met9 >= 0.95 * len(g_large) - EPS, met9,
                         len(g_large), fails9))
    fails8 = [f"{s.name}: G {s.policies[policy].g:.2f}" for s in g_large
              if (s.policies[policy].g or 0.0) < 0.8 - EPS]
    out.append(Criterion(f">= {LARGE_TEAM} agents", "G >= 0.8 in every scenario",
                         bool(g_large) and not fails8, len(g_large) - len(fails8),
                         len(g_large), fails8))
    fails_occ = []
    for s in large:
        mine = s.policies[policy]
        beaten = [
            f"{p} {f.occupancy:.3f}" for p, f in s.policies.items()
            if p != policy and f.abandon_max <= cap + EPS and f.occupancy > mine.occupancy + EPS
        ]
        if beaten:
            fails_occ.append(f"{s.name}: {policy} {mine.occupancy:.3f} < " + ", ".join(beaten))
    out.append(Criterion(f">= {LARGE_TEAM} agents",
                         "occupancy >= every policy within the cap", not fails_occ,
                         len(large) - len(fails_occ), len(large), fails_occ))
    fails_prog = []
    for s in small:
        prog = s.policies.get("progressive")
        mine = s.policies[policy]
        if prog is not None and mine.occupancy < prog.occupancy - EPS:
            fails_prog.append(f"{s.name}: {mine.occupancy:.3f} < progressive "
                              f"{prog.occupancy:.3f}")
    out.append(Criterion(f"5-{LARGE_TEAM - 1} agents", "occupancy >= progressive",
                         not fails_prog, len(small) - len(fails_prog), len(small), fails_prog))
    out.append(abandon_check(f"5-{LARGE_TEAM - 1} agents", small))
    return out


def scenarios_meeting_all(summaries: Mapping[str, ScenarioSummary], crits: list[Criterion]
                          ) -> tuple[int, int]:
    """(scenarios with no failure in any criterion, scenarios judged)."""
    failed = {f.split(":", 1)[0] for c in crits for f in c.failures}
    judged = {s.name for s in summaries.values()}
    return len(judged - failed), len(judged)


# -- markdown ------------------------------------------------------------------------

def _fmt5(d: tuple[float, ...], pct: bool = False) -> str:
    if pct:
        return " | ".join(f"{100 * x:.2f}" for x in d)
    return " | ".join(f"{x:.2f}" for x in d)


def _gaps(scs: Iterable[ScenarioSummary], policy: str) -> list[float]:
    return [g for s in scs if (g := s.policies[policy].g) is not None]


def distribution_table(summaries: Mapping[str, ScenarioSummary], policies: Sequence[str],
                       large: bool | None) -> list[str]:
    """Per policy: G over scenarios, then the cumulative abandon rate over scenarios (the
    seed mean and the worst seed of each scenario)."""
    scs = [s for s in summaries.values() if large is None or s.large == large]
    g_lines = ["| policy | scenarios with G | G min | p5 | median | p95 | max |",
               "|---|---|---|---|---|---|---|"]
    ab_lines = ["| policy | scenarios | abandon % seed mean: min | p5 | median | p95 | max "
                "| worst seed: median | p95 | max |", "|" + "---|" * 10]
    for p in policies:
        have = [s for s in scs if p in s.policies]
        if not have:
            continue
        gs = _gaps(have, p)
        g_cells = _fmt5(distribution(gs)) if gs else " | ".join("-" for _ in range(5))
        g_lines.append(f"| {p} | {len(gs)} / {len(have)} | {g_cells} |")
        ab = distribution([s.policies[p].abandon_mean for s in have])
        abm = distribution([s.policies[p].abandon_max for s in have])
        ab_lines.append(f"| {p} | {len(have)} | {_fmt5(ab, pct=True)} | "
                        f"{_fmt5(abm[2:], pct=True)} |")
    return g_lines + [""] + ab_lines


def worst_table(summaries: Mapping[str, ScenarioSummary], policies: Sequence[str],
                policy: str = "predictive", n: int = 10) -> list[str]:
    """The judged policy's lowest-G scenarios (>= 20 agents), then its highest worst seeds."""
    have = [s for s in summaries.values() if policy in s.policies]
    head = ("| scenario | reference | " + " | ".join(f"{p} G (ab % mean/max)" for p in policies)
            + " |")
    sep = "|" + "---|" * (len(policies) + 2)

    def row(s: ScenarioSummary) -> str:
        cells = []
        for p in policies:
            f = s.policies.get(p)
            if f is None:
                cells.append("-")
                continue
            g = "-" if f.g is None else f"{f.g:.2f}"
            cells.append(f"{g} ({100 * f.abandon_mean:.1f}/{100 * f.abandon_max:.1f})")
        ref = "-" if s.reference_busy is None else f"{s.label} {s.reference_busy:.3f}"
        return f"| {s.name} | {ref} | " + " | ".join(cells) + " |"

    by_g = sorted((s for s in have if s.large and s.policies[policy].g is not None),
                  key=lambda s: s.policies[policy].g or 0.0)[:n]
    by_ab = sorted(have, key=lambda s: -s.policies[policy].abandon_max)[:n]
    lines = [f"Lowest gap closure of {policy} (>= {LARGE_TEAM} agents):", "", head, sep]
    lines += [row(s) for s in by_g] or ["| none | |"]
    lines += ["", f"Highest worst-seed abandon rate of {policy}:", "", head, sep]
    lines += [row(s) for s in by_ab]
    return lines


def label_table(summaries: Mapping[str, ScenarioSummary], policy: str = "predictive"
                ) -> list[str]:
    by: dict[str, list[ScenarioSummary]] = defaultdict(list)
    for s in summaries.values():
        by[s.label].append(s)
    lines = [f"| reference label | scenarios | median G {policy} | min G {policy} |",
             "|---|---|---|---|"]
    for label in sorted(by):
        gs = _gaps([s for s in by[label] if policy in s.policies], policy)
        med = f"{statistics.median(gs):.2f}" if gs else "-"
        mn = f"{min(gs):.2f}" if gs else "-"
        lines.append(f"| {label} | {len(by[label])} | {med} | {mn} |")
    return lines


def markdown(runs: Sequence[Mapping[str, Any]], optima: Mapping[str, Mapping[str, Any]],
             metas: Sequence[Mapping[str, Any]], policies: Sequence[str],
             policy: str = "predictive", cap: float = 0.03, max_failures: int = 15) -> str:
    sums = summarise(runs, optima, policies, cap)
    present = [p for p in policies if any(p in s.policies for s in sums.values())]
    lines: list[str] = ["# Pacing on sampled scenarios", ""]
    if metas:
        first = metas[0]
        lines.append(f"Sample seed {first.get('sample_seed')}, {first.get('hours')} h shifts, "
                     f"cap {100 * cap:g} %.")
        lines.append("")
        lines.append("Commands (wall time of each invocation):")
        lines.append("")
        for m in metas:
            if m.get("wall_s") is None:
                continue
            lines.append(f"    {m.get('command', '?')}    # {m['wall_s'] / 60:.1f} min, "
                         f"{m.get('tasks', 0)} tasks, {m.get('workers', '?')} workers")
        wall = sum(float(m.get("wall_s") or 0.0) for m in metas)
        cpu_runs = sum(float(r.get("seconds", 0.0)) for r in runs)
        cpu_opt = sum(float(o.get("seconds", 0.0)) for o in optima.values())
        lines.append("")
        lines.append(f"Wall time {wall / 60:.1f} min in all; CPU in the workers "
                     f"{cpu_runs / 60:.1f} min of shifts, {cpu_opt / 60:.1f} min of optima.")
    errs = sum(1 for r in runs if r.get("conservation_errors"))
    n_large = sum(1 for s in sums.values() if s.large)
    lines.append("")
    lines.append(f"Runs: {len(runs)} shifts on {len(sums)} scenarios ({n_large} with >= "
                 f"{LARGE_TEAM} agents, {len(sums) - n_large} with 5-{LARGE_TEAM - 1}); "
                 f"conservation errors: {errs}; references: {len(optima)}.")
    if policy in present:
        crits = criteria(sums, policy, cap)
        ok, judged = scenarios_meeting_all(sums, crits)
        lines += ["", f"## Issue 11's criteria for {policy}", "",
                  f"Scenarios meeting every criterion of their group: {ok} / {judged}.", "",
                  "| group | criterion | scenarios meeting it | verdict |", "|---|---|---|---|"]
        for c in crits:
            share = "-" if not c.total else f"{c.met} / {c.total} ({100 * c.share:.1f} %)"
            lines.append(f"| {c.group} | {c.text} | {share} | "
                         f"{'pass' if c.passed else 'FAIL'} |")
        for c in crits:
            if c.failures:
                lines += ["", f"{c.group}, {c.text}: missed on {len(c.failures)}:"]
                lines += [f"- {f}" for f in c.failures[:max_failures]]
                if len(c.failures) > max_failures:
                    lines.append(f"- ... and {len(c.failures) - max_failures} more")
    for title, large in ((f">= {LARGE_TEAM} agents", True),
                         (f"5-{LARGE_TEAM - 1} agents", False)):
        lines += ["", f"## Distribution over scenarios, {title}", ""]
        lines += distribution_table(sums, present, large)
    lines += ["", "## Worst scenarios", ""]
    lines += worst_table(sums, present, policy)
    lines += ["", "## Reference labels", ""]
    lines += label_table(sums, policy)
    return "\n".join(lines) + "\n"


__all__ = ["Criterion", "PolicyFigures", "ScenarioSummary", "criteria", "distribution",
           "gap", "markdown", "quantile", "scenarios_meeting_all", "summarise"]
