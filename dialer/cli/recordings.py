"""`dialer recordings purge`: delete recordings kept longer than their campaign's retention."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dialer.cli.common import console, err_console, fail, run, with_database
from dialer.db.database import Database
from dialer.errors import UserError
from dialer.outputs.recordings import PurgeReport, parse_path_prefix, purge_recordings

recordings_app = typer.Typer(help="Call recordings.", no_args_is_help=True)


@recordings_app.command("purge")
def purge(
    campaign: str = typer.Option(None, "--campaign", help="only this campaign"),
    dry_run: bool = typer.Option(False, "--dry-run", help="count what would be deleted, delete nothing"),
    path_prefix: str = typer.Option(
        None, "--path-prefix",
        help="ASTERISK_PATH=LOCAL_PATH when the recordings are mounted elsewhere here",
    ),
) -> None:
    """Delete recordings past their campaign's `recording_retention_days` (run it daily where
    the files are); the attempts keep their path and get `recording_purged_at`."""
    try:
        prefix = parse_path_prefix(path_prefix)
    except UserError as exc:
        fail(str(exc))
    progress = Progress(TextColumn("[bold]recordings"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=err_console, transient=True)
    task = progress.add_task("purge", total=None)

    async def main(db: Database) -> PurgeReport:
        with progress:
            return await purge_recordings(
                db, campaign=campaign, dry_run=dry_run, path_prefix=prefix,
                on_total=lambda total: progress.update(task, total=total),
                on_file=lambda: progress.advance(task),
            )

    report = run(lambda: with_database(main))
    verb = "would delete" if dry_run else "deleted"
    for item in report.campaigns:
        if item.problem is not None:
            err_console.print(f"[yellow]{item.campaign}: skipped, {item.problem}[/]")
        elif item.retention_days is None:
            console.print(f"{item.campaign}: no retention set, recordings kept")
        else:
            line = (f"{item.campaign}: kept {item.retention_days} days; {verb} {item.deleted:,} recordings "
                    f"({item.deleted_bytes / 1e6:,.1f} MB)")
            if item.missing:
                line += f", {item.missing:,} already missing"
            if item.failed:
                line += f", [red]{item.failed:,} could not be deleted (see the log; tried again next time)[/]"
            console.print(line)
    if report.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(recordings_app, name="recordings")
