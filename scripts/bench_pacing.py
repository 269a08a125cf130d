#!/usr/bin/env python3
"""The pacing benchmark grid: every policy and the CMDP optimum on the scenario grid.

    .venv/bin/python scripts/bench_pacing.py --quick                 # a few minutes
    nohup .venv/bin/python scripts/bench_pacing.py --out bench.jsonl \
        --markdown bench.md &                                        # the full grid
    .venv/bin/python scripts/bench_pacing.py --report-only --out bench.jsonl --markdown bench.md

Raw rows go to a JSON-lines file as runs finish (a re-run skips the rows already there), so
an interrupted grid can be resumed; the markdown report is built from that file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pacing.bench import (  # noqa: E402
    ADD_ONS,
    TALKS,
    RunSpec,
    gap_closure,
    grid,
    optimum_for,
    run_one,
    summarize,
)
from pacing.policies import POLICY_NAMES  # noqa: E402
from pacing.simulator import Scenario  # noqa: E402


def _opt_task(sc: Scenario) -> dict[str, Any]:
    t = time.time()
    opt = optimum_for(sc)
    assert opt is not None
    return {"scenario": sc.name, "optimum_busy": opt.busy, "optimum_occupancy": opt.occupancy,
            "optimum_abandon": opt.abandon_ratio, "seconds": time.time() - t}


def _run_task(spec: RunSpec) -> dict[str, Any]:
    t = time.time()
    row = run_one(spec)
    row["seconds"] = time.time() - t
    row["agents"] = spec.scenario.agents
    return row


def load_rows(path: Path) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    opts: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            obj = json.loads(line)
            if obj.get("kind") == "optimum":
                opts[obj["scenario"]] = obj
            else:
                rows.append(obj)
    return rows, opts


def run_grid(scenarios: list[Scenario], policies: list[str], seeds: int, out: Path,
             workers: int) -> None:
    rows, opts = load_rows(out)
    done = {(r["scenario"], r["policy"], r["seed"]) for r in rows}
    tasks: list[RunSpec] = []
    for sc in scenarios:
        for p in policies:
            for s in range(1, seeds + 1):
                if (sc.name, p, s) not in done:
                    tasks.append(RunSpec(sc, p, s))
    opt_tasks = [sc for sc in scenarios if sc.is_exponential and sc.name not in opts]
    total = len(tasks) + len(opt_tasks)
    print(f"{total} tasks ({len(opt_tasks)} optima) with {workers} workers", flush=True)
    t0 = time.time()
    finished = 0
    with ProcessPoolExecutor(max_workers=workers) as pool, out.open("a") as fh:
        futs = [pool.submit(_opt_task, sc) for sc in opt_tasks]
        futs += [pool.submit(_run_task, spec) for spec in tasks]
        for fut in as_completed(futs):
            res = fut.result()
            if "optimum_busy" in res:
                res["kind"] = "optimum"
            fh.write(json.dumps(res) + "\n")
            fh.flush()
            finished += 1
            if finished % 25 == 0 or finished == total:
                el = time.time() - t0
                print(f"{finished}/{total} done, {el / 60:.1f} min", flush=True)


def _fmt(mean: float, half: float, digits: int = 3, pct: bool = False) -> str:
    if pct:
        return f"{100 * mean:.2f} ± {100 * half:.2f}"
    return f"{mean:.{digits}f} ± {half:.{digits}f}"


def report(out: Path, policies: list[str]) -> str:
    rows, opts = load_rows(out)
    by_sc: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by_sc[r["scenario"]][r["policy"]].append(r)
    lines: list[str] = []
    checks: list[str] = []
    fails: list[str] = []
    gcs: dict[str, float] = {}
    head = ("| policy | occupancy | busy | abandon % (cum.) | max % | worst hour % | "
            "first 30 min % | wait s (mean) | wait s (p90) | connects/agent-h | "
            "dials/connect | G |")
    sep = "|" + "---|" * 12

    def sort_key(name: str) -> tuple[int, float, str]:
        parts = name.split("-")
        return (int(parts[0][1:]), float(parts[1][1:]), name)

    for sc_name in sorted(by_sc, key=sort_key):
        pol_rows = by_sc[sc_name]
        seeds = min(len(v) for v in pol_rows.values())
        opt = opts.get(sc_name)
        lines.append(f"\n**{sc_name}** ({seeds} seeds)\n")
        lines.append(head)
        lines.append(sep)
        sums = {p: summarize(v) for p, v in pol_rows.items()}
        prog = sums.get("progressive")
        for p in policies:
            if p not in sums:
                continue
            s = sums[p]
            g = None
            if opt and prog:
                g = gap_closure(s["busy"], prog["busy"], opt["optimum_busy"])
            lines.append(
                f"| {p} | {_fmt(s['occupancy'], s['occupancy_ci95'])} | "
                f"{_fmt(s['busy'], s['busy_ci95'])} | "
                f"{_fmt(s['abandon_rate'], s['abandon_rate_ci95'], pct=True)} | "
                f"{100 * s['abandon_rate_max']:.2f} | "
                f"{100 * s['abandon_rate_worst_hour']:.2f} | "
                f"{100 * s['abandon_rate_first_30min']:.2f} | "
                f"{s['mean_agent_wait_s']:.1f} | {s['p90_agent_wait_s']:.1f} | "
                f"{s['calls_per_agent_hour']:.1f} | {s['dials_per_connect']:.2f} | "
                f"{'-' if g is None else f'{g:.2f}'} |"
            )
        if opt:
            occ = opt["optimum_occupancy"]
            lines.append(f"| optimum (CMDP) | {occ:.3f} | {opt['optimum_busy']:.3f} | "
                         f"{100 * opt['optimum_abandon']:.2f} | | | | | | | | 1.00 |")
        # Done-when checks for predictive
        if "predictive" in sums and prog:
            s = sums["predictive"]
            agents = int(sc_name.split("-")[0][1:])
            ok_ab = s["abandon_rate_max"] <= 0.03 + 1e-12
            ok_prog = s["occupancy"] >= prog["occupancy"] - 1e-12
            notes = []
            if not ok_ab:
                notes.append(f"max abandon {100 * s['abandon_rate_max']:.2f}% > 3%")
            if not ok_prog:
                notes.append("occupancy below progressive")
            if agents >= 20:
                for p, o in sums.items():
                    if p in ("predictive", "progressive"):
                        continue
                    if o["abandon_rate_max"] <= 0.03 and o["occupancy"] > s["occupancy"]:
                        notes.append(f"{p} (within cap) has higher occupancy "
                                     f"{o['occupancy']:.3f} > {s['occupancy']:.3f}")
                if opt:
                    g = gap_closure(s["busy"], prog["busy"], opt["optimum_busy"])
                    if g is not None:
                        gcs[sc_name] = g
                        if g < 0.9:
                            notes.append(f"gap closure {g:.2f} < 0.9")
            if notes:
                fails.append(f"- {sc_name}: " + "; ".join(notes))
            checks.append(sc_name)
    errs = [r for r in rows if r.get("conservation_errors")]
    summary = [
        f"Runs: {len(rows)} shifts; scenarios: {len(by_sc)}; conservation errors: {len(errs)}.",
        f"Predictive checked on {len(checks)} scenarios; criteria missed on {len(fails)}:",
    ]
    summary += fails or ["- none"]
    if gcs:
        summary.append(
            f"Gap closure of predictive at 20 and 100 agents (exponential scenarios): min "
            f"{min(gcs.values()):.2f}, median {statistics.median(gcs.values()):.2f}."
        )
    return "\n".join(summary) + "\n" + "\n".join(lines) + "\n"


def compact(out: Path, policies: list[str]) -> str:
    """One row per scenario: occupancy (mean) of each policy, with its cumulative abandon
    rate (mean, and max over seeds) beside it, then the optimum and predictive's gap
    closure."""
    rows, opts = load_rows(out)
    by_sc: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by_sc[r["scenario"]][r["policy"]].append(r)
    head = "| scenario | seeds | " + " | ".join(
        f"{p} occ (ab% mean/max)" for p in policies) + " | optimum occ | G predictive |"
    lines = [head, "|" + "---|" * (len(policies) + 4)]

    def sort_key(name: str) -> tuple[str, int, float, str]:
        parts = name.split("-")
        add = name.split("+")[1] if "+" in name else ""
        return (add, int(parts[0][1:]), float(parts[1][1:]), name)

    for sc_name in sorted(by_sc, key=sort_key):
        pol_rows = by_sc[sc_name]
        sums = {p: summarize(v) for p, v in pol_rows.items()}
        seeds = min(len(v) for v in pol_rows.values())
        cells = []
        for p in policies:
            if p not in sums:
                cells.append("-")
                continue
            s = sums[p]
            cells.append(f"{s['occupancy']:.3f} ({100 * s['abandon_rate']:.1f}/"
                         f"{100 * s['abandon_rate_max']:.1f})")
        opt = opts.get(sc_name)
        g = None
        if opt and "progressive" in sums and "predictive" in sums:
            g = gap_closure(sums["predictive"]["busy"], sums["progressive"]["busy"],
                            opt["optimum_busy"])
        lines.append(f"| {sc_name} | {seeds} | " + " | ".join(cells) + " | "
                     + (f"{opt['optimum_occupancy']:.3f}" if opt else "-") + " | "
                     + ("-" if g is None else f"{g:.2f}") + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="20 and 5 agents, hit 0.30, exp talk, "
                    "3 seeds, 2 h")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--agents", default="20,5,100")
    ap.add_argument("--hits", default="0.15,0.30,0.60")
    ap.add_argument("--talks", default=",".join(TALKS))
    ap.add_argument("--add-ons", default="", help=f"comma list of {', '.join(ADD_ONS)}; "
                    "'base' for none")
    ap.add_argument("--add-on-agents", default="5,20,100")
    ap.add_argument("--policies", default=",".join(POLICY_NAMES))
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--out", type=Path, default=Path("bench_pacing.jsonl"))
    ap.add_argument("--markdown", type=Path, default=None)
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--compact", type=Path, default=None,
                    help="also write the one-row-per-scenario table here")
    args = ap.parse_args()
    workers = max(1, min(2, args.workers))
    policies = args.policies.split(",")
    if args.quick:
        scenarios = grid(agents=(20, 5), hits=(0.30,), talks=("exp180",), hours=2.0)
        seeds = 3
    else:
        agents = [int(x) for x in args.agents.split(",")]
        hits = [float(x) for x in args.hits.split(",")]
        talks = args.talks.split(",")
        scenarios = grid(agents=agents, hits=hits, talks=talks, hours=args.hours)
        adds = [a for a in args.add_ons.split(",") if a and a != "base"]
        if adds:
            scenarios += grid(agents=[int(x) for x in args.add_on_agents.split(",")],
                              hits=(0.30,), talks=("exp180",), add_ons=adds, hours=args.hours)
        seeds = args.seeds
    if not args.report_only:
        run_grid(scenarios, policies, seeds, args.out, workers)
    md = report(args.out, policies)
    if args.markdown:
        args.markdown.write_text(md)
    if args.compact:
        args.compact.write_text(compact(args.out, policies))
    print(md)


if __name__ == "__main__":
    main()
