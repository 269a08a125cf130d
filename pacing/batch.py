"""Playing many shifts over worker processes, each row kept as soon as it is played.

The benchmark scripts that read the sampled-scenario results back (`scripts/
bench_tuned_frontier.py`, `scripts/bench_predictive_ab.py`) play hundreds of 4-hour shifts;
a row is appended to their JSON-lines file the moment its shift ends, so an interrupted run
resumes where it stopped (the caller leaves out the tasks whose rows are there).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, TypeVar

Task = TypeVar("Task")


def play_all(play: Callable[[Task], dict[str, Any]], tasks: Sequence[Task], out: Path,
             workers: int, every: int = 20) -> list[dict[str, Any]]:
    """Run `play` on every task in `workers` processes (`play` must be a module-level
    function); append each row to `out` as it finishes and return the rows in that order.
    Prints progress every `every` shifts."""
    rows: list[dict[str, Any]] = []
    t0 = time.time()
    with ProcessPoolExecutor(max_workers=workers) as pool, out.open("a") as fh:
        futures = [pool.submit(play, t) for t in tasks]
        for i, fut in enumerate(as_completed(futures), 1):
            row = fut.result()
            rows.append(row)
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            if i % every == 0 or i == len(futures):
                print(f"  {i}/{len(futures)} shifts, {time.time() - t0:.0f} s", flush=True)
    return rows
