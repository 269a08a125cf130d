"""Several campaigns on one floor: abandons and the most calls awaiting an agent.

The real engine, the PBX simulator over TCP and PostgreSQL, as `tests/engine/test_floor.py`
runs them, over several seeds: two progressive campaigns over one pool of 3 agents (60
contacts each), and a predictive pair over 6 agents (150 contacts each, 3 % cap, target 2 %).
Each run gets a scratch database, migrated, dropped after.

    PYTHONPATH=. .venv/bin/python scripts/bench_floor.py \\
        --database-url postgresql://postgres@127.0.0.1:5432/postgres --seeds 3
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from dialer.db import migrate
from tests.engine.harness import make_campaign, numbers, sim_config
from tests.engine.test_floor import abandons, answers, outcomes_by_campaign, run_floor

PREDICTIVE: dict[str, Any] = {"dial_mode": "predictive", "compliance": {"abandon_cap": 0.03},
                              "pacing": {"abandon_target": 0.02}}
SCENARIOS: dict[str, tuple[int, int, dict[str, Any]]] = {
    # name: (agents, contacts per campaign, campaign settings)
    "progressive pair": (3, 60, {}),
    "predictive pair": (6, 150, PREDICTIVE),
}


async def admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


async def one_run(server: str, scenario: str, seed: int, workdir: Path) -> str:
    agents, contacts, settings = SCENARIOS[scenario]
    name = f"bench_floor_{uuid.uuid4().hex[:8]}"
    await admin(server, f"CREATE DATABASE {name}")
    url = with_db(server, name)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        for campaign, area in (("sales", "212"), ("survey", "415")):
            await make_campaign(url, workdir, numbers(contacts, area), name=campaign, agents=agents, **settings)
        watch = await run_floor(url, sim_config(agents=agents, queues=("sales", "survey"), seed=seed),
                                ["sales", "survey"], within=600)
        counts = await outcomes_by_campaign(url)
    finally:
        await admin(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    parts = [f"{c}: {abandons(n)}/{answers(n)} abandoned ({100 * abandons(n) / max(1, answers(n)):.1f} %)"
             for c, n in sorted(counts.items())]
    total = sum(counts.values(), Counter())
    return (f"{scenario}, {agents} agents, seed {seed}: peak in flight {watch.peak}; "
            f"{abandons(total)}/{answers(total)} abandoned; " + "; ".join(parts))


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        for scenario in args.scenario or list(SCENARIOS):
            for seed in range(1, args.seeds + 1):
                workdir = Path(tmp) / f"{scenario.replace(' ', '-')}-{seed}"
                workdir.mkdir()
                print(await one_run(args.database_url, scenario, seed, workdir), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="a PostgreSQL server (scratch databases are made)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS))
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
