"""Report figures against hand-computed values from inserted rows."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dialer.db.database import Database
from dialer.outputs.reports import ReportRow, build_report, default_day, period_for
from tests.foundation.helpers import Result, dialer
from tests.metrics.rows import add_agent, add_attempt, add_campaign, add_session

DAY = date(2026, 6, 10)
S = timedelta(seconds=1)


def at(hh: int, mm: int, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC)


async def seed(db: Database) -> None:
    sales = await add_campaign(db, "sales")
    # survey has its own dispositions: "completed" is its success; its "success" is not
    survey = await add_campaign(db, "survey", settings={
        "name": "survey", "caller_id": "+15550000000",
        "dispositions": [
            {"code": "completed", "label": "Completed", "success": True},
            {"code": "success", "label": "Not a success here", "success": False},
        ],
    })
    for agent_id, name in (("1001", "Alice Agent"), ("1002", "Bob Agent"), ("1003", "Carol Agent"), ("1004", "Dan")):
        await add_agent(db, agent_id, name)
    await add_session(db, "1001", at(22, 0, date(2026, 6, 9)), at(1, 0))  # 1 h on the 10th
    await add_session(db, "1001", at(8, 0), at(12, 0))
    await add_session(db, "1001", at(13, 0), at(15, 0))
    await add_session(db, "1002", at(9, 0), at(13, 0))
    await add_session(db, "1003", at(10, 0), at(12, 0))  # idle: no calls
    await add_session(db, "1004", at(16, 0), None)  # still logged in ("now" is 18:00)

    async def connected(cid: int, start: datetime, agent: str, talk: int, wrap: int | None, disposition: str) -> None:
        ended = start + 11 * S + talk * S
        await add_attempt(
            db, cid, outcome="answered", originated_at=start, answered_at=start + 10 * S,
            connected_at=start + 11 * S, ended_at=ended,
            wrapup_ended_at=None if wrap is None else ended + wrap * S,
            agent_id=agent, disposition=disposition,
        )

    await connected(sales, at(9, 0), "1001", 180, 30, "success")
    await connected(sales, at(9, 10), "1001", 120, 20, "not_interested")
    await connected(sales, at(9, 20), "1002", 300, 60, "success")
    await add_attempt(db, sales, outcome="no_answer", originated_at=at(9, 30), ended_at=at(9, 31))
    await add_attempt(db, sales, outcome="busy", originated_at=at(9, 40), ended_at=at(9, 40))
    for minute, outcome in ((50, "abandoned"), (55, "opt_out"), (58, "queue_hangup")):
        await add_attempt(db, sales, outcome=outcome, originated_at=at(9, minute),
                          answered_at=at(9, minute) + 10 * S, ended_at=at(9, minute) + 30 * S)
    await add_attempt(db, sales, outcome="machine", originated_at=at(10, 10),
                      answered_at=at(10, 10) + 5 * S, ended_at=at(10, 11))
    await connected(sales, at(23, 59, date(2026, 6, 9)), "1001", 60, 10, "success")  # the day before
    await connected(survey, at(11, 0), "1002", 600, None, "completed")
    await connected(survey, at(11, 30), "1002", 120, 60, "success")


def by_name(rows: list[ReportRow]) -> dict[str, ReportRow]:
    return {r.name: r for r in rows}


NOW = at(18, 0)


async def test_daily_figures(db: Database) -> None:
    await seed(db)
    report = await build_report(db, "daily", DAY, now=NOW)
    campaigns = by_name(report.campaigns)
    assert list(campaigns) == ["sales", "survey"]

    sales = campaigns["sales"]
    assert (sales.attempts, sales.connects, sales.successes) == (9, 3, 2)
    assert sales.connect_rate == pytest.approx(3 / 9)
    assert sales.success_rate == pytest.approx(2 / 3)
    assert (sales.human_answered, sales.abandoned) == (6, 2)  # answered x3, abandoned, opt_out, queue_hangup
    assert sales.abandon_rate == pytest.approx(2 / 6)
    assert sales.avg_talk_seconds == pytest.approx((180 + 120 + 300) / 3)
    assert sales.avg_wrapup_seconds == pytest.approx((30 + 20 + 60) / 3)
    assert sales.agent_hours == pytest.approx(7 + 4)  # 1001: 1 + 4 + 2 h; 1002: 4 h
    assert sales.attempts_per_agent_hour == pytest.approx(9 / 11)
    assert sales.occupancy == pytest.approx(600 / (11 * 3600))

    survey = campaigns["survey"]
    assert (survey.attempts, survey.connects, survey.successes) == (2, 2, 1)
    assert survey.abandon_rate == 0.0
    assert survey.avg_talk_seconds == pytest.approx(360)
    assert survey.avg_wrapup_seconds == pytest.approx(60)  # the unfinished wrap-up is left out
    assert survey.agent_hours == pytest.approx(4)
    assert survey.occupancy == pytest.approx(720 / (4 * 3600))

    agents = by_name(report.agents)
    assert list(agents) == ["1001", "1002", "1003", "1004"]
    alice, bob, carol, dan = agents["1001"], agents["1002"], agents["1003"], agents["1004"]
    assert alice.agent_name == "Alice Agent"
    assert (alice.attempts, alice.connects, alice.successes) == (2, 2, 1)
    assert alice.avg_talk_seconds == pytest.approx(150)
    assert alice.avg_wrapup_seconds == pytest.approx(25)
    assert alice.agent_hours == pytest.approx(7)
    assert alice.attempts_per_agent_hour == pytest.approx(2 / 7)
    assert alice.occupancy == pytest.approx(300 / (7 * 3600))
    assert (bob.attempts, bob.successes) == (3, 2)  # sales success + survey completed
    assert bob.success_rate == pytest.approx(2 / 3)
    assert bob.avg_talk_seconds == pytest.approx(1020 / 3)
    assert bob.avg_wrapup_seconds == pytest.approx(60)
    assert bob.occupancy == pytest.approx(1020 / (4 * 3600))
    assert (carol.attempts, carol.agent_hours, carol.occupancy) == (0, 2, 0.0)
    assert carol.connect_rate is None and carol.success_rate is None
    assert dan.agent_hours == pytest.approx(2)  # open session counted up to now


async def test_weekly_monthly_campaign_filter_and_time_zone(db: Database) -> None:
    await seed(db)
    week = await build_report(db, "weekly", DAY, now=NOW)
    assert week.period.start == datetime(2026, 6, 8, tzinfo=UTC)
    sales = by_name(week.campaigns)["sales"]
    assert (sales.attempts, sales.connects, sales.successes) == (10, 4, 3)
    assert by_name(week.agents)["1001"].agent_hours == pytest.approx(2 + 4 + 2 + 1)

    month = await build_report(db, "monthly", DAY, now=NOW)
    assert month.period.end == datetime(2026, 7, 1, tzinfo=UTC)
    assert by_name(month.campaigns)["sales"].attempts == 10

    only = await build_report(db, "daily", DAY, campaign="survey", now=NOW)
    assert [r.name for r in only.campaigns] == ["survey"]
    assert [(r.name, r.attempts) for r in only.agents] == [("1002", 2)]

    # in Paris (UTC+2) the 10th starts at 22:00 UTC on the 9th: the late call moves in
    paris = await build_report(db, "daily", DAY, zone=ZoneInfo("Europe/Paris"), now=NOW)
    assert by_name(paris.campaigns)["sales"].attempts == 10


async def _record(db: Database, outcome: str, talk_s: int, seconds: float) -> None:
    """Give the sales call of that outcome and talk time on the 10th a recording of `seconds`."""
    async with db.raw_transaction() as conn:
        done = await conn.execute(
            "UPDATE call_attempts SET recording_path = '/rec/' || id || '.wav', recording_seconds = $2"
            " WHERE campaign_id = (SELECT id FROM campaigns WHERE name = 'sales')"
            " AND extract(epoch FROM ended_at - coalesce(connected_at, answered_at)) = $1"
            " AND originated_at >= '2026-06-10' AND outcome = $3", talk_s, seconds, outcome)
        assert done == "UPDATE 1", done


async def test_recorded_calls_and_minutes(db: Database, database_url: str) -> None:
    await seed(db)
    await _record(db, "answered", 180, 191.0)  # alice's first call, recorded from the queue to the end
    await _record(db, "answered", 120, 131.0)  # alice's second
    await _record(db, "abandoned", 20, 20.0)  # the abandoned call: recorded, no agent
    figures = await build_report(db, "daily", DAY, now=NOW)
    sales, survey = by_name(figures.campaigns)["sales"], by_name(figures.campaigns)["survey"]
    assert (sales.recorded_calls, sales.recorded_minutes) == (3, pytest.approx((191 + 131 + 20) / 60))
    assert (survey.recorded_calls, survey.recorded_minutes) == (0, 0.0)
    agents = by_name(figures.agents)
    assert (agents["1001"].recorded_calls, agents["1001"].recorded_minutes) == (2, pytest.approx(322 / 60))
    assert (agents["1002"].recorded_calls, agents["1003"].recorded_calls) == (0, 0)

    result = report(database_url, "daily", "--date", "2026-06-10", "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    row = next(r for r in rows if r["scope"] == "campaign" and r["name"] == "sales")
    assert (row["recorded_calls"], row["recorded_minutes"]) == ("3", "5.7")
    table = report(database_url, "daily", "--date", "2026-06-10")
    assert "recorded" in table.stdout


def test_periods() -> None:
    assert default_day("daily", DAY) == date(2026, 6, 9)
    assert period_for("weekly", default_day("weekly", DAY)).start.date() == date(2026, 6, 1)
    assert period_for("monthly", default_day("monthly", DAY)).label == "2026-05"
    assert period_for("monthly", date(2026, 12, 31)).end == datetime(2027, 1, 1, tzinfo=UTC)


# dialer.settings.load_settings(path) leaves DIALER_SETTINGS_FILE in os.environ (a test in
# tests/foundation points it at a bad file): never inherit it here
CLEAN = {"DIALER_SETTINGS_FILE": ""}


def report(database_url: str, *args: str) -> Result:
    return dialer(database_url, "report", *args, env=CLEAN)


async def test_cli_table_and_csv(db: Database, database_url: str) -> None:
    await seed(db)
    table = report(database_url, "daily", "--date", "2026-06-10")
    assert table.exit_code == 0, table.output
    assert "daily report 2026-06-10" in table.stdout
    assert "sales" in table.stdout and "Alice Agent" in table.stdout and "33.3%" in table.stdout

    result = report(database_url, "daily", "--date", "2026-06-10", "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    sales = next(r for r in rows if r["scope"] == "campaign" and r["name"] == "sales")
    assert sales["attempts"] == "9" and sales["connect_rate"] == "0.3333"
    assert sales["abandon_rate"] == "0.3333" and sales["avg_talk_s"] == "200.0"
    assert sales["agent_hours"] == "11.00" and sales["period_start"] == "2026-06-10T00:00:00+00:00"
    carol = next(r for r in rows if r["scope"] == "agent" and r["name"] == "1003")
    assert carol["connect_rate"] == "" and carol["occupancy"] == "0.0000"

    missing = report(database_url, "weekly", "--campaign", "nope")
    assert missing.exit_code == 1 and "no campaign named 'nope'" in missing.stderr
    bad = report(database_url, "monthly", "--date", "June")
    assert bad.exit_code == 1 and "--date" in bad.stderr


