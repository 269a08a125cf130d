#!/usr/bin/env python3
"""Pacing on sampled scenarios: every policy on many drawn floors, against a reference.

    .venv/bin/python scripts/bench_pacing_sampler.py --quick            # a few minutes
    nohup .venv/bin/python scripts/bench_pacing_sampler.py --scenarios 200 --seeds 5 \\
        --out bench_sampler.jsonl --markdown bench_sampler.md &         # the full sample
    .venv/bin/python scripts/bench_pacing_sampler.py --report-only --out bench_sampler.jsonl
    .venv/bin/python scripts/bench_pacing_sampler.py --only s017 --policies predictive \\
        --out bench_sampler.jsonl                                       # re-run one scenario

Scenarios come from `pacing.sampler.sample_scenarios(--scenarios, --sample-seed,
--hours)`; each policy plays each scenario on seeds 1..--seeds (common random numbers:
the k-th call meets the same customer and the agents keep the same schedule under every
policy). Each scenario also gets a reference optimum (`pacing.reference`, labelled with
the approximations it needed). Rows go to a JSON-lines file as they finish; a re-run
skips the rows already there, so an interrupted run resumes. `--only NAME` (a full name
or its index, e.g. s017; repeatable) runs only those scenarios and replaces their rows of
the chosen policies (the reference is kept). The markdown report is built from the file.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pacing.bench import RunSpec, run_one  # noqa: E402
from pacing.policies import POLICY_NAMES  # noqa: E402
from pacing.reference import reference_for  # noqa: E402
from pacing.sampler import SampledScenario, sample_scenarios  # noqa: E402
from pacing.sampler_report import markdown  # noqa: E402
from pacing.simulator import Scenario  # noqa: E402

QUICK = {"scenarios": 6, "seeds": 2, "hours": 1.0}


def _opt_task(sc: Scenario, params: dict[str, Any]) -> dict[str, Any]:
    row = reference_for(sc).as_row()
    row["agents"] = sc.agents
    row["params"] = params
    return row


def _run_task(spec: RunSpec) -> dict[str, Any]:
    t = time.time()
    row = run_one(spec)
    row["seconds"] = time.time() - t
    row["agents"] = spec.scenario.agents
    row["kind"] = "run"
    return row


def load(path: Path) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]],
                              list[dict[str, Any]]]:
    """(run rows, optimum rows by scenario, meta rows) of a results file."""
    runs: list[dict[str, Any]] = []
    opts: dict[str, dict[str, Any]] = {}
    metas: list[dict[str, Any]] = []
    if path.exists():
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            obj = json.loads(line)
            kind = obj.get("kind", "run")
            if kind == "optimum":
                opts[obj["scenario"]] = obj
            elif kind == "meta":
                metas.append(obj)
            else:
                runs.append(obj)
    return runs, opts, metas


def check_meta(metas: list[dict[str, Any]], sample_seed: int, hours: float, path: Path) -> None:
    for m in metas:
        if m.get("sample_seed") != sample_seed or float(m.get("hours", -1)) != hours:
            raise SystemExit(
                f"{path} holds the sample seed {m.get('sample_seed')} with {m.get('hours')} h "
                f"shifts, not {sample_seed} with {hours} h: use another --out")


def select(scenarios: list[SampledScenario], only: list[str]) -> list[SampledScenario]:
    """The scenarios named by --only (a full name or its index part, e.g. s017)."""
    if not only:
        return scenarios
    got = [s for s in scenarios if s.name in only or s.name.split("-", 1)[0] in only]
    if not got:
        raise SystemExit(f"no sampled scenario matches {', '.join(only)}")
    return got


def drop_rows(path: Path, scenarios: set[str], policies: set[str]) -> int:
    """Rewrite the file without the run rows of these scenarios and policies."""
    if not path.exists():
        return 0
    keep, dropped = [], 0
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        if (obj.get("kind", "run") == "run" and obj.get("scenario") in scenarios
                and obj.get("policy") in policies):
            dropped += 1
            continue
        keep.append(line)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("".join(x + "\n" for x in keep))
    tmp.replace(path)
    return dropped


def run(scenarios: list[SampledScenario], policies: list[str], seeds: int, out: Path,
        workers: int, meta: dict[str, Any]) -> None:
    runs, opts, _ = load(out)
    done = {(r["scenario"], r["policy"], int(r["seed"])) for r in runs}
    # Biggest teams first: their shifts and optima are the longest, so the pool ends even.
    order = sorted(scenarios, key=lambda s: -s.agents)
    opt_tasks = [s for s in order if s.name not in opts]
    tasks = [RunSpec(s.scenario, p, k) for s in order for p in policies
             for k in range(1, seeds + 1) if (s.name, p, k) not in done]
    total = len(tasks) + len(opt_tasks)
    print(f"{len(scenarios)} scenarios x {len(policies)} policies x {seeds} seeds: "
          f"{total} tasks to do ({len(opt_tasks)} references), {len(done)} runs already "
          f"in {out}; {workers} workers", flush=True)
    t0 = time.time()
    finished = 0
    last_print = 0.0
    with ProcessPoolExecutor(max_workers=workers) as pool, out.open("a") as fh:
        futs: list[Future[dict[str, Any]]] = [
            pool.submit(_opt_task, s.scenario, s.params) for s in opt_tasks]
        futs += [pool.submit(_run_task, spec) for spec in tasks]
        for fut in as_completed(futs):
            row = fut.result()
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            finished += 1
            now = time.time()
            if now - last_print >= 10.0 or finished == total:
                last_print = now
                el = now - t0
                eta = el / finished * (total - finished)
                what = (f"{row['scenario']} reference {row['label']}" if row.get("kind") ==
                        "optimum" else f"{row['scenario']} {row['policy']} seed {row['seed']}")
                print(f"[{finished}/{total}] {el / 60:.1f} min, about {eta / 60:.0f} min "
                      f"left; last: {what} ({row.get('seconds', 0.0):.1f} s)", flush=True)
        if total:
            meta = {**meta, "tasks": total, "wall_s": time.time() - t0,
                    "finished": time.time()}
            fh.write(json.dumps(meta) + "\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenarios", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--hours", type=float, default=4.0)
    ap.add_argument("--sample-seed", type=int, default=11)
    ap.add_argument("--policies", default=",".join(POLICY_NAMES))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("bench_pacing_sampler.jsonl"))
    ap.add_argument("--markdown", type=Path, default=None)
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--quick", action="store_true",
                    help=f"{QUICK['scenarios']} scenarios, {QUICK['seeds']} seeds, "
                    f"{QUICK['hours']:g} h shifts")
    ap.add_argument("--only", action="append", default=[],
                    help="a scenario name or its index (s017); repeatable")
    args = ap.parse_args(argv)
    if args.quick:
        args.scenarios, args.seeds, args.hours = (QUICK["scenarios"], QUICK["seeds"],
                                                  QUICK["hours"])
    policies = [p for p in args.policies.split(",") if p]
    unknown = [p for p in policies if p not in POLICY_NAMES]
    if unknown:
        raise SystemExit(f"unknown policies {', '.join(unknown)}; known: "
                         f"{', '.join(POLICY_NAMES)}")
    runs, opts, metas = load(args.out)
    if not args.report_only:
        check_meta(metas, args.sample_seed, args.hours, args.out)
        scenarios = select(sample_scenarios(args.scenarios, args.sample_seed, args.hours),
                           args.only)
        if args.only:
            n = drop_rows(args.out, {s.name for s in scenarios}, set(policies))
            print(f"--only: dropped {n} earlier rows of {', '.join(s.name for s in scenarios)}",
                  flush=True)
        meta = {
            "kind": "meta", "sample_seed": args.sample_seed, "hours": args.hours,
            "scenarios": args.scenarios, "seeds": args.seeds, "policies": policies,
            "workers": args.workers, "only": args.only, "started": time.time(),
            "command": shlex.join(["scripts/bench_pacing_sampler.py",
                                   *(sys.argv[1:] if argv is None else argv)]),
        }
        run(scenarios, policies, args.seeds, args.out, max(1, args.workers), meta)
        runs, opts, metas = load(args.out)
    md = markdown(runs, opts, metas, list(POLICY_NAMES))
    if args.markdown:
        args.markdown.write_text(md)
    print(md)


if __name__ == "__main__":
    main()
