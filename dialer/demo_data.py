"""Sample data for `dialer demo`: a campaign and contacts across time zones.

Numbers come from ranges reserved for fiction (NANP 555-0100..0199, Ofcom's drama
ranges), so a demo pointed at a real trunk by mistake still reaches nobody.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

from dialer.campaigns import CampaignDefinition, parse_definition

# (area code, time zone) across the four mainland US zones and Hawaii.
US_AREAS = [
    ("212", "America/New_York"),
    ("617", "America/New_York"),
    ("312", "America/Chicago"),
    ("214", "America/Chicago"),
    ("303", "America/Denver"),
    ("602", "America/Phoenix"),
    ("213", "America/Los_Angeles"),
    ("415", "America/Los_Angeles"),
    ("206", "America/Los_Angeles"),
    ("808", "Pacific/Honolulu"),
]
FIRST = ["Ann", "Bob", "Chloé", "Dmitri", "Eve", "Farid", "Grace", "Hiro", "Ines", "José", "Kim", "Li Wei"]
LAST = ["Smith", "Müller", "García", "Nguyen", "O'Brien", "Kowalski", "Okafor", "Tanaka", "Rossi"]

DEMO_CAMPAIGN = "demo"


def demo_definition(agents: int, *, dial_mode: str = "predictive") -> CampaignDefinition:
    everyday = ["00:00-24:00"]
    data: dict[str, Any] = {
        "name": DEMO_CAMPAIGN,
        "description": "Demo campaign on the PBX simulator (windows open all day: simulated customers)",
        "dial_mode": dial_mode,
        "regulation": "none",
        "queue": DEMO_CAMPAIGN,
        "caller_id": '"Dialer Demo" <+12025550100>',
        "dial_template": "Local/{number}@sim-pstn",
        "ring_timeout_s": 25,
        "connect_timeout_s": 2,
        "pilot_limit": 50,
        "agents": [str(1001 + i) for i in range(agents)],
        "script": "Hello {first_name}, this is the dialer demo calling about your renewal.",
        "windows": {day: everyday for day in (
            "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
        )},
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
    return parse_definition(data, "demo campaign")


def write_demo_contacts(path: Path, count: int, seed: int = 1) -> int:
    """Write a CSV of `count` contacts (at most 1,000 US + 1,000 UK fictional numbers)."""
    rng = random.Random(seed)
    rows = []
    for index in range(min(count, 2000)):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        if index % 2 == 0 and index // 2 < 1000:
            area, zone = US_AREAS[(index // 2) % len(US_AREAS)]
            number = f"({area}) 555-01{(index // 2) // len(US_AREAS):02d}"
        else:
            number = f"+44 20 7946 0{(index // 2) % 1000:03d}"
            zone = "Europe/London"
        rows.append([first, last, number, zone, rng.choice(["gold", "silver", "bronze"])])
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["first_name", "last_name", "phone", "timezone", "tier"])
        writer.writerows(rows)
    return len(rows)
