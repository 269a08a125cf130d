"""`dialer demo`: the whole product on one machine with no settings.

Embedded PostgreSQL (or the configured one), the PBX simulator time-scaled, a predictive
campaign under a real regulation profile (US; UK when the US zones are asleep: see
`dialer.demo.data.plan_demo`) with sample contacts in the zones where calling is allowed
now, simulated agents who disposition their calls, the engine with its metrics endpoint,
and a live view of the cap, the abandonment ledger, the calling windows and the pacing
decision. Ends with a summary and where to look next.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from sqlalchemy import text

from ami.client import ClientConfig
from ami.simulator import PbxSimulator, SimConfig
from compliance.outcomes import Outcome
from dialer.agents.dispositions import DispositionError, record_disposition
from dialer.campaigns import service as campaign_service
from dialer.contacts.importer import ImportOptions, import_contacts
from dialer.db import migrate
from dialer.db.database import Database
from dialer.demo import queries
from dialer.demo.data import DemoPlan, hours_text, plan_demo, write_demo_contacts
from dialer.engine.call_life import ClosedCall
from dialer.engine.engine import Engine, EngineConfig
from dialer.outputs.observers import EngineEvents
from dialer.outputs.pacing_view import dial_level_text
from dialer.settings import Settings
from pacing.world import WorldModel

# What the simulated agents answer, with weights.
# (No "hesitating": its retry is days away, and the demo list should finish.)
DEMO_DISPOSITIONS = [("success", 3), ("not_interested", 4), ("callback", 1), ("refused", 1)]


@dataclass
class DemoOptions:
    agents: int = 20
    contacts: int = 300
    minutes: float = 5.0
    time_scale: float = 20.0
    seed: int = 7
    dial_mode: str = "predictive"


class DemoEvents(EngineEvents):
    """Metrics as in production, plus simulated agents who disposition their calls (through
    `db`, as `dialer disposition` does)."""

    def __init__(self, engine: Engine, db: Database, metrics: Any, rng: random.Random, time_scale: float) -> None:
        super().__init__(metrics, None)
        self.engine = engine
        self.db = db
        self.rng = rng
        self.time_scale = time_scale
        self.dispositions = 0

    def closed(self, closed: ClosedCall) -> None:
        super().closed(closed)
        if closed.outcome is Outcome.ANSWERED:
            self.engine.spawn(self._disposition(closed))

    async def _disposition(self, closed: ClosedCall) -> None:
        await asyncio.sleep(10.0 / self.time_scale)  # the agent's after-call work
        codes, weights = zip(*DEMO_DISPOSITIONS, strict=True)
        code = self.rng.choices(codes, weights)[0]
        callback_at = None
        if code == "callback":
            callback_at = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
        for _ in range(20):  # the close may still be in the writer's batch
            try:
                async with self.db.transaction() as tx:
                    await record_disposition(
                        tx, uuid.UUID(closed.call.attempt_id), code, agent_id=closed.call.agent_id,
                        callback_at=callback_at, by=f"demo agent {closed.call.agent_id}",
                    )
                self.dispositions += 1
                return
            except DispositionError as exc:
                if exc.code != "not_allowed":
                    return
                await asyncio.sleep(0.2)


async def prepare(db_url: str, options: DemoOptions, workdir: Path, console: Console) -> tuple[str, DemoPlan]:
    await asyncio.to_thread(migrate.upgrade, db_url)
    console.print("[bold]1.[/] database schema is up to date")
    db = Database(db_url)
    try:
        async with db.transaction() as tx:
            rows = (await tx.execute(text(queries.DEMO_CAMPAIGNS))).mappings().all()
        taken = {r["name"] for r in rows}
        for row in rows:  # an earlier demo that was interrupted must not dial along
            if row["state"] in ("draft", "approved", "pilot", "running", "paused"):
                await campaign_service.change_state(db, row["name"], "stop", "demo", "a new demo started")
    finally:
        await db.close()
    # A fresh campaign each run: demo, demo-2, demo-3... (short names make good metric labels)
    name = next(n for n in ("demo", *(f"demo-{i}" for i in range(2, 10_000))) if n not in taken)
    plan = plan_demo(options.agents, contacts=options.contacts, minutes=options.minutes,
                     dial_mode=options.dial_mode)
    definition = plan.definition.model_copy(update={"name": name, "queue": name})
    plan = replace(plan, definition=definition)
    db = Database(db_url)
    try:
        await campaign_service.apply(db, definition, "demo")
        csv_path = workdir / "demo-contacts.csv"
        written = write_demo_contacts(csv_path, plan, seed=options.seed)
        report = await import_contacts(db, name, csv_path, ImportOptions(workers=1, imported_by="demo"))
        profile = plan.rules.profile
        console.print(
            f"[bold]2.[/] campaign [cyan]{name}[/] ({definition.dial_mode}, {options.agents} agents) under the"
            f" [bold]{plan.regulation.upper()}[/] profile: abandon cap {profile.abandon_cap:.0%},"
            f" calls {hours_text(definition)}"
        )
        places = ", ".join(w.range.place for w in plan.windows if w.open)
        rejected = ", ".join(f"{n} {why}" for why, n in sorted(report.reasons.items()))
        console.print(f"   {report.imported:,} of {written:,} sample contacts imported, in places open at"
                      f" {plan.at:%H:%M} UTC: {places}"
                      # e.g. numbers an earlier demo's agents put on the (US: global) DNC list
                      + (f" (not imported: {rejected})" if rejected else ""))
        for note in plan.notes:
            console.print(f"   [yellow]note:[/] {note}")
        for command in ("approve", "start"):
            await campaign_service.change_state(db, name, command, "demo")
        console.print("[bold]3.[/] campaign approved and started")
    finally:
        await db.close()
    return name, plan


async def run_demo(settings: Settings, db_url: str, options: DemoOptions, console: Console) -> None:
    with tempfile.TemporaryDirectory(prefix="dialer-demo-") as tmp:
        name, plan = await prepare(db_url, options, Path(tmp), console)
    world = WorldModel(human_rate=0.30, machine_rate=0.0, busy_rate=0.08, congestion_rate=0.02,
                       invalid_rate=0.02)
    sim_config = SimConfig(world=world, seed=options.seed, time_scale=options.time_scale,
                           agents=options.agents, queues=(name,), auto_create_queues=True,
                           member_ready_delay=1.0)
    async with PbxSimulator(sim_config) as sim:
        console.print(f"[bold]4.[/] PBX simulator on 127.0.0.1:{sim.port} ({options.time_scale:g}x time)")
        config = EngineConfig(
            engine_id=f"{settings.engine_id}-demo", database_url=db_url,
            ami=ClientConfig(port=sim.port, username=sim_config.username, secret=sim_config.secret),
            disposition_timeout_s=30.0, drain_timeout_s=60.0,
        )
        engine = Engine(config)
        metrics = None
        if settings.metrics_port:
            from dialer.outputs.metrics import DialerMetrics

            metrics = DialerMetrics()
        dispositions_db = Database(db_url, pool_size=2)
        events = DemoEvents(engine, dispositions_db, metrics, random.Random(options.seed), options.time_scale)
        engine.observer = events
        port = None
        if metrics is not None:
            try:
                port = await metrics.start(settings.metrics_port, host="127.0.0.1")
            except OSError:
                port = await metrics.start(0, host="127.0.0.1")
        console.print(
            "[bold]5.[/] engine running"
            + (f"; metrics on http://127.0.0.1:{port}/metrics" if port else "")
        )
        task = asyncio.ensure_future(engine.run())
        deadline = time.monotonic() + options.minutes * 60
        windows = WindowCounts(db_url, name, plan)
        last: dict[str, Any] = {}
        try:
            with Live(live_table(engine.status(), name, options, plan, windows), console=console,
                      refresh_per_second=2) as live:
                while time.monotonic() < deadline and not task.done():
                    await asyncio.sleep(0.5)
                    await windows.refresh()
                    status = engine.status()
                    live.update(live_table(status, name, options, plan, windows))
                    last = status["campaigns"].get(name) or last
                    if last.get("state") == "completed":
                        break
        finally:
            await windows.close()
        engine.request_stop()
        await task
        await dispositions_db.close()
        await _stop_unless_finished(db_url, name)
        if metrics is not None:
            await metrics.stop()
        console.print(f"\nsimulator saw {sim.stats.originates} Originate actions")
    await summary(db_url, name, events.dispositions, console, last)


async def _stop_unless_finished(db_url: str, name: str) -> None:
    """The demo is over: a list it did not finish stops, so no later engine dials it."""
    db = Database(db_url)
    try:
        campaign = await campaign_service.get(db, name)
        if campaign.state.value not in ("completed", "stopped"):
            await campaign_service.change_state(db, name, "stop", "demo", "demo time is up")
    finally:
        await db.close()


class WindowCounts:
    """How many of the campaign's contacts left to dial are inside their calling window now,
    by the campaign's own rules (refreshed every few seconds from the database)."""

    EVERY_S = 3.0

    def __init__(self, db_url: str, name: str, plan: DemoPlan) -> None:
        self.db = Database(db_url)
        self.name = name
        self.rules = plan.rules
        self.callable = 0
        self.outside = 0
        self.checked = False
        self._at = 0.0

    async def refresh(self) -> None:
        if time.monotonic() - self._at < self.EVERY_S:
            return
        self._at = time.monotonic()
        async with self.db.transaction() as tx:
            rows = (await tx.execute(text(queries.DIALABLE_CONTACTS), {"name": self.name})).mappings().all()
        now = datetime.now(UTC)
        inside = sum(1 for r in rows if self.rules.window(r["number"]).is_callable(
            self.rules.zones(r["timezone"], r["number"]), now))
        self.callable, self.outside, self.checked = inside, len(rows) - inside, True

    async def close(self) -> None:
        await self.db.close()


def _until(instant: datetime | None, now: datetime) -> str:
    if instant is None:
        return "?"
    minutes = max(0, int((instant - now).total_seconds() // 60))
    return f"{minutes // 60}h {minutes % 60:02d}m"


def live_table(status: dict[str, Any], name: str, options: DemoOptions, plan: DemoPlan,
               windows: WindowCounts | None = None) -> Table:
    """The demo's live view: engine, calls, the profile's cap and ledger, windows, pacing."""
    info = status["campaigns"].get(name, {})
    profile = plan.rules.profile
    cap = float(info.get("abandon_cap", profile.abandon_cap))
    window_h = float(info.get("abandon_window_h", profile.abandonment.window.total_seconds() / 3600))
    table = Table(title=f"campaign {name} — live (simulated time runs {options.time_scale:g}x)")
    table.add_column("")
    table.add_column("")
    table.add_row("state", str(info.get("state", "starting")))
    table.add_row("AMI", "connected" if status["ami_connected"] else "down")
    table.add_row("agents", ", ".join(f"{k} {v}" for k, v in sorted(status["agents"].items())) or "-")
    table.add_row("calls", ", ".join(f"{k} {v}" for k, v in sorted(info.get("calls", {}).items())) or "-")
    table.add_row("originated", str(info.get("originated", 0)))
    details = info.get("pacing_details") or {}
    shown = ", ".join(f"{k} {v}" for k, v in details.items() if k in ("theta", "confidence", "budget"))
    table.add_row("dial level", dial_level_text(info.get("dial_level"), info.get("pacing_reason"))
                  + (f"  [dim]({shown})[/]" if shown else ""))
    window_text = f"{window_h / 24:g} days" if window_h >= 48 else f"{window_h:g} h"
    table.add_row("profile", f"{plan.regulation.upper()}: abandon cap {cap:.0%} of live answers over {window_text};"
                  f" campaign target {plan.definition.pacing.abandon_target:.1%}")
    answers, abandons = info.get("abandon_answers", 0), info.get("abandons", 0)
    headroom = info.get("abandon_headroom", 0)
    table.add_row("abandon ledger", f"{answers:g} live answers, {abandons:g} abandoned: rate"
                  f" {info.get('abandon_rate', 0):.2%} vs cap {cap:.0%};"
                  f" headroom {headroom} more abandon{'' if headroom == 1 else 's'}")
    now = datetime.now(UTC)
    opened = [w for w in plan.windows if w.open]
    closing = min((w.closes_at for w in opened if w.closes_at), default=None)
    places = ", ".join(f"{w.range.place} {w.local:%H:%M}" for w in opened)
    counts = (f"contacts left: {windows.callable} inside their window now, {windows.outside} outside"
              if windows is not None and windows.checked else "counting contacts...")
    refused = (info.get("refused") or {}).get("outside_window", 0)
    table.add_row("windows", f"{hours_text(plan.definition)}; {counts};"
                  f" {refused} refused at dial for the window\n"
                  f"open at start: {places or '-'}"
                  + (f" (first closes in {_until(closing, now)})" if closing else ""))
    for note in plan.notes:
        table.add_row("[yellow]note[/]", note)
    table.add_row("hopper", str(info.get("hopper", 0)))
    return table


async def summary(db_url: str, name: str, dispositions: int, console: Console,
                  last: dict[str, Any] | None = None) -> None:
    db = Database(db_url)
    try:
        async with db.transaction() as tx:
            rows = (await tx.execute(text(queries.OUTCOME_COUNTS), {"name": name})).mappings().all()
            totals = (await tx.execute(text(queries.ATTEMPT_TOTALS), {"name": name})).mappings().one()
            state = (await tx.execute(text(queries.CAMPAIGN_STATE), {"name": name})).scalar()
    finally:
        await db.close()
    table = Table("outcome", "attempts", title="summary")
    for row in rows:
        table.add_row(row["outcome"] or "(open)", str(row["n"]))
    console.print(table)
    attempts = totals["attempts"] or 0
    connects = totals["connects"] or 0
    console.print(
        f"{attempts} attempts, {connects} connected to an agent"
        f" ({connects / attempts:.0%} connect rate)" if attempts else "no attempts were made"
    )
    console.print(f"{dispositions} dispositions given by the simulated agents; {totals['open']} attempts open")
    if last:
        console.print(
            f"abandonment ({last.get('profile', '?')} profile): {last.get('abandons', 0):g} of"
            f" {last.get('abandon_answers', 0):g} live answers, {last.get('abandon_rate', 0):.2%}"
            f" against a cap of {last.get('abandon_cap', 0):.0%}"
        )
    console.print(f"campaign {name} is [bold]{state}[/]")
    console.print("\n[bold]Where to look next[/]")
    console.print(f"  dialer attempts export --campaign {name} --format csv -o attempts.csv")
    console.print(f"  dialer campaign show {name}")
    console.print("  dialer status")
    console.print("  dialer simulate --agents 20 --hit-rate 0.3   (pacing what-if)")
