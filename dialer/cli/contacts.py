"""`dialer contacts import`: load a CSV into a campaign."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from dialer.cli.common import console, file_progress, run, who, with_database
from dialer.contacts.importer import ImportOptions, ImportReport, import_contacts
from dialer.db.database import Database

contacts_app = typer.Typer(help="Contact lists.", no_args_is_help=True)


@contacts_app.command("import")
def import_(
    campaign: str = typer.Argument(..., help="campaign name"),
    file: Path = typer.Argument(..., help="CSV file with a header row"),
    number_column: str = typer.Option(None, "--number-column", help="column with the phone number (default: guessed)"),
    alt_number_column: list[str] = typer.Option([], "--alt-number-column", help="column with an alternate number (repeatable)"),
    timezone_column: str = typer.Option(None, "--timezone-column", help="column with an IANA time zone"),
    priority_column: str = typer.Option(None, "--priority-column", help="column with a priority (higher first)"),
    default_region: str = typer.Option(
        None, "--default-region",
        help="region for numbers without +country code (default: the campaign's default_region)",
    ),
    encoding: str = typer.Option("auto", "--encoding", help="auto (UTF-8, UTF-8 BOM, GBK/GB18030) or a codec name"),
    delimiter: str = typer.Option(None, "--delimiter", help="field separator (default: sniffed)"),
    rejects: Path = typer.Option(None, "--rejects", help="where rejected rows go (default FILE.rejected.csv)"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
) -> None:
    """Import contacts: E.164 normalisation, de-duplication, rejects CSV; all or nothing."""
    options = ImportOptions(
        number_column=number_column,
        alt_number_columns=tuple(alt_number_column),
        timezone_column=timezone_column,
        priority_column=priority_column,
        default_region=default_region.upper() if default_region else None,
        encoding=encoding,
        delimiter=delimiter,
        rejects_path=rejects,
        imported_by=who(),
    )
    with file_progress(f"importing {file.name}", enabled=not quiet) as progress:

        async def main(db: Database) -> ImportReport:
            return await import_contacts(db, campaign, file, options, progress)

        report = run(lambda: with_database(main))
    print_report(report)


def print_report(report: ImportReport) -> None:
    console.print(
        f"imported {report.imported:,} of {report.rows_read:,} rows into {report.campaign}"
        f" in {report.seconds:.1f}s (encoding {report.encoding}, region {report.default_region})"
    )
    if report.reasons:
        table = Table("rejected because", "rows")
        for reason, count in report.reasons.most_common():
            table.add_row(reason, f"{count:,}")
        console.print(table)
    if report.alt_numbers_dropped:
        console.print(f"{report.alt_numbers_dropped:,} invalid alternate numbers were dropped")
    if report.rejects_path is not None:
        console.print(f"rejected rows, with the reason for each: {report.rejects_path}")


def register(app: typer.Typer) -> None:
    app.add_typer(contacts_app, name="contacts")
