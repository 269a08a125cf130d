"""The safe window: a contact record's own zone and its number's zones (issue 13).

Under ``intersect`` (the default of us, uk and cn) a contact is callable exactly when the
window is open in its record's zone and in every zone of its number; under ``trust`` (the
default of none, and a campaign setting) exactly when it is open in the record's zone.
Checked against the independent oracle of test_windows over random instants, instants
around DST changes, and zone pairs with different DST rules.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance.numbers import ContactZonePolicy, zones_for_contact, zones_for_number
from compliance.profiles import OverrideError, RegulationProfile, apply_overrides, get_profile
from compliance.windows import evaluator_for
from tests.compliance.test_windows import _transitions, oracle_open

# Numbers whose ranges sit in one zone or several (phonenumbers), across the US and UK.
NUMBERS = [
    "+12125550100",  # New York
    "+12135550100",  # Los Angeles
    "+13035550100",  # Denver
    "+16025550100",  # Phoenix (no DST)
    "+18085550100",  # Honolulu (no DST)
    "+19075550100",  # Alaska: Adak and Anchorage
    "+17015551234",  # North Dakota: Denver and North_Dakota/Center
    "+17875550100",  # Puerto Rico (no DST)
    "+442079460000",  # London
    "+61412345678",  # an Australian mobile: 8 zones
]
# Record zones: US zones with and without DST, the UK, and odd offsets.
RECORD_ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "Europe/London",
    "Europe/Dublin",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
]
PAIR_ZONES = sorted({*RECORD_ZONES, *(z for n in NUMBERS for z in zones_for_number(n))})

US, NONE = get_profile("us"), get_profile("none")


def _profile(policy: str, hours: Any = None) -> RegulationProfile:
    overrides: dict[str, Any] = {"contact_zone": policy}
    if hours is not None:
        overrides["calling_hours"] = hours
    return apply_overrides(US, overrides)


def _everywhere_open(profile: RegulationProfile, zones: tuple[str, ...], t: datetime) -> bool:
    return all(oracle_open(profile.window, z, t) for z in zones)


# ----------------------------------------------------------------------------- strategies

@st.composite
def instants(draw: st.DrawFn) -> datetime:
    """Anywhere in 2024-2028, or within a day and a half of a DST change of a zone in play."""
    if draw(st.booleans()):
        seconds = draw(st.integers(0, 5 * 366 * 86400))
        return datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    zone = draw(st.sampled_from(["America/New_York", "America/Denver", "America/Los_Angeles",
                                 "America/Anchorage", "Europe/London", "Australia/Lord_Howe"]))
    near = draw(st.sampled_from([t for t in _transitions(zone) if 2024 <= t.year <= 2028]))
    return near + timedelta(seconds=draw(st.integers(-36 * 3600, 36 * 3600)))


@st.composite
def hours(draw: st.DrawFn) -> Any:
    """The profile's own 08:00-21:00, cn-like split hours, or one random span (night hours
    too, so the repeated hour of a backward change is inside it)."""
    kind = draw(st.sampled_from(["profile", "split", "random"]))
    if kind == "profile":
        return None
    if kind == "split":
        return "09:00-12:00,14:00-20:00"
    start = draw(st.integers(0, 46)) * 30
    end = draw(st.integers(start // 30 + 1, 48)) * 30
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------- properties

@PROPERTY
@given(st.sampled_from(RECORD_ZONES), st.sampled_from(NUMBERS), instants(), hours())
def test_intersect_is_callable_exactly_when_every_zone_is_open(
    record_zone: str, number: str, t: datetime, spans: Any
) -> None:
    profile = _profile("intersect", spans)
    zones = profile.zones_for(record_zone, number)
    expected = oracle_open(profile.window, record_zone, t) and _everywhere_open(
        profile, zones_for_number(number), t)
    assert evaluator_for(profile.window).is_callable(zones, t) is expected
    assert zones[0] == record_zone  # the contact's local day is its record's


@PROPERTY
@given(st.sampled_from(RECORD_ZONES), st.sampled_from(NUMBERS), instants(), hours())
def test_trust_is_callable_exactly_when_the_record_zone_is_open(
    record_zone: str, number: str, t: datetime, spans: Any
) -> None:
    profile = _profile("trust", spans)
    zones = profile.zones_for(record_zone, number)
    assert zones == (record_zone,)
    assert evaluator_for(profile.window).is_callable(zones, t) is oracle_open(profile.window, record_zone, t)


@PROPERTY
@given(st.sampled_from(["intersect", "trust"]), st.sampled_from(NUMBERS), instants(), hours())
def test_without_a_record_zone_the_number_decides(policy: str, number: str, t: datetime, spans: Any) -> None:
    profile = _profile(policy, spans)
    zones = profile.zones_for(None, number)
    assert zones == zones_for_number(number)
    assert evaluator_for(profile.window).is_callable(zones, t) is _everywhere_open(profile, zones, t)


@PROPERTY
@given(st.sampled_from(PAIR_ZONES), st.sampled_from(PAIR_ZONES), instants(), hours())
def test_random_zone_pairs(first: str, second: str, t: datetime, spans: Any) -> None:
    """Any two zones, as record zone and (one-zone) number zone: open in both, or in the first."""
    profile = _profile("intersect", spans)
    evaluator = evaluator_for(profile.window)
    both = oracle_open(profile.window, first, t) and oracle_open(profile.window, second, t)
    zones = (first, *((second,) if second != first else ()))
    assert evaluator.is_callable(zones, t) is both
    # The intersection is never wider than either zone's window.
    assert not evaluator.is_callable(zones, t) or evaluator.is_callable((second,), t)


@PROPERTY
@given(st.sampled_from(RECORD_ZONES), st.sampled_from(NUMBERS), instants(), hours(),
       st.floats(0.0, 1.0, exclude_max=True))
def test_next_opening_under_intersect_is_the_first_instant_every_zone_is_open(
    record_zone: str, number: str, t: datetime, spans: Any, fraction: float
) -> None:
    profile = _profile("intersect", spans)
    zones = profile.zones_for(record_zone, number)
    opens = evaluator_for(profile.window).next_open(zones, t)
    if opens is None:
        return  # never open together within the horizon: the contact becomes final
    assert opens >= t
    assert _everywhere_open(profile, zones, opens)
    if opens > t:
        assert not _everywhere_open(profile, zones, opens - timedelta(seconds=1))
        between = min((t + (opens - t) * fraction).replace(microsecond=0), opens - timedelta(seconds=1))
        assert not _everywhere_open(profile, zones, max(between, t))


# ----------------------------------------------------------------------------- DST cases

def _at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("record_zone", "number", "instant", "intersect", "trust"),
    [
        # The case: 20:30 in Los Angeles is 23:30 where the New York number is.
        ("America/Los_Angeles", "+12125550100", _at(2026, 7, 15, 3, 30), False, True),
        # ...and 08:30 in New York is 05:30 in Los Angeles: the record's zone still counts.
        ("America/Los_Angeles", "+12125550100", _at(2026, 7, 15, 12, 30), False, False),
        ("America/Los_Angeles", "+12125550100", _at(2026, 7, 15, 18, 0), True, True),
        # US spring forward (2026-03-08): 12:30 UTC is 08:30 EDT but 05:30 PDT.
        ("America/New_York", "+12135550100", _at(2026, 3, 8, 12, 30), False, True),
        # The day before, 13:30 UTC is 08:30 EST and 05:30 PST.
        ("America/New_York", "+12135550100", _at(2026, 3, 7, 13, 30), False, True),
        # Phoenix keeps MST: in July 03:30 UTC is 20:30 there but 21:30 in Denver...
        ("America/Phoenix", "+13035550100", _at(2026, 7, 15, 3, 30), False, True),
        # ...in January both are UTC-7, so the two rules agree.
        ("America/Phoenix", "+13035550100", _at(2026, 1, 15, 3, 30), True, True),
        ("America/Phoenix", "+13035550100", _at(2026, 1, 15, 4, 30), False, False),
        # US fall back (2026-11-01): 01:30 UTC on the 2nd is 20:30 EST / 17:30 PST.
        ("America/Los_Angeles", "+12125550100", _at(2026, 11, 2, 1, 30), True, True),
        # ...the day before it was 21:30 EDT (closed) and 18:30 PDT.
        ("America/Los_Angeles", "+12125550100", _at(2026, 11, 1, 1, 30), False, True),
        # Hawaii (no DST) with a Los Angeles record: 3 h apart in summer, 2 h in winter.
        ("America/Los_Angeles", "+18085550100", _at(2026, 7, 15, 16, 30), False, True),   # 06:30 HST
        ("America/Los_Angeles", "+18085550100", _at(2026, 1, 15, 18, 30), True, True),    # 08:30 HST
        # A London number with a New York record. Between the US change (03-08) and the UK
        # one (03-29) they are 4 h apart: 12:30 UTC is 12:30 GMT and 08:30 EDT.
        ("America/New_York", "+442079460000", _at(2026, 3, 20, 12, 30), True, True),
        ("America/New_York", "+442079460000", _at(2026, 3, 1, 12, 30), False, False),     # 07:30 EST
        # 20:30 UTC on 2026-03-30 is 21:30 BST (closed) and 16:30 EDT.
        ("America/New_York", "+442079460000", _at(2026, 3, 30, 20, 30), False, True),
        # The week before the UK change it was 20:30 GMT: both open.
        ("America/New_York", "+442079460000", _at(2026, 3, 23, 20, 30), True, True),
    ],
)
def test_dst_cases(record_zone: str, number: str, instant: datetime, intersect: bool, trust: bool) -> None:
    for policy, expected in ((ContactZonePolicy.INTERSECT, intersect), (ContactZonePolicy.TRUST, trust)):
        zones = zones_for_contact(record_zone, number, policy)
        assert evaluator_for(US.window).is_callable(zones, instant) is expected, (policy, zones)


def test_same_offsets_make_the_rules_agree() -> None:
    """Phoenix and Denver share UTC-7 in winter: minute by minute over a January day the two
    rules give the same answer; in July they differ for exactly one hour at each end."""
    intersect = zones_for_contact("America/Phoenix", "+13035550100")
    trust = zones_for_contact("America/Phoenix", "+13035550100", ContactZonePolicy.TRUST)
    evaluator = evaluator_for(US.window)

    def differing_minutes(day: datetime) -> int:
        return sum(evaluator.is_callable(intersect, day + timedelta(minutes=m))
                   != evaluator.is_callable(trust, day + timedelta(minutes=m)) for m in range(1440))

    assert differing_minutes(_at(2026, 1, 15)) == 0
    assert differing_minutes(_at(2026, 7, 15)) == 60  # Denver closes at 21:00 MDT = 20:00 MST


# ----------------------------------------------------------------------------- the setting

def test_profile_defaults_and_the_campaign_setting() -> None:
    assert [get_profile(n).contact_zone_policy for n in ("us", "uk", "cn", "none")] == [
        ContactZonePolicy.INTERSECT, ContactZonePolicy.INTERSECT, ContactZonePolicy.INTERSECT,
        ContactZonePolicy.TRUST,
    ]
    assert apply_overrides(US, {"contact_zone": "trust"}).contact_zone_policy is ContactZonePolicy.TRUST
    assert apply_overrides(NONE, {"contact_zone": "intersect"}).contact_zone_policy is ContactZonePolicy.INTERSECT
    with pytest.raises(OverrideError) as exc:
        apply_overrides(US, {"contact_zone": "both"})
    assert exc.value.errors[0][0] == "contact_zone" and "'intersect'" in exc.value.errors[0][1]
    # A record that agrees with its number changes nothing under either rule.
    assert US.zones_for("America/New_York", "+12125550100") == ("America/New_York",)
    assert NONE.zones_for("America/Los_Angeles", "+12125550100") == ("America/Los_Angeles",)
