"""Daily, weekly and monthly figures per campaign and per agent, computed in SQL.

Definitions (README "Reports" repeats them for operators):

* period: an attempt belongs to the period in which it was placed
  (`originated_at`, or `created_at` when it was never originated), in the report's time
  zone; daily = that calendar day, weekly = Monday to Sunday, monthly = calendar month.
* attempts: call_attempts rows in the period.
* connects: attempts connected to an agent (`connected_at` set). connect rate =
  connects ÷ attempts.
* success: the attempt's disposition is a success code of its campaign: the
  dispositions with `success = true` in the campaign's settings when it defines its own
  set, else the default set (where `success` is the success code). success rate =
  successes ÷ connects.
* abandon rate = abandoned ÷ human-answered, where abandoned = outcome `abandoned` or
  `opt_out` (the opt-out key is only offered on abandoned calls) and human-answered =
  `answered`, `abandoned`, `queue_hangup`, `opt_out`. (The regulation's own figure, over
  its rolling window with late connects, is on the dashboard, not here.)
* talk time = ended_at − connected_at; wrap-up = wrapup_ended_at − ended_at; both
  averaged over connected attempts that have them.
* logged-in time: agent_sessions clipped to the period (an open session counts up to
  now). A campaign's logged-in time is that of the agents who took at least one of its
  calls in the period (an agent on two campaigns counts in both).
* attempts per agent-hour = attempts ÷ logged-in hours (for an agent: the calls he got).
* occupancy = talk time ÷ logged-in time.
* recorded calls: attempts with a recording (`recording_path` set); recorded minutes =
  the sum of their recorded seconds (from the recording's start, right after MixMonitor,
  to the call's end) ÷ 60. For an agent: the recorded calls he took.

Rates whose denominator is zero are None (shown as "–", empty in CSV).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Literal, TextIO

from sqlalchemy import text

from compliance.outcomes import DEFAULT_DISPOSITIONS, HUMAN_ANSWERED, Outcome
from dialer.db.database import Database
from dialer.errors import UserError, unknown_campaign
from dialer.outputs import queries

PeriodKind = Literal["daily", "weekly", "monthly"]
PERIOD_KINDS: tuple[PeriodKind, ...] = ("daily", "weekly", "monthly")

DEFAULT_SUCCESS_CODES = [d.code for d in DEFAULT_DISPOSITIONS if d.flags.success]
HUMAN_OUTCOMES = sorted(o.value for o in HUMAN_ANSWERED)
ABANDON_OUTCOMES = sorted([Outcome.ABANDONED.value, Outcome.OPT_OUT.value])


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    start: datetime  # inclusive, aware
    end: datetime  # exclusive, aware
    label: str


def period_for(kind: PeriodKind, day: date, zone: tzinfo = UTC) -> Period:
    """The day, Monday-to-Sunday week or calendar month containing `day`, in `zone`."""
    if kind == "daily":
        first, last = day, day + timedelta(days=1)
        label = day.isoformat()
    elif kind == "weekly":
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=7)
        iso = first.isocalendar()
        label = f"{iso.year}-W{iso.week:02d} ({first.isoformat()}..{(last - timedelta(days=1)).isoformat()})"
    elif kind == "monthly":
        first = day.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1)
        label = first.strftime("%Y-%m")
    else:
        raise ValueError(f"unknown period {kind!r}")
    return Period(
        kind, datetime.combine(first, time(), zone), datetime.combine(last, time(), zone), label
    )


def default_day(kind: PeriodKind, today: date) -> date:
    """A day in the last complete period: yesterday, last week, last month."""
    if kind == "daily":
        return today - timedelta(days=1)
    if kind == "weekly":
        return today - timedelta(days=7)
    return today.replace(day=1) - timedelta(days=1)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


@dataclass(frozen=True)
class ReportRow:
    """One line of a report: a campaign or an agent over the period."""

    scope: Literal["campaign", "agent"]
    name: str
    agent_name: str | None
    attempts: int
    connects: int
    successes: int
    human_answered: int
    abandoned: int
    talk_seconds: float
    avg_talk_seconds: float | None
    avg_wrapup_seconds: float | None
    logged_in_seconds: float
    recorded_calls: int = 0
    recorded_seconds: float = 0.0

    @property
    def recorded_minutes(self) -> float:
        return self.recorded_seconds / 60

    @property
    def connect_rate(self) -> float | None:
        return _ratio(self.connects, self.attempts)

    @property
    def success_rate(self) -> float | None:
        return _ratio(self.successes, self.connects)

    @property
    def abandon_rate(self) -> float | None:
        return _ratio(self.abandoned, self.human_answered)

    @property
    def agent_hours(self) -> float:
        return self.logged_in_seconds / 3600

    @property
    def attempts_per_agent_hour(self) -> float | None:
        return _ratio(self.attempts, self.agent_hours)

    @property
    def occupancy(self) -> float | None:
        return _ratio(self.talk_seconds, self.logged_in_seconds)

    @classmethod
    def from_mapping(cls, scope: Literal["campaign", "agent"], row: Mapping[Any, Any]) -> ReportRow:
        return cls(
            scope=scope,
            name=str(row["name"]),
            agent_name=row["agent_name"],
            attempts=int(row["attempts"]),
            connects=int(row["connects"]),
            successes=int(row["successes"]),
            human_answered=int(row["human_answered"]),
            abandoned=int(row["abandoned"]),
            talk_seconds=float(row["talk_seconds"]),
            avg_talk_seconds=row["avg_talk_seconds"],
            avg_wrapup_seconds=row["avg_wrapup_seconds"],
            logged_in_seconds=float(row["logged_in_seconds"]),
            recorded_calls=int(row["recorded_calls"]),
            recorded_seconds=float(row["recorded_seconds"]),
        )


@dataclass(frozen=True)
class Report:
    period: Period
    campaign: str | None
    campaigns: list[ReportRow]
    agents: list[ReportRow]


async def build_report(
    db: Database,
    kind: PeriodKind,
    day: date,
    *,
    zone: tzinfo = UTC,
    campaign: str | None = None,
    now: datetime | None = None,
) -> Report:
    """The report for the period of `kind` containing `day` (in `zone`)."""
    period = period_for(kind, day, zone)
    params = {
        "start": period.start,
        "end": period.end,
        "now": now or datetime.now(UTC),
        "campaign": campaign,
        "default_success": DEFAULT_SUCCESS_CODES,
        "human": HUMAN_OUTCOMES,
        "abandon": ABANDON_OUTCOMES,
    }
    async with db.engine.connect() as conn:
        if campaign is not None:
            found = (await conn.execute(text(queries.CAMPAIGN_EXISTS), {"campaign": campaign})).first()
            if found is None:
                raise UserError(unknown_campaign(campaign))
        campaigns = (await conn.execute(text(queries.CAMPAIGN_REPORT), params)).mappings().all()
        agents = (await conn.execute(text(queries.AGENT_REPORT), params)).mappings().all()
    return Report(
        period,
        campaign,
        [ReportRow.from_mapping("campaign", r) for r in campaigns],
        [ReportRow.from_mapping("agent", r) for r in agents],
    )


# ---------------------------------------------------------------------------------------
# Output

CSV_COLUMNS = (
    "period", "period_start", "period_end", "scope", "name", "agent_name",
    "attempts", "connects", "connect_rate", "successes", "success_rate",
    "human_answered", "abandoned", "abandon_rate", "avg_talk_s", "avg_wrapup_s",
    "agent_hours", "attempts_per_agent_hour", "occupancy", "recorded_calls", "recorded_minutes",
)


def _num(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def csv_rows(report: Report) -> Iterable[list[str]]:
    p = report.period
    for row in [*report.campaigns, *report.agents]:
        yield [
            p.kind, p.start.isoformat(), p.end.isoformat(), row.scope, row.name, row.agent_name or "",
            str(row.attempts), str(row.connects), _num(row.connect_rate, 4),
            str(row.successes), _num(row.success_rate, 4),
            str(row.human_answered), str(row.abandoned), _num(row.abandon_rate, 4),
            _num(row.avg_talk_seconds, 1), _num(row.avg_wrapup_seconds, 1),
            _num(row.agent_hours, 2), _num(row.attempts_per_agent_hour, 1), _num(row.occupancy, 4),
            str(row.recorded_calls), _num(row.recorded_minutes, 1),
        ]


def write_csv(report: Report, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_rows(report))
