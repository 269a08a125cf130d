"""Sample data for `dialer demo`: a campaign under a real regulation profile, and contacts
whose local time is inside that profile's calling window when the demo starts.

Numbers come from ranges reserved for fiction (NANP 555-0100..0199 in every area code,
Ofcom's drama ranges), so a demo pointed at a real trunk by mistake still reaches nobody.

Which profile and which zones: `plan_demo` looks at the current UTC time. The US profile
(TCPA: 08:00-21:00 in the contact's local time, stricter hours in some states, a 3 % cap of
live answers over 30 days) is the default; only the zones that stay open for the whole demo
get contacts. When no US zone is open (about 11:00-12:00 UTC, when it is night from Puerto
Rico to Hawaii and already late on Guam) the UK profile (Ofcom: 3 % over 24 h) with UK
numbers takes over, and the plan's notes say why. Only if neither is open anywhere would the
demo fall back to the `none` profile, and say so.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dialer.campaigns.definition import CampaignDefinition, parse_definition
from dialer.engine.rules import CampaignRules

FIRST = ["Ann", "Bob", "Chloé", "Dmitri", "Eve", "Farid", "Grace", "Hiro", "Ines", "José", "Kim", "Li Wei"]
LAST = ["Smith", "Müller", "García", "Nguyen", "O'Brien", "Kowalski", "Okafor", "Tanaka", "Rossi"]

DEMO_CAMPAIGN = "demo"
PROFILES = ("us", "uk")  # in order of preference: both cap abandonment at 3 % and have windows
WEEK = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# A zone gets contacts only if it stays open this long after the demo's planned end: retries
# and callbacks come a minute or so after the first attempt.
MARGIN = timedelta(minutes=10)


@dataclass(frozen=True)
class NumberRange:
    """A block of fictional numbers in one place: `prefix` + `digits` digits."""

    prefix: str
    digits: int
    place: str
    zone: str

    @property
    def size(self) -> int:
        return 10 ** self.digits

    def number(self, index: int) -> str:
        return f"{self.prefix}{index:0{self.digits}d}"


def _nanp(area: str, place: str, zone: str) -> NumberRange:
    return NumberRange(f"+1{area}55501", 2, place, zone)  # 555-0100..0199


# Mainland US in every zone (some states with their own, stricter hours), Alaska, Hawaii and
# the territories whose clocks reach the hours the mainland is asleep.
US_RANGES = (
    _nanp("212", "New York", "America/New_York"),
    _nanp("617", "Boston", "America/New_York"),
    _nanp("305", "Miami (FL)", "America/New_York"),
    _nanp("404", "Atlanta", "America/New_York"),
    _nanp("787", "San Juan (PR)", "America/Puerto_Rico"),
    _nanp("340", "St Thomas (VI)", "America/St_Thomas"),
    _nanp("312", "Chicago", "America/Chicago"),
    _nanp("214", "Dallas (TX)", "America/Chicago"),
    _nanp("612", "Minneapolis", "America/Chicago"),
    _nanp("303", "Denver", "America/Denver"),
    _nanp("602", "Phoenix", "America/Phoenix"),
    _nanp("213", "Los Angeles", "America/Los_Angeles"),
    _nanp("415", "San Francisco", "America/Los_Angeles"),
    _nanp("702", "Las Vegas", "America/Los_Angeles"),
    _nanp("907", "Anchorage", "America/Anchorage"),
    _nanp("808", "Honolulu", "Pacific/Honolulu"),
    _nanp("671", "Guam", "Pacific/Guam"),
    _nanp("670", "Saipan", "Pacific/Saipan"),
)
# Ofcom's drama ranges (1,000 numbers each).
UK_RANGES = (
    NumberRange("+442079460", 3, "London", "Europe/London"),
    NumberRange("+441134960", 3, "Leeds", "Europe/London"),
    NumberRange("+441214960", 3, "Birmingham", "Europe/London"),
    NumberRange("+441614960", 3, "Manchester", "Europe/London"),
    NumberRange("+441314960", 3, "Edinburgh", "Europe/London"),
    NumberRange("+442920180", 3, "Cardiff", "Europe/London"),
)
RANGES = {"us": US_RANGES, "uk": UK_RANGES, "none": US_RANGES}
CALLER_ID = {"us": '"Dialer Demo" <+12025550100>', "uk": '"Dialer Demo" <+448081570999>',
             "none": '"Dialer Demo" <+12025550100>'}


def demo_definition(agents: int, *, dial_mode: str = "predictive", regulation: str = "us") -> CampaignDefinition:
    """The demo campaign. Under a real profile its windows and cap are the profile's own;
    under `none` (the last resort) the windows are open all day."""
    data: dict[str, Any] = {
        "name": DEMO_CAMPAIGN,
        "description": f"Demo campaign on the PBX simulator under the {regulation} profile",
        "dial_mode": dial_mode,
        "regulation": regulation,
        "queue": DEMO_CAMPAIGN,
        "caller_id": CALLER_ID[regulation],
        "dial_template": "Local/{number}@sim-pstn",
        "ring_timeout_s": 25,
        "connect_timeout_s": 2,
        "pilot_limit": 50,
        "agents": [str(1001 + i) for i in range(agents)],
        "script": "Hello {first_name}, this is the dialer demo calling about your renewal.",
        # Retry delays are wall-clock minutes (the simulator's time scale does not apply).
        "retry": {
            "max_attempts": 2,
            "max_attempts_per_day": 2,
            "min_gap_min": 0.25,
            "rules": {
                "no_answer": {"delays_min": [0.25], "max": 2},
                "busy": {"delays_min": [0.25], "max": 2},
                "congestion": {"delays_min": [0.25], "max": 2},
            },
        },
    }
    if regulation == "none":
        data["windows"] = {day: ["00:00-24:00"] for day in WEEK}
    return parse_definition(data, "demo campaign")


@dataclass(frozen=True)
class RangeWindow:
    """A number range under the campaign's rules at the demo's start."""

    range: NumberRange
    open: bool
    local: datetime  # the place's local time
    closes_at: datetime | None  # when its window closes (open ones)
    opens_at: datetime | None  # when it opens next (closed ones)


@dataclass(frozen=True)
class DemoPlan:
    """The profile, the campaign and the number ranges a demo starting at `at` uses."""

    regulation: str
    definition: CampaignDefinition
    at: datetime
    windows: tuple[RangeWindow, ...]  # every range of the profile's country
    contacts: int  # how many contacts to write (capped by the open ranges' size)
    notes: tuple[str, ...]  # what was chosen and why, for the live view

    @property
    def open_ranges(self) -> tuple[NumberRange, ...]:
        return tuple(w.range for w in self.windows if w.open)

    @property
    def rules(self) -> CampaignRules:
        return CampaignRules(self.definition)


def _windows(rules: CampaignRules, ranges: tuple[NumberRange, ...], now: datetime,
             until: datetime) -> tuple[RangeWindow, ...]:
    out = []
    for block in ranges:
        number = block.number(0)  # state hours go by area code: one number speaks for its block
        zones = rules.zones(block.zone, number)
        window = rules.window(number)
        closes = window.closes_at(zones, now) if window.is_callable(zones, now) else None
        out.append(RangeWindow(
            block, closes is not None and closes >= until, now.astimezone(ZoneInfo(block.zone)),
            closes, None if closes is not None else window.next_open(zones, now),
        ))
    return tuple(out)


def hours_text(definition: CampaignDefinition) -> str:
    """The profile's calling hours in a few words ("08:00-21:00 local time every day")."""
    profile = CampaignRules(definition).profile
    weekly = profile.window.weekly
    days = {",".join(str(s) for s in spans) or "closed" for spans in weekly.days}
    text = f"{days.pop()} local time every day" if len(days) == 1 else f"local time {weekly}"
    return text + (", stricter in some states" if profile.state_hours else "")


def plan_demo(agents: int, *, contacts: int, minutes: float, dial_mode: str = "predictive",
              now: datetime | None = None) -> DemoPlan:
    """The first profile of `PROFILES` with a zone open now for the whole demo, and contacts
    in its open zones only (see the module docstring)."""
    now = now or datetime.now(UTC)
    until = now + timedelta(minutes=minutes) + MARGIN
    wanted = min(contacts, 2000)
    clock = f"{now:%H:%M} UTC"
    notes: list[str] = []
    for regulation in PROFILES:
        definition = demo_definition(agents, dial_mode=dial_mode, regulation=regulation)
        windows = _windows(CampaignRules(definition), RANGES[regulation], now, until)
        capacity = sum(w.range.size for w in windows if w.open)
        if capacity == 0:
            notes.append(f"at {clock} no {regulation.upper()} zone is inside its calling window for the whole"
                         f" demo ({regulation.upper()} calls {hours_text(definition)})")
            continue
        if notes:
            notes[-1] += f": the demo runs under the {regulation.upper()} profile instead"
        if capacity < wanted:
            notes.append(f"only {capacity} fictional numbers are in zones open now: {capacity} contacts, not {wanted}")
        return DemoPlan(regulation, definition, now, windows, min(wanted, capacity), tuple(notes))
    # Nowhere open: say so, and show the product without windows rather than not at all.
    definition = demo_definition(agents, dial_mode=dial_mode, regulation="none")
    windows = _windows(CampaignRules(definition), RANGES["none"], now, until)
    notes.append("so the demo runs under the none profile: no abandon cap, no calling windows")
    size = sum(w.range.size for w in windows)
    return DemoPlan("none", definition, now, windows, min(wanted, size), tuple(notes))


def write_demo_contacts(path: Path, plan: DemoPlan, seed: int = 1) -> int:
    """Write a CSV of the plan's contacts, spread over its open ranges; returns how many."""
    rng = random.Random(seed)
    ranges = plan.open_ranges
    rows = []
    for index in range(plan.contacts):
        block = ranges[index % len(ranges)]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        number = block.number(index // len(ranges))
        rows.append([first, last, number, block.zone, rng.choice(["gold", "silver", "bronze"])])
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["first_name", "last_name", "phone", "timezone", "tier"])
        writer.writerows(rows)
    return len(rows)
