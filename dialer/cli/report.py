"""`dialer report daily|weekly|monthly`: the figures ops staff read every morning."""

from __future__ import annotations

import sys
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.table import Table

from dialer.cli.common import console, fail, run, with_database
from dialer.db.database import Database
from dialer.outputs.reports import (
    PeriodKind,
    Report,
    ReportRow,
    build_report,
    default_day,
    write_csv,
)

report_app = typer.Typer(
    help="Reports per campaign and per agent (definitions: README, Reports).", no_args_is_help=True
)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _table(title: str, first: str, rows: list[ReportRow]) -> Table:
    table = Table(
        first, "attempts", "connects", "connect rate", "success rate", "abandon rate",
        "avg talk s", "avg wrap-up s", "agent hours", "attempts/agent-h", "occupancy",
        "recorded", "recorded min",
        title=title, title_justify="left",
    )
    for row in rows:
        name = f"{row.name} {row.agent_name}" if row.agent_name else row.name
        table.add_row(
            name, f"{row.attempts:,}", f"{row.connects:,}", _pct(row.connect_rate),
            _pct(row.success_rate), _pct(row.abandon_rate), _num(row.avg_talk_seconds),
            _num(row.avg_wrapup_seconds), _num(row.agent_hours, 2),
            _num(row.attempts_per_agent_hour), _pct(row.occupancy),
            f"{row.recorded_calls:,}", _num(row.recorded_minutes),
        )
    return table


def _show(report: Report, zone: str) -> None:
    p = report.period
    scope = f" campaign {report.campaign}" if report.campaign else ""
    console.print(f"[bold]{p.kind} report {p.label}[/] ({zone}){scope}")
    if not report.campaigns and not report.agents:
        console.print("no attempts and no agent sessions in this period")
        return
    console.print(_table("per campaign", "campaign", report.campaigns))
    console.print(_table("per agent", "agent", report.agents))


def _report(kind: PeriodKind, campaign: str | None, day: str | None, as_csv: bool, tz: str) -> None:
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"--tz {tz!r} is not a known time zone")
    if day is None:
        chosen = default_day(kind, datetime.now(zone).date())
    else:
        try:
            chosen = date.fromisoformat(day)
        except ValueError:
            fail(f"--date {day!r} is not YYYY-MM-DD")

    async def main(db: Database) -> Report:
        return await build_report(db, kind, chosen, zone=zone, campaign=campaign)

    report = run(lambda: with_database(main))
    if as_csv:
        write_csv(report, sys.stdout)
    else:
        _show(report, tz)


_CAMPAIGN = typer.Option(None, "--campaign", help="only this campaign")
_DATE = typer.Option(None, "--date", help="YYYY-MM-DD in the period (default: the last complete one)")
_CSV = typer.Option(False, "--csv", help="CSV on standard output instead of tables")
_TZ = typer.Option("UTC", "--tz", help="time zone of the period boundaries")


@report_app.command("daily")
def daily(campaign: str = _CAMPAIGN, day: str = _DATE, as_csv: bool = _CSV, tz: str = _TZ) -> None:
    """One calendar day (default: yesterday)."""
    _report("daily", campaign, day, as_csv, tz)


@report_app.command("weekly")
def weekly(campaign: str = _CAMPAIGN, day: str = _DATE, as_csv: bool = _CSV, tz: str = _TZ) -> None:
    """Monday to Sunday (default: last week)."""
    _report("weekly", campaign, day, as_csv, tz)


@report_app.command("monthly")
def monthly(campaign: str = _CAMPAIGN, day: str = _DATE, as_csv: bool = _CSV, tz: str = _TZ) -> None:
    """One calendar month (default: last month)."""
    _report("monthly", campaign, day, as_csv, tz)


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
