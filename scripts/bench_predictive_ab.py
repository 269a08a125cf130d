#!/usr/bin/env python3
"""A/B of predictive's settings on sampled scenarios, on seeds the results file did not use.

    .venv/bin/python scripts/bench_predictive_ab.py --results scripts/bench_sampler_results.jsonl \\
        --variant 'theta@0.01={"theta": 0.01}'                      # every scenario >= 20 agents
    .venv/bin/python scripts/bench_predictive_ab.py --results ... --small --seeds 3,4,5 \\
        --variant 'caution@3={"budget_noise_z": 3}' --variant 'no-caution={"budget_noise_z": 0}'

Each variant (`LABEL=JSON`, the JSON being `PredictivePolicy` keyword arguments; repeatable)
plays every chosen scenario beside predictive with its defaults and progressive, on
`--seeds` (default 3,4). Fresh seeds, on purpose: a set chosen for what predictive did on the
file's seeds (its failures, say) is partly chosen for their luck, and replaying those seeds
shows that luck regressing as if a change had fixed it. Gap closure G is measured against
progressive on the same seeds and the file's reference; each variant is compared with the
defaults scenario by scenario (paired: the same calls and agents), and the mean difference
is given with its 95 % interval, so a change within the noise reads as one.

Prints, per variant: scenarios, mean and median G, how many reach G >= 0.9 and >= 0.8, the
worst run's abandon rate and the runs above the 3 % cap; then the paired difference in G and
in busy time. `--out` keeps the shifts played (resumable).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pacing.batch import play_all  # noqa: E402
from pacing.bench import RunSpec, gap_closure, run_one, t95  # noqa: E402
from pacing.policies import make_policy  # noqa: E402
from pacing.sampler import draw_scenario, scenario_index  # noqa: E402
from pacing.sampler_report import (  # noqa: E402
    LARGE_TEAM,
    chosen_scenarios,
    read_results,
    results_arguments,
)

CAP = 0.03
DEFAULTS = "defaults"


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """'LABEL={json}' -> (label, settings); a clear error for anything else."""
    label, sep, body = text.partition("=")
    if not sep or not label.strip():
        raise argparse.ArgumentTypeError(f"a variant is LABEL=JSON, not {text!r}")
    try:
        settings = json.loads(body)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"variant {label!r}: its settings are not JSON ({exc})") from exc
    if not isinstance(settings, dict):
        raise argparse.ArgumentTypeError(f"variant {label!r}: the settings must be a JSON object")
    return label.strip(), settings


def play(task: tuple[int, int, float, str, str, dict[str, Any], int]) -> dict[str, Any]:
    index, sample_seed, hours, label, policy, settings, seed = task
    sc = draw_scenario(index, sample_seed, hours)
    t0 = time.time()
    m = run_one(RunSpec(sc.scenario, policy, seed, settings))
    return {"scenario": sc.name, "variant": label, "settings": settings, "seed": seed,
            "busy": m["busy"], "abandon_rate": m["abandon_rate"], "seconds": time.time() - t0}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    results_arguments(ap, seeds="3,4")
    ap.add_argument("--variant", action="append", type=parse_variant, default=[],
                    help="LABEL=JSON: predictive's keyword arguments (repeatable)")
    ap.add_argument("--small", action="store_true",
                    help=f"the scenarios under {LARGE_TEAM} agents instead of the others")
    ap.add_argument("--out", type=Path, default=Path("bench_predictive_ab.jsonl"))
    args = ap.parse_args(argv)
    if not args.variant:
        ap.error("give at least one --variant LABEL=JSON")
    labels = [label for label, _ in args.variant]
    for label, settings in args.variant:
        try:  # before any shift: a misspelt setting would otherwise stop the run in a worker
            make_policy("predictive", **settings)
        except (TypeError, ValueError) as exc:
            ap.error(f"variant {label!r}: {exc}")
    if DEFAULTS in labels or "progressive" in labels or len(set(labels)) != len(labels):
        ap.error(f"variant labels must be unique and not {DEFAULTS!r} or 'progressive'")
    sample = read_results(args.results)
    seeds = [int(s) for s in args.seeds.split(",")]
    names = chosen_scenarios(sample, args.only, args.small)
    if not names:
        sys.exit("error: no scenario chosen (check --only and the results file)")

    plays = [("progressive", "progressive", {}), (DEFAULTS, "predictive", {}),
             *((label, "predictive", settings) for label, settings in args.variant)]
    done: list[dict[str, Any]] = []
    if args.out.exists():
        done = [json.loads(line) for line in args.out.read_text().splitlines() if line.strip()]
    have = {(d["scenario"], d["variant"], d["seed"], json.dumps(d["settings"], sort_keys=True))
            for d in done}
    agents = {name: int(sample.optima[name].get("agents", 0)) for name in names}
    tasks = [(scenario_index(n), sample.sample_seed, sample.hours, label, policy, settings, k)
             for n in sorted(names, key=lambda n: -agents[n])  # the longest shifts first
             for label, policy, settings in plays for k in seeds
             if (n, label, k, json.dumps(settings, sort_keys=True)) not in have]
    print(f"{len(names)} scenarios x {len(plays)} plays x {len(seeds)} seeds: {len(tasks)} shifts"
          f" to play", flush=True)
    t0 = time.time()
    done += play_all(play, tasks, args.out, args.workers)
    settings_of = {label: settings for label, _, settings in plays}
    print("\n".join(ab_report(names, sample.optima, done, seeds, [DEFAULTS, *labels], settings_of)))
    print(f"{time.time() - t0:.0f} s wall", flush=True)


def ab_report(names: list[str], refs: dict[str, dict[str, Any]], done: list[dict[str, Any]],
              seeds: list[int], labels: list[str], settings_of: dict[str, dict[str, Any]]) -> list[str]:
    """Per variant: the distribution of G and the abandons; then each against the defaults."""
    runs = {(d["scenario"], d["variant"], d["seed"]): d for d in done
            if d["settings"] == settings_of.get(d["variant"], d["settings"])}

    def seed_runs(name: str, label: str) -> list[dict[str, Any]] | None:
        got = [runs.get((name, label, k)) for k in seeds]
        return None if any(r is None for r in got) else [r for r in got if r is not None]

    figures: dict[str, dict[str, tuple[float | None, float, float]]] = {}
    for label in labels:
        figures[label] = {}
        for name in names:
            rs, prog = seed_runs(name, label), seed_runs(name, "progressive")
            if rs is None or prog is None:
                continue
            busy = statistics.fmean(r["busy"] for r in rs)
            g = gap_closure(busy, statistics.fmean(r["busy"] for r in prog),
                            float(refs[name]["optimum_busy"]))
            figures[label][name] = (g, busy, max(r["abandon_rate"] for r in rs))
    out = [f"seeds {','.join(map(str, seeds))}; G against progressive on those seeds and the"
           " file's reference", "",
           "| variant | scenarios | mean G | median G | G >= 0.9 | G >= 0.8 | worst run abandon"
           " | runs above the cap |", "|---|---|---|---|---|---|---|---|"]
    for label in labels:
        fig = figures[label]
        gs = [g for g, _, _ in fig.values() if g is not None]
        over = sum(1 for name in fig for k in seeds if runs[(name, label, k)]["abandon_rate"] > CAP)
        worst = max((ab for _, _, ab in fig.values()), default=0.0)
        mean_g = f"{statistics.fmean(gs):.3f}" if gs else "-"
        median_g = f"{statistics.median(gs):.3f}" if gs else "-"
        out.append(f"| {label} | {len(fig)} | {mean_g} | {median_g} | {sum(g >= 0.9 for g in gs)}"
                   f" | {sum(g >= 0.8 for g in gs)} | {100 * worst:.2f} % | {over} |")
    out += ["", "| variant - defaults | scenarios | mean difference in G (95 %) |"
            " mean difference in busy (95 %) |", "|---|---|---|---|"]
    base = figures[DEFAULTS]
    for label in labels[1:]:
        pairs = [(figures[label][n], base[n]) for n in figures[label] if n in base]
        dg = [a[0] - b[0] for a, b in pairs if a[0] is not None and b[0] is not None]
        db = [a[1] - b[1] for a, b in pairs]
        out.append(f"| {label} | {len(pairs)} | {_mean_ci(dg, 3)} | {_mean_ci(db, 4)} |")
    return out


def _mean_ci(xs: list[float], digits: int) -> str:
    """'mean ± half-width of its 95 % interval' (Student t over the scenarios)."""
    if not xs:
        return "-"
    mean = statistics.fmean(xs)
    if len(xs) < 2:
        return f"{mean:+.{digits}f}"
    half = t95(len(xs)) * statistics.stdev(xs) / math.sqrt(len(xs))
    return f"{mean:+.{digits}f} ± {half:.{digits}f}"


if __name__ == "__main__":
    main()
