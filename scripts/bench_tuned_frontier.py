#!/usr/bin/env python3
"""The best that hindsight tuning reaches on a scenario: an achievable floor under the optimum.

    .venv/bin/python scripts/bench_tuned_frontier.py --results scripts/bench_sampler_results.jsonl \\
        --out scripts/bench_tuned_frontier.jsonl                  # predictive's G < 0.9, >= 20 agents
    .venv/bin/python scripts/bench_tuned_frontier.py --results ... --only s011 --only s146

The sampled-scenario benchmark measures predictive against the constrained MDP of
`pacing.reference`, which is exact only for its own exponential model and is neither an upper
bound of the simulated world nor a rule that can be played there (`bench_reference_policy.py`).
This script asks the other question: on the scenarios where predictive closes less than
`--below` of that gap, how much more would a policy tuned with hindsight for each scenario
have reached? Each policy of `VARIANTS` (predictive and PI with their abandon setpoints
raised towards the 3 % cap) plays the scenario on the results file's seeds; the *tuned
frontier* is the highest seed-mean busy among every run set that kept every seed within the
cap (the variants here and every policy of the results file). It is achievable, so it is a
lower bound of the optimum of the simulated world: the reference above it is at least
that much out of reach; predictive below it is that much short of tuning.

Prints per scenario: the reference's and the frontier's busy, who reached the frontier,
predictive's G against the reference and against the frontier; then the distribution.
Rows go to `--out` as they finish (resumable).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pacing.batch import play_all  # noqa: E402
from pacing.bench import RunSpec, gap_closure, run_one  # noqa: E402
from pacing.sampler import draw_scenario, scenario_index  # noqa: E402
from pacing.sampler_report import distribution, read_results, results_arguments  # noqa: E402

# (label, policy, settings): the abandon setpoint raised towards the cap. The defaults
# (predictive 2.5 %, PI 2.2 %) are the results file's own rows.
VARIANTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("predictive@2.8", "predictive", {"target": 0.028}),
    ("predictive@2.95", "predictive", {"target": 0.0295}),
    ("pi@2.6", "pi", {"target": 0.026}),
    ("pi@2.9", "pi", {"target": 0.029}),
)
CAP = 0.03


def play(task: tuple[int, int, float, str, int]) -> dict[str, Any]:
    index, sample_seed, hours, label, seed = task
    sc = draw_scenario(index, sample_seed, hours)
    _, policy, settings = next(v for v in VARIANTS if v[0] == label)
    t0 = time.time()
    m = run_one(RunSpec(sc.scenario, policy, seed, settings))
    return {"scenario": sc.name, "variant": label, "seed": seed, "busy": m["busy"],
            "abandon_rate": m["abandon_rate"], "seconds": time.time() - t0}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    results_arguments(ap, seeds="1,2")
    ap.add_argument("--out", type=Path, default=Path("bench_tuned_frontier.jsonl"))
    ap.add_argument("--below", type=float, default=0.9,
                    help="take the scenarios (>= 20 agents) where predictive's G is below this")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the report here")
    args = ap.parse_args(argv)
    sample = read_results(args.results)
    sample_seed, hours, refs, runs = sample.sample_seed, sample.hours, sample.optima, sample.runs
    seeds = [int(s) for s in args.seeds.split(",")]
    policies = sorted({p for _, p, _ in runs})

    def seed_mean(name: str, policy: str) -> float | None:
        got = [runs.get((name, policy, k)) for k in seeds]
        return None if any(r is None for r in got) else statistics.mean(r["busy"] for r in got if r)

    wanted = {scenario_index(n) for n in args.only}
    names: list[str] = []
    for name, ref in sorted(refs.items()):
        prog, pred = seed_mean(name, "progressive"), seed_mean(name, "predictive")
        if prog is None or pred is None:
            continue
        g = gap_closure(pred, prog, ref["optimum_busy"])
        if wanted:
            if scenario_index(name) in wanted:
                names.append(name)
        elif ref["agents"] >= 20 and g is not None and g < args.below:
            names.append(name)
    if not names:
        sys.exit("error: no scenario to tune (check --only, --below and the seeds)")

    done: list[dict[str, Any]] = []
    if args.out.exists():
        done = [json.loads(line) for line in args.out.read_text().splitlines() if line.strip()]
    have = {(d["scenario"], d["variant"], d["seed"]) for d in done}
    tasks = [(scenario_index(n), sample_seed, hours, label, k) for n in names
             for label, _, _ in VARIANTS for k in seeds if (n, label, k) not in have]
    print(f"{len(names)} scenarios x {len(VARIANTS)} variants x {len(seeds)} seeds:"
          f" {len(tasks)} shifts to play", flush=True)
    t0 = time.time()
    done += play_all(play, tasks, args.out, args.workers)

    report = frontier_report(names, refs, runs, done, seeds, policies, seed_mean)
    print("\n" + "\n".join(report), flush=True)
    if args.markdown is not None:
        args.markdown.write_text("# Tuned frontier\n\n" + "\n".join(report) + "\n")
    print(f"{time.time() - t0:.0f} s wall", flush=True)


def frontier_report(names: list[str], refs: dict[str, dict[str, Any]],
                    runs: dict[tuple[str, str, int], dict[str, Any]], done: list[dict[str, Any]],
                    seeds: list[int], policies: list[str],
                    seed_mean: Callable[[str, str], float | None]) -> list[str]:
    """The per-scenario table and the distribution over the scenarios."""
    played: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for d in done:
        played.setdefault((d["scenario"], d["variant"]), []).append(d)
    out = ["| scenario | reference busy | frontier busy (by) | predictive busy | G vs reference"
           " | G vs frontier | frontier's G vs reference |",
           "|---|---|---|---|---|---|---|"]
    g_ref: list[float] = []
    g_front: list[float] = []
    front_ref: list[float] = []
    for name in names:
        prog, pred = seed_mean(name, "progressive"), seed_mean(name, "predictive")
        assert prog is not None and pred is not None  # `names` holds only such scenarios
        ref = refs[name]["optimum_busy"]
        sets: dict[str, list[dict[str, Any]]] = {
            p: [runs[(name, p, k)] for k in seeds] for p in policies
            if all((name, p, k) in runs for k in seeds)}
        sets.update({label: [d for d in played.get((name, label), []) if d["seed"] in seeds]
                     for label, _, _ in VARIANTS})
        feasible = {label: statistics.mean(r["busy"] for r in rs) for label, rs in sets.items()
                    if len(rs) == len(seeds) and max(r["abandon_rate"] for r in rs) <= CAP}
        by, front = max(feasible.items(), key=lambda kv: kv[1])
        gr, gf, fr = (gap_closure(pred, prog, ref), gap_closure(pred, prog, front),
                      gap_closure(front, prog, ref))
        if gr is None or gf is None or fr is None:
            continue
        g_ref.append(gr)
        g_front.append(gf)
        front_ref.append(fr)
        out.append(f"| {name} | {ref:.3f} | {front:.3f} ({by}) | {pred:.3f} | {gr:.2f} | {gf:.2f}"
                   f" | {fr:.2f} |")
    if g_ref:
        out += ["", "| over the scenarios | min | p5 | median | p95 | max |", "|---|---|---|---|---|---|"]
        for what, xs in (("predictive G vs reference", g_ref), ("predictive G vs frontier", g_front),
                         ("frontier's G vs reference", front_ref)):
            out.append(f"| {what} | " + " | ".join(f"{x:.2f}" for x in distribution(xs)) + " |")
        out += ["", f"Predictive closes >= 0.9 of the frontier's gap on {sum(g >= 0.9 for g in g_front)}"
                f" of {len(g_front)} scenarios; the frontier closes >= 0.9 of the reference's on"
                f" {sum(g >= 0.9 for g in front_ref)}."]
    return out

if __name__ == "__main__":
    main()
