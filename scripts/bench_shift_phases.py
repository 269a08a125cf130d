#!/usr/bin/env python3
"""Where predictive's gap comes from: the shift's first hour or the hours after it.

    .venv/bin/python scripts/bench_shift_phases.py --results scripts/bench_sampler_results.jsonl \\
        --out bench_shift_phases.jsonl                            # every scenario >= 20 agents
    .venv/bin/python scripts/bench_shift_phases.py --results ... --only s146 --seeds 3,4 \\
        --settings '{"budget_noise_z": 4}'

A shift starts with nothing in the abandon ledger: no answers, so no allowance, and the first
abandons weigh most. Once it is spent the profile allows progressive dialling only, which on
a floor with a low answer rate leaves half the agents idle until the answers earn the
allowance back. This script plays predictive (with `--settings`, its keyword arguments, if
given) on each chosen scenario and seed, sampling every pacing tick, and splits the shift at
`--split` minutes (default 60): busy time (talk and wrap-up over logged-in agents, summed over
ticks) and the share of ticks paced progressively because the budget was spent, in each
part. Gap closure G is against progressive on the results file's seeds and the file's
reference; "G after" is the G the shift would have if the first part had paced like the rest
(the later part's busy for the whole shift: an upper figure, since a start from an empty
floor and an empty ledger costs any policy something).

Prints per scenario (the lowest G first) and the counts over all; rows go to `--out` as they
finish (resumable).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pacing.batch import play_all  # noqa: E402
from pacing.bench import RunSpec, gap_closure, run_one  # noqa: E402
from pacing.policies import make_policy  # noqa: E402
from pacing.policy import PacingDecision, PacingReason  # noqa: E402
from pacing.sampler import draw_scenario, scenario_index  # noqa: E402
from pacing.sampler_report import (  # noqa: E402
    LARGE_TEAM,
    SampleRows,
    chosen_scenarios,
    read_results,
    results_arguments,
)
from pacing.snapshot import CampaignSnapshot  # noqa: E402

EXHAUSTED = PacingReason.BUDGET_EXHAUSTED.value


def play(task: tuple[int, int, float, dict[str, Any], int, float]) -> dict[str, Any]:
    """One shift of predictive, its busy time and budget-exhausted ticks before and after
    the split."""
    index, sample_seed, hours, settings, seed, split_s = task
    sc = draw_scenario(index, sample_seed, hours)
    busy = [0.0, 0.0]
    active = [0.0, 0.0]
    ticks = [0, 0]
    exhausted = [0, 0]

    def trace(snap: CampaignSnapshot, decision: PacingDecision, _answers: int, _abandons: int) -> None:
        part = 0 if snap.now < split_s else 1
        busy[part] += len(snap.talk_elapsed) + len(snap.wrap_elapsed)
        active[part] += snap.agents_active
        ticks[part] += 1
        exhausted[part] += decision.reason == EXHAUSTED

    t0 = time.time()
    m = run_one(RunSpec(sc.scenario, "predictive", seed, settings), trace=trace)
    return {"scenario": sc.name, "settings": settings, "seed": seed, "split_s": split_s,
            "busy": m["busy"], "abandon_rate": m["abandon_rate"],
            "busy_parts": [b / a if a else 0.0 for b, a in zip(busy, active, strict=True)],
            "exhausted_parts": [e / t if t else 0.0 for e, t in zip(exhausted, ticks, strict=True)],
            "seconds": time.time() - t0}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    results_arguments(ap, seeds="3")
    ap.add_argument("--settings", default="{}", help="predictive's keyword arguments, as JSON")
    ap.add_argument("--split", type=float, default=60.0, help="minutes of the first part")
    ap.add_argument("--small", action="store_true",
                    help=f"the scenarios under {LARGE_TEAM} agents instead of the others")
    ap.add_argument("--out", type=Path, default=Path("bench_shift_phases.jsonl"))
    args = ap.parse_args(argv)
    try:
        settings = json.loads(args.settings)
        if not isinstance(settings, dict):
            raise ValueError("the settings must be a JSON object")
        make_policy("predictive", **settings)
    except (json.JSONDecodeError, TypeError, ValueError) as exc:
        ap.error(f"--settings: {exc}")
    if args.split <= 0:
        ap.error("--split must be > 0 minutes")
    sample = read_results(args.results)
    if args.split * 60.0 >= sample.hours * 3600.0:
        ap.error(f"--split must be shorter than the shift ({sample.hours:g} h)")
    seeds = [int(s) for s in args.seeds.split(",")]
    names = chosen_scenarios(sample, args.only, args.small)
    if not names:
        sys.exit("error: no scenario chosen (check --only and the results file)")
    split_s = args.split * 60.0

    done = []
    if args.out.exists():
        done = [json.loads(line) for line in args.out.read_text().splitlines() if line.strip()]
    have = {(d["scenario"], d["seed"], json.dumps(d["settings"], sort_keys=True), d["split_s"])
            for d in done}
    mine_key = json.dumps(settings, sort_keys=True)
    agents = {name: int(sample.optima[name].get("agents", 0)) for name in names}
    tasks = [(scenario_index(n), sample.sample_seed, sample.hours, settings, k, split_s)
             for n in sorted(names, key=lambda n: -agents[n])  # the longest shifts first
             for k in seeds
             if (n, k, mine_key, split_s) not in have]
    print(f"{len(names)} scenarios x {len(seeds)} seeds: {len(tasks)} shifts to play", flush=True)
    t0 = time.time()
    done += play_all(play, tasks, args.out, args.workers)
    mine = {(d["scenario"], d["seed"]): d for d in done
            if d["settings"] == settings and d["split_s"] == split_s}
    print("\n".join(phase_report(names, sample, mine, seeds, args.split)))
    print(f"{time.time() - t0:.0f} s wall", flush=True)


def phase_report(names: list[str], sample: SampleRows, runs: dict[tuple[str, int], dict[str, Any]],
                 seeds: list[int], split_min: float) -> list[str]:
    """Per scenario (lowest G first), then the counts: G over the shift and after the split."""
    lines = []
    for name in names:
        rs = [runs.get((name, k)) for k in seeds]
        progs = [sample.runs.get((name, "progressive", k)) for k in seeds]
        if any(r is None for r in rs) or any(p is None for p in progs):
            continue
        prog = statistics.fmean(p["busy"] for p in progs if p)
        ref = float(sample.optima[name]["optimum_busy"])
        busy = statistics.fmean(r["busy"] for r in rs if r)
        first = statistics.fmean(r["busy_parts"][0] for r in rs if r)
        after = statistics.fmean(r["busy_parts"][1] for r in rs if r)
        exh = [statistics.fmean(r["exhausted_parts"][i] for r in rs if r) for i in (0, 1)]
        g, g_after = gap_closure(busy, prog, ref), gap_closure(after, prog, ref)
        if g is None or g_after is None:
            continue
        lines.append((g, g_after, name, first, after, exh))
    lines.sort()
    split = f"{split_min:g} min"
    out = [f"| scenario | G | G after {split} | busy first {split} | busy after | "
           f"budget spent, first {split} | after |", "|---|---|---|---|---|---|---|"]
    out += [f"| {name} | {g:.2f} | {ga:.2f} | {b1:.3f} | {b2:.3f} | {e[0]:.0%} | {e[1]:.0%} |"
            for g, ga, name, b1, b2, e in lines]
    n = len(lines)
    out += ["", f"{n} scenarios, seeds {','.join(map(str, seeds))}:",
            f"  G >= 0.9: {sum(x[0] >= 0.9 for x in lines)} over the shift, "
            f"{sum(x[1] >= 0.9 for x in lines)} if it paced from the start as after {split}",
            f"  G >= 0.8: {sum(x[0] >= 0.8 for x in lines)} over the shift, "
            f"{sum(x[1] >= 0.8 for x in lines)} if it paced from the start as after {split}",
            f"  budget spent on > 10 % of the first {split}'s ticks: "
            f"{sum(x[5][0] > 0.1 for x in lines)}; after it, on > 5 %: "
            f"{sum(x[5][1] > 0.05 for x in lines)}"]
    return out


if __name__ == "__main__":
    main()
