"""`dialer demo` runs the product as meant: a real regulation profile, contacts inside their
calling window, predictive pacing, and a live view that shows all of it."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from compliance.numbers import normalise
from dialer.demo.data import plan_demo, write_demo_contacts
from dialer.demo.run import DemoOptions, run_demo
from dialer.outputs.pacing_view import REASON_TEXT
from dialer.settings import Settings
from tests.engine.harness import fetch


def _contacts(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_demo_contacts_are_callable_now_under_a_capped_profile(tmp_path: Path) -> None:
    plan = plan_demo(20, contacts=300, minutes=5)
    profile = plan.rules.profile
    assert plan.regulation in ("us", "uk") and plan.definition.regulation == plan.regulation
    assert profile.abandon_cap == 0.03, "the demo runs under a real cap, not the none profile's 100 %"
    assert plan.definition.dial_mode == "predictive"
    assert plan.definition.pacing.abandon_target < profile.abandon_cap
    path = tmp_path / "contacts.csv"
    assert write_demo_contacts(path, plan) == plan.contacts > 0
    rows = _contacts(path)
    now, end = datetime.now(UTC), datetime.now(UTC) + timedelta(minutes=5)
    rules = plan.rules
    for row in rows:
        number = normalise(row["phone"])
        zones = rules.zones(row["timezone"], number)
        window = rules.window(number)
        assert window.is_callable(zones, now), f"{row['timezone']} is outside its window now"
        closes = window.closes_at(zones, now)
        assert closes is not None and closes >= end, f"{row['timezone']} closes during the demo"
    assert len({r["phone"] for r in rows}) == len(rows)


def test_the_plan_follows_the_clock() -> None:
    # 15:00 UTC in July: morning on the US east coast, 05:00 in Honolulu.
    plan = plan_demo(20, contacts=300, minutes=5, now=datetime(2026, 7, 15, 15, 0, tzinfo=UTC))
    assert plan.regulation == "us" and not plan.notes
    places = {w.range.place for w in plan.windows if w.open}
    assert "New York" in places and "Honolulu" not in places
    # 00:30 UTC: 20:30 in New York (open until 21:00) but Florida's own hours end at 20:00.
    late = plan_demo(20, contacts=300, minutes=5, now=datetime(2026, 7, 15, 0, 30, tzinfo=UTC))
    places = {w.range.place for w in late.windows if w.open}
    assert "New York" in places and "Miami (FL)" not in places
    # 11:30 UTC: night from Puerto Rico to Hawaii, 21:30 on Guam: no US zone is open; the UK is.
    uk = plan_demo(20, contacts=300, minutes=5, now=datetime(2026, 7, 15, 11, 30, tzinfo=UTC))
    assert uk.regulation == "uk" and uk.rules.profile.abandon_cap == 0.03
    assert "no US zone is inside its calling window" in uk.notes[0] and "UK profile instead" in uk.notes[0]
    # 08:00 UTC: only Guam and Saipan are open: fewer contacts, and the view says so.
    few = plan_demo(20, contacts=300, minutes=5, now=datetime(2026, 7, 15, 8, 0, tzinfo=UTC))
    assert few.regulation == "us" and few.contacts == 200
    assert {w.range.place for w in few.windows if w.open} == {"Guam", "Saipan"}
    assert "only 200 fictional numbers" in few.notes[0]


async def test_demo_runs_under_the_profile_and_shows_it(database_url: str) -> None:
    out = io.StringIO()
    console = Console(file=out, width=220, highlight=False)
    settings = Settings(database_url=database_url, metrics_port=0, engine_id="demo-test")
    options = DemoOptions(agents=6, contacts=60, minutes=0.5, time_scale=40.0, seed=3)
    await run_demo(settings, database_url, options, console)
    text = out.getvalue()
    campaign = (await fetch(database_url, "SELECT name, regulation, dial_mode FROM campaigns"))[0]
    assert campaign["regulation"] in ("us", "uk") and campaign["dial_mode"] == "predictive"
    assert "cap 100%" not in text
    assert re.search(r"abandon cap 3% of live answers over (30 days|24 h)", text), text
    ledger = re.search(r"(\d+) live answers, (\d+) abandoned: rate \d+\.\d\d% vs cap 3%; headroom \d+", text)
    assert ledger and int(ledger[1]) > 0, text
    level = re.search(r"dial level\s*│\s*(\d+\.\d\d) ([^│(]+)", text)
    assert level and level[2].strip() in REASON_TEXT.values(), text
    assert re.search(r"contacts left: \d+ inside their window now, 0 outside", text), text
    # Every call went to a contact inside its window, by the profile's own rules.
    attempts = await fetch(database_url, "SELECT count(*) AS n FROM call_attempts")
    assert attempts[0]["n"] > 0
    assert "refused at dial for the window" in text and re.search(r" 0 refused at dial for the window", text)
