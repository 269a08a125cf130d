#!/usr/bin/env python3
"""How far predictive's expected lost calls are from the exact sum, by model of the frees.

    .venv/bin/python scripts/bench_lost_calls.py                   # 3000 sets, seed 7
    .venv/bin/python scripts/bench_lost_calls.py --sets 10000 --seed 1

Each set is random calls (1-12, each needing an agent with its own chance, some already
answered), random busy agents (0-40, each freeing with its own chance) and 0-4 agents
ready. The exact E[(C - R - F)^+] is summed term by term over both counts; against it:

- ``shifted``: the default model, frees fixed at their mean less half a standard deviation
  (`agent_sd_weight` 0.5) and the answers fitted by a binomial (`answers_excess`);
- ``count``: frees counted as agents who each free or not (`excess_over_frees`,
  `free_model = "count"`).

Prints the error in standard deviations of C - F (median, p90, p99, max) and, where the
exact excess is above 0.02 calls, the relative error (p10, median, p90).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pacing.lost_calls import (  # noqa: E402
    answers_excess,
    exact_excess_over_frees,
    excess_over_frees,
)


def quantile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    in_sd: dict[str, list[float]] = {"shifted": [], "count": []}
    relative: dict[str, list[float]] = {"shifted": [], "count": []}
    for _ in range(args.sets):
        calls = [rng.uniform(0.01, 1.0) for _ in range(rng.randint(1, 12))]
        busy = [rng.uniform(0.0, 0.7) for _ in range(rng.randint(0, 40))]
        ready = rng.randint(0, 4)
        exact = exact_excess_over_frees(calls, busy, ready)
        mean_c, var_c = sum(calls), sum(c * (1 - c) for c in calls)
        mean_f, var_f = sum(busy), sum(f * (1 - f) for f in busy)
        got = {
            "shifted": answers_excess(mean_c, var_c,
                                      max(0.0, ready + mean_f - 0.5 * math.sqrt(var_f))),
            "count": excess_over_frees(mean_c, var_c, len(calls), mean_f, var_f, len(busy),
                                       ready),
        }
        sd = math.sqrt(var_c + var_f) or 1.0
        for model, value in got.items():
            in_sd[model].append(abs(value - exact) / sd)
            if exact > 0.02:
                relative[model].append((value - exact) / exact)
    print(f"{args.sets} random sets of calls and agents, seed {args.seed}")
    print()
    print("| frees | error / sd: median | p90 | p99 | max | relative: p10 | median | p90 |")
    print("|---|---|---|---|---|---|---|---|")
    for model in in_sd:
        e, r = in_sd[model], relative[model]
        print(f"| {model} | {statistics.median(e):.4f} | {quantile(e, 0.9):.4f} | "
              f"{quantile(e, 0.99):.4f} | {max(e):.3f} | {quantile(r, 0.1):+.3f} | "
              f"{statistics.median(r):+.3f} | {quantile(r, 0.9):+.3f} |")


if __name__ == "__main__":
    main()
