"""`dialer attempts export`: every attempt, for CRMs and auditors."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from dialer.cli.common import err_console, fail, parse_when, run, with_database
from dialer.db.database import Database
from dialer.outputs.export import export_attempts

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
    since_at = parse_when("--since", since, assume_utc=True)
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
