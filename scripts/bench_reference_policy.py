#!/usr/bin/env python3
"""The reference optimum's own decision rule, played in the simulator.

    .venv/bin/python scripts/bench_reference_policy.py --results scripts/bench_sampler_results.jsonl
    .venv/bin/python scripts/bench_reference_policy.py --results ... --only s011 --seeds 1,2

The sampled-scenario benchmark measures gap closure against the constrained MDP of
`pacing.optimum` (`pacing.reference`). For the scenarios whose reference is labelled plain
`cmdp` (exponential talk, no AMD, drift or churn) that MDP is exact for its own model, and
its decision rule (hold targets[b, c] calls in flight with b agents busy and c calls in
flight) can be played in the simulator, knowing the scenario's true means. What it reaches
there says how far the yardstick is from what its own rule can do in the simulated world:
the simulator's rings are not exponential (people answer within 2-33 s, no-answers ring
to a fixed timeout), so elapsed ring times carry information that the MDP's state lacks,
and the rule's thresholds are tuned to a world the calls do not live in.

Prints, per scenario, gap closure and abandon rate of the rule and of predictive (from the
results file, same seeds), and a summary. Progressive's busy, the reference and
predictive's rows come from the results file; only the rule is simulated here.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pacing.bench import gap_closure  # noqa: E402
from pacing.optimum import ThresholdTable, threshold_table  # noqa: E402
from pacing.policy import BasePolicy, PacingReason  # noqa: E402
from pacing.reference import model_params, model_size  # noqa: E402
from pacing.sampler import draw_scenario, scenario_index  # noqa: E402
from pacing.sampler_report import read_results, results_arguments  # noqa: E402
from pacing.simulator import simulate  # noqa: E402
from pacing.snapshot import CampaignSnapshot  # noqa: E402


class ReferenceRule(BasePolicy):
    """Calls to place = the table's target for (busy + waiting, calls in flight) - in flight."""

    name = "reference-rule"

    def __init__(self, table: ThresholdTable) -> None:
        super().__init__()
        self.table = table

    def _raw(self, snap: CampaignSnapshot) -> tuple[int, str, dict[str, float | int | str]]:
        busy = len(snap.talk_elapsed) + len(snap.wrap_elapsed)
        n = self.table.calls_to_place(busy, len(snap.waiting_elapsed), len(snap.ringing_elapsed))
        return n, PacingReason.PREDICTIVE.value, {}


def play(task: tuple[int, int, int, float]) -> dict[str, Any]:
    """One shift of the rule on scenario `index` of the sample, on `seed`."""
    index, sample_seed, seed, hours = task
    sc = draw_scenario(index, sample_seed, hours)
    t0 = time.time()
    mp = model_params(sc.scenario)
    in_flight, b_window = model_size(mp, sc.agents)  # as the reference's own model
    table = threshold_table(sc.agents, mp.p, mp.service_s, mp.ring_s,
                            cap=sc.scenario.abandon_cap, wait_s=mp.wait_s,
                            max_in_flight=in_flight, b_window=b_window)
    m = simulate(sc.scenario, ReferenceRule(table), seed=seed).metrics()
    return {"scenario": sc.name, "seed": seed, "busy": m["busy"],
            "abandon_rate": m["abandon_rate"], "seconds": time.time() - t0}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    results_arguments(ap, seeds="1")
    args = ap.parse_args(argv)
    sample = read_results(args.results)
    sample_seed, hours, refs, runs = sample.sample_seed, sample.hours, sample.optima, sample.runs
    seeds = [int(s) for s in args.seeds.split(",")]
    wanted = {scenario_index(n) for n in args.only}
    names = sorted(n for n, r in refs.items() if r["label"] == "cmdp"
                   and (not wanted or scenario_index(n) in wanted))
    names = [n for n in names if all((n, p, k) in runs for p in ("progressive", "predictive")
                                     for k in seeds)]
    if not names:
        sys.exit("error: no scenario with a plain `cmdp` reference and progressive and "
                 "predictive rows on those seeds in the results file")
    tasks = [(scenario_index(n), sample_seed, k, hours) for n in names for k in seeds]
    print(f"{len(names)} scenarios with a plain cmdp reference x {len(seeds)} seeds", flush=True)
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        played = list(pool.map(play, tasks))
    g_rule: list[float] = []
    g_pred: list[float] = []
    print("| scenario | reference busy | rule G (abandon %) | predictive G (abandon %) |")
    print("|---|---|---|---|")
    for name in names:
        mine = [p for p in played if p["scenario"] == name]
        prog = statistics.mean(runs[(name, "progressive", k)]["busy"] for k in seeds)
        pred = [runs[(name, "predictive", k)] for k in seeds]
        ref = refs[name]["optimum_busy"]
        gr = gap_closure(statistics.mean(p["busy"] for p in mine), prog, ref)
        gp = gap_closure(statistics.mean(r["busy"] for r in pred), prog, ref)
        if gr is None or gp is None:
            continue  # the reference is not above progressive
        g_rule.append(gr)
        g_pred.append(gp)
        ab_r = 100 * max(p["abandon_rate"] for p in mine)
        ab_p = 100 * max(r["abandon_rate"] for r in pred)
        print(f"| {name} | {ref:.3f} | {gr:.2f} ({ab_r:.2f}) | {gp:.2f} ({ab_p:.2f}) |")
    if g_rule:
        print(f"\nrule: median G {statistics.median(g_rule):.2f}, min {min(g_rule):.2f}; "
              f"predictive: median G {statistics.median(g_pred):.2f}, min {min(g_pred):.2f}; "
              f"predictive ahead on {sum(p > r for p, r in zip(g_pred, g_rule, strict=True))} "
              f"of {len(g_rule)}")


if __name__ == "__main__":
    main()
