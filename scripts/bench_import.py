#!/usr/bin/env python3
"""Benchmark: `dialer contacts import` of a large CSV, and `dialer dnc import` of a registry.

Makes the files (realistic mix: national and international formats, 1% bad numbers,
1% duplicates, free fields), creates a scratch database, migrates it, and times the same
code path the CLI runs, end to end (read, normalise, COPY, de-duplicate, insert, commit).

    .venv/bin/python scripts/bench_import.py --rows 1000000 \
        --database-url postgresql://postgres@127.0.0.1:5432/postgres

Without --database-url it uses the embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from dialer.campaigns import service as campaign_service
from dialer.campaigns.definition import parse_definition
from dialer.contacts.dnc import import_registry
from dialer.contacts.importer import ImportOptions, import_contacts
from dialer.db import migrate
from dialer.db.database import Database

AREA_CODES = ["202", "212", "305", "312", "415", "512", "617", "702", "808", "907"]


def make_contacts(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write("first_name,last_name,phone,segment,account\n")
        for i in range(rows):
            area = AREA_CODES[i % len(AREA_CODES)]
            exchange = 200 + (i // 10_000) % 800
            line = i % 10_000
            kind = rng.random()
            if kind < 0.01:
                phone = f"{rng.randint(1, 99999)}"  # bad
            elif kind < 0.02 and i > 0:
                j = rng.randrange(i)
                phone = f"+1{AREA_CODES[j % 10]}{200 + (j // 10_000) % 800:03d}{j % 10_000:04d}"  # duplicate
            elif kind < 0.5:
                phone = f"({area}) {exchange:03d}-{line:04d}"
            else:
                phone = f"+1 {area} {exchange:03d} {line:04d}"
            out.write(f"Name{i},Family{i % 977},{phone},seg{i % 13},A{i:08d}\n")


def make_registry(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for i in range(rows):
            out.write(f"+1{AREA_CODES[i % 10]}{200 + (i // 10_000) % 800:03d}{i % 10_000:04d}\n")


async def admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


async def run(args: argparse.Namespace, workdir: Path) -> None:
    server = args.database_url
    if server is None:
        from dialer.db.connection import start_embedded

        server = start_embedded(workdir / "pg")
    name = f"bench_{uuid.uuid4().hex[:8]}"
    await admin(server, f"CREATE DATABASE {name}")
    url = with_db(server, name)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        db = Database(url)
        await campaign_service.apply(db, parse_definition({"name": "bench", "caller_id": "1"}), "bench")
        contacts = workdir / "contacts.csv"
        started = time.perf_counter()
        make_contacts(contacts, args.rows)
        print(f"made {args.rows:,}-row CSV ({contacts.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f}s")
        report = await import_contacts(db, "bench", contacts, ImportOptions(workers=args.workers))
        print(
            f"contacts import: {report.imported:,} imported, {report.rejected:,} rejected of"
            f" {report.rows_read:,} rows in {report.seconds:.1f}s"
            f" ({report.rows_read / report.seconds:,.0f} rows/s)"
        )
        if args.dnc_rows:
            registry = workdir / "registry.txt"
            make_registry(registry, args.dnc_rows)
            dnc = await import_registry(db, registry, workers=args.workers)
            print(
                f"dnc import: {dnc.added:,} added of {dnc.lines_read:,} lines in {dnc.seconds:.1f}s"
                f" ({dnc.lines_read / dnc.seconds:,.0f} numbers/s)"
            )
        await db.close()
    finally:
        await admin(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dnc-rows", type=int, default=2_000_000)
    parser.add_argument("--workers", type=int, default=0, help="normalisation processes (0: one per CPU)")
    parser.add_argument("--database-url", default=None, help="a server URL; a scratch database is created on it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
