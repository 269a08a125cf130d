"""`dialer attempts export`: every attempt, for CRMs and auditors."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import typer

from dialer.cli.common import err_console, fail, run, with_database
from dialer.db.database import Database
from dialer.export import export_attempts

attempts_app = typer.Typer(help="Call attempts.", no_args_is_help=True)


@attempts_app.command("export")
def export(
    campaign: str = typer.Option(None, "--campaign", help="only this campaign"),
    since: str = typer.Option(None, "--since", help="ISO date or date-time (UTC when no zone)"),
    fmt: str = typer.Option("csv", "--format", help="csv or jsonl"),
    output: Path = typer.Option(None, "--output", "-o", help="file (default: standard output)"),
) -> None:
    """Export one row per attempt; times in UTC ISO 8601."""
    if fmt not in ("csv", "jsonl"):
        fail(f"--format {fmt!r}: use csv or jsonl")
    since_at = None
    if since is not None:
        try:
            since_at = datetime.fromisoformat(since)
        except ValueError:
            fail(f"--since {since!r} is not an ISO date or date-time")
        if since_at.tzinfo is None:
            since_at = since_at.replace(tzinfo=UTC)
    out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout

    async def main(db: Database) -> int:
        return await export_attempts(db, out, fmt=fmt, campaign=campaign, since=since_at)

    try:
        count = run(lambda: with_database(main))
    finally:
        if output:
            out.close()
    if output:
        err_console.print(f"{count:,} attempts written to {output}")


def register(app: typer.Typer) -> None:
    app.add_typer(attempts_app, name="attempts")
