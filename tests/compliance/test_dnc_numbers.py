"""Number normalisation and the in-memory DNC list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.dnc import DncEntry, DncList, DncScope, DncSource
from compliance.numbers import (
    ContactZonePolicy,
    InvalidNumber,
    is_e164,
    normalise,
    zones_for_contact,
    zones_for_number,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(202) 555-0143", "US", "+12025550143"),
        ("+1 202-555-0143", None, "+12025550143"),
        ("001 202 555 0143", "DE", "+12025550143"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 (0)20 7946 0958", "US", "+442079460958"),
        ("138 1234 5678", "CN", "+8613812345678"),
    ],
)
def test_normalise(raw: str, region: str | None, expected: str) -> None:
    assert normalise(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("", "US", "empty"),
        ("   ", "US", "empty"),
        ("hello", "US", "not_a_number"),
        ("202 555 0143", None, "invalid_country_code"),
        ("+1 202 555", None, "invalid"),
        ("+1 000 555 0143", None, "invalid"),
    ],
)
def test_normalise_rejects_with_reason(raw: str, region: str | None, reason: str) -> None:
    with pytest.raises(InvalidNumber) as exc:
        normalise(raw, region)
    assert exc.value.reason == reason
    assert not any(ch.isdigit() for ch in str(exc.value))  # no digits of the number leak


def test_zones() -> None:
    assert zones_for_number("+12125551234") == ("America/New_York",)
    assert zones_for_number("+17015551234") == ("America/Denver", "America/North_Dakota/Center")
    # The record's zone and the number's: both must be open (the default), or the record's alone.
    assert zones_for_contact("Europe/Paris", "+12125551234") == ("Europe/Paris", "America/New_York")
    assert zones_for_contact("Europe/Paris", "+12125551234", ContactZonePolicy.TRUST) == ("Europe/Paris",)
    assert zones_for_contact("America/New_York", "+12125551234") == ("America/New_York",)
    assert zones_for_contact(None, "+12125551234") == ("America/New_York",)
    assert zones_for_number("+999") == ()


def test_dnc_scopes_expiry_and_normalisation() -> None:
    d = DncList(default_region="US")
    d.add(DncEntry("(202) 555-0143", None, DncSource.REGISTRY))  # normalised on add
    d.add(DncEntry("+12025550144", "c1", DncSource.DISPOSITION, "refused"))
    d.add(DncEntry("+12025550145", "c1", DncSource.OPT_OUT_KEY, expires_at=NOW + timedelta(days=1)))
    assert d.is_blocked("+12025550143", "c1", NOW)
    assert d.is_blocked("+12025550143", "c2", NOW)
    assert d.is_blocked("+12025550143", None, NOW)
    assert d.is_blocked("+12025550144", "c1", NOW)
    assert not d.is_blocked("+12025550144", "c2", NOW)
    hit = d.check("+12025550144", "c1", NOW)
    assert hit is not None and (hit.scope, hit.source) == (DncScope.CAMPAIGN, DncSource.DISPOSITION)
    # expiry: blocks while now < expires_at
    assert d.is_blocked("+12025550145", "c1", NOW + timedelta(hours=23, minutes=59))
    assert not d.is_blocked("+12025550145", "c1", NOW + timedelta(days=1))
    assert d.purge_expired(NOW + timedelta(days=1)) == 1
    assert len(d) == 2
    assert d.remove("+12025550143")
    assert not d.is_blocked("+12025550143", "c1", NOW)
    with pytest.raises(ValueError):
        d.is_blocked("2025550143", "c1", NOW)


def test_dnc_latest_expiry_wins() -> None:
    d = DncList()
    d.add(DncEntry("+12025550143", None, DncSource.CLI, expires_at=NOW + timedelta(days=1)))
    d.add(DncEntry("+12025550143", None, DncSource.REGISTRY))  # permanent
    d.add(DncEntry("+12025550143", None, DncSource.CLI, expires_at=NOW + timedelta(days=2)))
    hit = d.check("+12025550143", "x", NOW + timedelta(days=400))
    assert hit is not None and hit.source is DncSource.REGISTRY and hit.expires_at is None


@settings(max_examples=100, deadline=None)
@given(
    entries=st.lists(
        st.tuples(st.integers(0, 30), st.sampled_from([None, "a", "b"]), st.none() | st.integers(-5, 5)),
        max_size=30,
    ),
    probe=st.tuples(st.integers(0, 30), st.sampled_from([None, "a", "b"]), st.integers(-6, 6)),
)
def test_dnc_matches_linear_scan(
    entries: list[tuple[int, str | None, int | None]], probe: tuple[int, str | None, int]
) -> None:
    objs = [
        DncEntry(f"+1202555{n:04d}", c, DncSource.IMPORT,
                 expires_at=None if e is None else NOW + timedelta(hours=e))
        for n, c, e in entries
    ]
    d = DncList(objs)
    n, camp, h = probe
    number, now = f"+1202555{n:04d}", NOW + timedelta(hours=h)
    expected = any(
        o.number == number and (o.campaign_id is None or o.campaign_id == camp) and o.active(now)
        for o in objs
    )
    assert d.is_blocked(number, camp, now) == expected
    assert is_e164(number)
