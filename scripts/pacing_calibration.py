#!/usr/bin/env python3
"""Hold a pacing trace against what happened: is the predictive model calibrated?

    .venv/bin/dialer simulate --agents 150 --hit-rate 0.12 --talk-mean 240 --wrap-mean 30 \
        --hours 1 -p predictive --trace /tmp/trace.jsonl
    .venv/bin/python scripts/pacing_calibration.py /tmp/trace.jsonl

At each tick the predictive policy states `expected_lost`: the abandons it expects, over
the next `horizon_s` seconds, from the calls in flight and the ones it places. This script
counts the abandons that actually happened in that span and compares the two means,
overall, by decision reason and by hour; and it compares the hit rate the policy believed
with the answers per dial of the whole trace. A ratio far from 1 is a model that cannot
be trusted to spend the abandon budget unless the policy's feedback corrects it; a ratio
that swings from hour to hour is worse than a steady one, which the feedback absorbs.
"""

from __future__ import annotations

import argparse
import bisect
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any


def load(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                print(f"{path}:{number}: not JSON, skipped ({exc.msg})", file=sys.stderr)
    return rows


def calibration(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Predicted and realised abandons per tick that made a prediction, grouped."""
    times = [float(r["t"]) for r in rows]
    abandons = [int(r["abandons"]) for r in rows]
    groups: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for r in rows:
        if "expected_lost" not in r:
            continue
        end = float(r["t"]) + float(r.get("horizon_s", 26.0))
        j = bisect.bisect_left(times, end)
        if j >= len(rows):
            break  # the trace ends inside this horizon
        pair = (float(r["expected_lost"]), abandons[j] - int(r["abandons"]))
        groups["all"].append(pair)
        groups[f"reason {r['reason']}"].append(pair)
        groups[f"hour {int(float(r['t']) // 3600) + 1}"].append(pair)
    out: dict[str, Any] = {}
    for name, pairs in groups.items():
        predicted = sum(p for p, _ in pairs) / len(pairs)
        realised = sum(a for _, a in pairs) / len(pairs)
        out[name] = {"ticks": len(pairs), "predicted": predicted, "realised": realised,
                     "ratio": realised / predicted if predicted > 0 else None}
    dials = sum(int(r["calls"]) for r in rows)
    believed = [float(r["hit_rate"]) for r in rows if "hit_rate" in r]
    out["hit_rate"] = {
        "believed_mean": sum(believed) / len(believed) if believed else None,
        "answers_per_dial": int(rows[-1]["answers"]) / dials if dials and rows else None,
    }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trace", type=Path, help="a file written by `dialer simulate --trace`")
    args = parser.parse_args(argv)
    if not args.trace.is_file():
        print(f"error: no trace file at {args.trace}", file=sys.stderr)
        return 2
    rows = load(args.trace)
    if not rows:
        print(f"error: {args.trace} holds no ticks", file=sys.stderr)
        return 2
    result = calibration(rows)
    print(f"{'group':<28} {'ticks':>6} {'expected lost':>14} {'abandoned':>10} {'ratio':>6}")
    for name, g in sorted(result.items(), key=lambda kv: (kv[0] != "all", kv[0])):
        if name == "hit_rate":
            continue
        ratio = "-" if g["ratio"] is None else f"{g['ratio']:.2f}"
        print(f"{name:<28} {g['ticks']:>6} {g['predicted']:>14.3f} {g['realised']:>10.3f} {ratio:>6}")
    hit = result["hit_rate"]
    if hit["believed_mean"] is not None and hit["answers_per_dial"] is not None:
        print(f"hit rate believed (mean over ticks) {hit['believed_mean']:.3f}; "
              f"answers per dial over the trace {hit['answers_per_dial']:.3f}")
    if "all" not in result:
        print("no tick made a prediction (the policy never left progressive pacing)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
