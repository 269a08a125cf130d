"""`dialer dnc ...`: do-not-call lists."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.table import Table

from dialer.cli.common import console, fail, file_progress, parse_when, run, who, with_database
from dialer.contacts import dnc as dnc_service
from dialer.db.database import Database

dnc_app = typer.Typer(help="Do-not-call lists (global, or per campaign).", no_args_is_help=True)

_CAMPAIGN = typer.Option(None, "--campaign", help="campaign list (default: the global list)")
_REGION = typer.Option(
    None, "--default-region",
    help="region for numbers without +country code (default: the campaign's default_region; global list: US)",
)


def _expiry(value: str | None) -> datetime | None:
    return parse_when("--expires", value)


@dnc_app.command("add")
def add(
    number: str,
    campaign: str = _CAMPAIGN,
    reason: str = typer.Option(None, "--reason"),
    expires: str = typer.Option(None, "--expires", help="ISO date-time with zone; default never"),
    default_region: str = _REGION,
) -> None:
    """Add a number; contacts with it stop being dialled at once."""
    expires_at = _expiry(expires)

    async def main(db: Database) -> tuple[str, bool]:
        return await dnc_service.add(
            db, number, campaign=campaign, source="cli", reason=reason, by=who(),
            expires_at=expires_at, region=default_region.upper() if default_region else None,
        )

    e164, new = run(lambda: with_database(main))
    scope = campaign or "global"
    console.print(f"{e164} {'added to' if new else 'was already on'} the {scope} do-not-call list")


@dnc_app.command("remove")
def remove(number: str, campaign: str = _CAMPAIGN, default_region: str = _REGION) -> None:
    """Remove a number from a list."""

    async def main(db: Database) -> tuple[str, int]:
        return await dnc_service.remove(db, number, campaign=campaign, region=default_region.upper() if default_region else None)

    e164, removed = run(lambda: with_database(main))
    scope = campaign or "global"
    if not removed:
        fail(f"{e164} is not on the {scope} do-not-call list")
    console.print(f"{e164} removed from the {scope} do-not-call list")


@dnc_app.command("check")
def check(number: str, campaign: str = _CAMPAIGN, default_region: str = _REGION) -> None:
    """Show the lists a number is on (for --campaign: those that block it); exit code 3 when listed."""

    async def main(db: Database) -> tuple[str, list[dnc_service.DncMatch]]:
        return await dnc_service.check(db, number, campaign=campaign, region=default_region.upper() if default_region else None)

    e164, matches = run(lambda: with_database(main))
    if not matches:
        console.print(f"{e164} is not on any do-not-call list{' for ' + campaign if campaign else ''}")
        return
    table = Table("scope", "source", "reason", "added (UTC)", "expires")
    for match in matches:
        table.add_row(
            match.scope, match.source, match.reason or "",
            match.added_at.strftime("%Y-%m-%d %H:%M"),
            match.expires_at.strftime("%Y-%m-%d %H:%M") if match.expires_at else "never",
        )
    console.print(f"{e164} is BLOCKED")
    console.print(table)
    raise typer.Exit(3)


@dnc_app.command("import")
def import_(
    file: Path,
    campaign: str = _CAMPAIGN,
    source: str = typer.Option("registry", "--source", help="registry, cli, import, ..."),
    reason: str = typer.Option(None, "--reason"),
    column: str = typer.Option(None, "--column", help="CSV column with the number (default: first)"),
    expires: str = typer.Option(None, "--expires"),
    default_region: str = _REGION,
    encoding: str = typer.Option("auto", "--encoding"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
) -> None:
    """Bulk-load a registry file (millions of numbers), all or nothing."""
    expires_at = _expiry(expires)
    with file_progress(f"loading {file.name}", enabled=not quiet) as progress:

        async def main(db: Database) -> dnc_service.DncImportReport:
            return await dnc_service.import_registry(
                db, file, campaign=campaign, source=source, reason=reason, by=who(),
                expires_at=expires_at, region=default_region.upper() if default_region else None, column=column,
                encoding=encoding, progress=progress,
            )

        report = run(lambda: with_database(main))
    console.print(
        f"{report.lines_read:,} numbers read: {report.added:,} added, {report.already_listed:,} already listed,"
        f" {report.rejected:,} rejected, in {report.seconds:.1f}s"
    )
    if report.rejects_path:
        console.print(f"rejected lines, with the reason for each: {report.rejects_path}")


def register(app: typer.Typer) -> None:
    app.add_typer(dnc_app, name="dnc")
