#!/usr/bin/env python3
"""Benchmark: one engine process against the PBX simulator at 50 originations/s.

The simulator runs in its own process (`dialer sim-pbx`), so the CPU measured here is
the engine's alone: AMI parsing, call tracking, pacing, PostgreSQL writes.

Scenario: a ratio campaign (dial level 5) with 100 agents logged in; most calls ring to
the 10 s ring timeout (no answer) and some are busy, so with 500 calls in flight the
engine must place about 50 calls per second to keep the level. Reports the origination
rate, calls in flight, and engine CPU seconds per wall second over the steady window.

    .venv/bin/python scripts/bench_engine.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import os
import resource
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

from ami.client import ClientConfig
from dialer.campaigns import service as campaign_service
from dialer.campaigns.definition import parse_definition
from dialer.contacts.importer import ImportOptions, import_contacts
from dialer.db import migrate
from dialer.db.database import Database
from dialer.engine.engine import Engine, EngineConfig


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> None:
    server = args.database_url
    name = f"bench_engine_{uuid.uuid4().hex[:6]}"
    await admin(server, f"CREATE DATABASE {name}")
    url = server.rsplit("/", 1)[0] + f"/{name}"
    port = free_port()
    sim = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dialer.cli.main", "sim-pbx", "--port", str(port), "--agents", str(args.agents),
        "--queue", "load", "--human-rate", "0", "--machine-rate", "0", "--busy-rate", "0.1",
        "--congestion-rate", "0", "--invalid-rate", "0", "--seed", "3",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        db = Database(url)
        definition = parse_definition({
            "name": "load", "caller_id": "+12025550100", "regulation": "none", "dial_mode": "ratio",
            "dial_template": "Local/{number}@sim-pstn", "ring_timeout_s": args.ring,
            "agents": [str(1001 + i) for i in range(args.agents)],
            "pacing": {"dial_level": args.level, "dial_level_max": args.level, "max_calls_in_flight": 1000},
            "windows": {d: ["00:00-24:00"] for d in ("monday", "tuesday", "wednesday", "thursday",
                                                     "friday", "saturday", "sunday")},
            "retry": {"max_attempts": 1, "max_attempts_per_day": 1, "min_gap_min": 0},
        })
        await campaign_service.apply(db, definition, "bench")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "load.csv"
            with path.open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["phone"])
                for i in range(args.contacts):
                    writer.writerow([f"+1{212 + (i // 800_000)}{200 + (i // 10_000) % 800}{i % 10_000:04d}"])
            await import_contacts(db, "load", path, ImportOptions())
        for command in ("approve", "start"):
            await campaign_service.change_state(db, "load", command, "bench")
        await db.close()
        await asyncio.sleep(1.0)  # the simulator is listening by now
        engine = Engine(EngineConfig(
            engine_id="bench", database_url=url,
            ami=ClientConfig(port=port, username="dialer", secret="dialer"), drain_timeout_s=30,
        ))
        task = asyncio.create_task(engine.run())
        await asyncio.sleep(args.warmup)
        runner = next(iter(engine.runners.values()))
        cpu0, wall0, orig0 = cpu_seconds(), time.monotonic(), runner.stats.originated
        peak = 0
        samples = []
        while time.monotonic() - wall0 < args.seconds:
            await asyncio.sleep(0.5)
            peak = max(peak, len(engine.calls))
            samples.append(len(engine.calls))
        cpu1, wall1, orig1 = cpu_seconds(), time.monotonic(), runner.stats.originated
        engine.request_stop()
        await task
        rate = (orig1 - orig0) / (wall1 - wall0)
        print(f"originations: {rate:.1f}/s over {wall1 - wall0:.0f}s steady state ({orig1:,} in all)")
        print(f"calls in flight: mean {sum(samples) / len(samples):.0f}, peak {peak}")
        print(f"engine CPU: {(cpu1 - cpu0) / (wall1 - wall0):.2f} cores (user+sys of this process)")
        left_open = await asyncpg.connect(url)
        try:
            opened = await left_open.fetchval("SELECT count(*) FROM call_attempts WHERE ended_at IS NULL")
            total = await left_open.fetchval("SELECT count(*) FROM call_attempts")
        finally:
            await left_open.close()
        print(f"attempts recorded: {total:,}, left open after shutdown: {opened}")
    finally:
        sim.terminate()
        with contextlib.suppress(Exception):
            await sim.wait()
        await admin(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DIALER_TEST_DATABASE_URL",
                                                                  "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--level", type=float, default=5.0)
    parser.add_argument("--ring", type=int, default=10, help="ring timeout, seconds")
    parser.add_argument("--contacts", type=int, default=8000)
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(parser.parse_args()))
