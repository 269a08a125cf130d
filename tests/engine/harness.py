"""End-to-end harness: a campaign in a real PostgreSQL, the PBX simulator on a real socket,
and engines connected to both."""

from __future__ import annotations

import asyncio
import csv
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg

from ami.client import ClientConfig
from ami.simulator import PbxSimulator, SimConfig
from dialer.campaigns import service as campaign_service
from dialer.campaigns.definition import parse_definition
from dialer.contacts.importer import ImportOptions, import_contacts
from dialer.db.database import Database
from dialer.engine.engine import Engine, EngineConfig
from dialer.engine.ports import EngineObserver
from pacing.world import Duration, WorldModel

FAST_WORLD = WorldModel(
    human_rate=0.5, machine_rate=0.0, busy_rate=0.1, congestion_rate=0.05, invalid_rate=0.0,
    talk=Duration.exponential(40.0), wrap=Duration.fixed(5.0), patience=Duration.exponential(60.0),
)
EVERY_DAY = ["00:00-24:00"]
WEEK = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def definition(name: str = "c1", agents: int | list[str] = 3, **extra: Any) -> Any:
    data: dict[str, Any] = {
        "name": name,
        "caller_id": '"Test" <+12025550100>',
        "regulation": "none",
        "dial_mode": "progressive",
        "dial_template": "Local/{number}@sim-pstn",
        "ring_timeout_s": 25,
        "agents": [str(1001 + i) for i in range(agents)] if isinstance(agents, int) else agents,
        "windows": {day: EVERY_DAY for day in WEEK},
        "retry": {"max_attempts": 1, "max_attempts_per_day": 1, "min_gap_min": 0},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return parse_definition(data)


async def make_campaign(
    url: str, tmp: Path, numbers: list[str], *, start: bool = True,
    record_zone: str | None = None, **extra: Any
) -> str:
    """A campaign with `numbers` as its contacts; with `record_zone`, every contact record
    carries that time zone (imported as the record's own zone)."""
    db = Database(url)
    try:
        d = definition(**extra)
        await campaign_service.apply(db, d, "test")
        path = tmp / f"{d.name}.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["phone", "timezone", "name"])
            for i, number in enumerate(numbers):
                writer.writerow([number, record_zone or "America/New_York", f"Contact {i}"])
        options = ImportOptions(workers=1, timezone_column="timezone" if record_zone else None)
        await import_contacts(db, d.name, path, options)
        if start:
            for command in ("approve", "start"):
                await campaign_service.change_state(db, d.name, command, "test")
        return str(d.name)
    finally:
        await db.close()


def numbers(count: int, area: str = "212") -> list[str]:
    """Valid fictional NANP numbers, 100 per area code."""
    areas = [area, "213", "312", "415", "617", "303", "206", "214", "602", "808"]
    out = []
    for i in range(count):
        out.append(f"+1{areas[(i // 100) % len(areas)]}55501{i % 100:02d}")
    return out


def sim_config(agents: int = 3, queues: tuple[str, ...] = ("c1",), **extra: Any) -> SimConfig:
    return SimConfig(world=extra.pop("world", FAST_WORLD), seed=extra.pop("seed", 5),
                     time_scale=extra.pop("time_scale", 40.0), agents=agents, queues=queues,
                     auto_create_queues=True, member_ready_delay=0.5, **extra)


def engine_for(url: str, sim: PbxSimulator, engine_id: str = "e1", observer: EngineObserver | None = None,
               **extra: Any) -> Engine:
    config = EngineConfig(
        engine_id=engine_id, database_url=url,
        ami=ClientConfig(port=sim.port, username="dialer", secret="dialer", ping_interval=1.0,
                         reconnect_min=0.1, reconnect_max=0.5),
        tick_s=0.2, heartbeat_s=0.5, drain_timeout_s=extra.pop("drain_timeout_s", 30.0),
        disposition_timeout_s=extra.pop("disposition_timeout_s", 2.0), **extra,
    )
    return Engine(config, observer)


async def wait_for(predicate: Callable[[], Any], within: float, what: str, step: float = 0.1) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(step)
    raise AssertionError(f"timed out after {within:g}s waiting for {what}")


async def fetch(url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def fetchval(url: str, query: str, *args: Any) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def change_campaign_state(url: str, name: str, command: str) -> None:
    """What `dialer campaign <command> <name>` does (pause, resume, stop...)."""
    db = Database(url)
    try:
        await campaign_service.change_state(db, name, command, "test")
    finally:
        await db.close()


async def campaign_state(url: str, name: str) -> str:
    return str(await fetchval(url, "SELECT state FROM campaigns WHERE name = $1", name))


async def assert_no_overlapping_attempts(url: str) -> None:
    """No contact was ever dialled twice at once: its attempts never overlap in time."""
    overlaps = await fetchval(
        url,
        "SELECT count(*) FROM call_attempts a JOIN call_attempts b"
        " ON a.contact_id = b.contact_id AND a.id < b.id"
        " AND a.originated_at < coalesce(b.ended_at, 'infinity')"
        " AND b.originated_at < coalesce(a.ended_at, 'infinity')",
    )
    assert overlaps == 0, f"{overlaps} pairs of attempts overlap for the same contact"
