"""Calling windows: property-based checks against an independent oracle, plus DST cases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance.numbers import zones_for_number
from compliance.windows import (
    CallingWindow,
    HolidayCalendar,
    Span,
    WeeklySchedule,
    WindowEvaluator,
    is_callable,
    next_open,
)

# Zones with DST in the US, EU, AU (incl. Lord Howe's 30-minute shift), South America
# (midnight transitions), plus odd offsets and zones that changed rules.
ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/North_Dakota/Center",
    "America/Boise",
    "America/Adak",
    "America/St_Johns",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Moscow",
    "Europe/Samara",
    "Asia/Anadyr",
    "Asia/Kamchatka",
    "Australia/Sydney",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
    "Australia/Perth",
    "Australia/Eucla",
    "America/Sao_Paulo",
    "America/Campo_Grande",
    "America/Noronha",
    "America/Santiago",
    "America/Havana",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "Asia/Shanghai",
    "UTC",
]

# Real multi-zone numbering ranges (phonenumbers): US area codes spanning two zones,
# Russian and Australian mobiles, Brazil's country-level fallback.
MULTI_ZONE_SETS: list[tuple[str, ...]] = [
    ("America/Denver", "America/North_Dakota/Center"),  # +1 701
    ("America/Boise", "America/Los_Angeles"),  # +1 775
    ("America/Halifax", "America/St_Johns"),  # +1 709
    ("America/Adak", "America/Anchorage"),  # +1 907
    zones_for_number("+79161234567"),  # Russian mobile, 16 zones
    zones_for_number("+61412345678"),  # Australian mobile, 8 zones
    ("America/Manaus", "America/Noronha", "America/Rio_Branco", "America/Sao_Paulo"),  # +55
    ("Europe/Moscow", "Europe/Samara", "Asia/Yekaterinburg"),
    ("Australia/Sydney", "Australia/Lord_Howe"),
]

CALENDARS = [
    (),
    (HolidayCalendar("US"),),
    (HolidayCalendar("GB", "ENG"),),
    (HolidayCalendar("AU", "NSW"),),
    (HolidayCalendar("BR"),),
    (HolidayCalendar("RU"),),
    (HolidayCalendar("CN"),),
    (HolidayCalendar("US", "CA"), HolidayCalendar("DE", "BY")),
]


@cache
def _transitions(zone: str) -> tuple[datetime, ...]:
    """UTC instants near which ``zone`` changed offset between 2015 and 2030 (hour precision)."""
    tz = ZoneInfo(zone)
    out = []
    t = datetime(2015, 1, 1, tzinfo=UTC)
    prev = t.astimezone(tz).utcoffset()
    end = datetime(2030, 1, 1, tzinfo=UTC)
    while t < end:
        t2 = t + timedelta(hours=6)
        off = t2.astimezone(tz).utcoffset()
        if off != prev:
            out.append(t2)
            prev = off
        t = t2
    return tuple(out) or (datetime(2026, 6, 1, tzinfo=UTC),)


def oracle_open(window: CallingWindow, zone: str, t: datetime) -> bool:
    """Independent definition: local wall clock inside a span of the local date,
    and not the second occurrence of a repeated wall time."""
    local = t.astimezone(ZoneInfo(zone))
    if local.fold == 1:
        return False
    sec = local.hour * 3600 + local.minute * 60 + local.second
    return any(s.start * 60 <= sec < s.end * 60 for s in window.spans_on(local.date()))


def oracle(window: CallingWindow, zones: tuple[str, ...], t: datetime) -> bool:
    zs = zones or ((window.fallback_zone,) if window.fallback_zone else ())
    return bool(zs) and all(oracle_open(window, z, t) for z in zs)


# ----------------------------------------------------------------------------- strategies

minute = st.integers(0, 1440)


@st.composite
def day_spans(draw: st.DrawFn) -> tuple[Span, ...]:
    n = draw(st.integers(0, 3))
    spans = []
    for _ in range(n):
        a, b = sorted(draw(st.lists(minute, min_size=2, max_size=2, unique=True)))
        spans.append(Span(a, b))
    return tuple(spans)


@st.composite
def windows(draw: st.DrawFn) -> CallingWindow:
    if draw(st.booleans()):
        weekly = WeeklySchedule(tuple(draw(day_spans()) for _ in range(7)))
    else:  # realistic: the same spans on weekdays, others at weekends
        wd, we = draw(day_spans()), draw(day_spans())
        weekly = WeeklySchedule((wd,) * 5 + (we,) * 2)
    cal = draw(st.sampled_from(CALENDARS))
    blackout = draw(
        st.frozensets(st.dates(date(2015, 1, 1), date(2030, 12, 31)), max_size=3)
    )
    holiday_spans = draw(day_spans())
    fallback = draw(st.sampled_from([None, "Europe/London", "America/Chicago"]))
    return CallingWindow(weekly, blackout, cal, holiday_spans, fallback)


zone_sets = st.one_of(
    st.sampled_from(ZONES).map(lambda z: (z,)),
    st.lists(st.sampled_from(ZONES), min_size=2, max_size=3, unique=True).map(tuple),
    st.sampled_from(MULTI_ZONE_SETS),
    st.just(()),
)


@st.composite
def instants(draw: st.DrawFn, zones: tuple[str, ...]) -> datetime:
    """Uniform instants 2015–2030, or instants within ±36 h of a DST transition of a zone."""
    if zones and draw(st.booleans()):
        z = draw(st.sampled_from(zones))
        base = draw(st.sampled_from(_transitions(z)))
        return base + timedelta(seconds=draw(st.integers(-36 * 3600, 36 * 3600)))
    secs = draw(st.integers(int(datetime(2015, 1, 2, tzinfo=UTC).timestamp()),
                            int(datetime(2030, 12, 1, tzinfo=UTC).timestamp())))
    return datetime.fromtimestamp(secs, UTC)


PROP = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROP
@given(data=st.data(), window=windows(), zones=zone_sets)
def test_is_callable_matches_oracle_in_every_zone(
    data: st.DataObject, window: CallingWindow, zones: tuple[str, ...]
) -> None:
    t = data.draw(instants(zones))
    got = is_callable(window, zones, t)
    if got:  # never callable inside a closed span of any zone of the number
        for z in zones or (window.fallback_zone,):
            assert z is not None
            assert oracle_open(window, z, t), (z, t.astimezone(ZoneInfo(z)))
    assert got == oracle(window, zones, t)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), window=windows(), zones=zone_sets)
def test_next_open_is_callable_and_nothing_earlier(
    data: st.DataObject, window: CallingWindow, zones: tuple[str, ...]
) -> None:
    after = data.draw(instants(zones))
    ev = WindowEvaluator(window)
    r = ev.next_open(zones, after, horizon_days=20)
    horizon_end = after + timedelta(days=20)
    end = r if r is not None else horizon_end
    if r is not None:
        assert r >= after
        assert ev.is_callable(zones, r)
        assert oracle(window, zones, r)
    # nothing earlier is callable: the second before, evenly spaced points, random points
    probes = [after] if end > after else []
    if end - after > timedelta(seconds=1):
        probes.append(end - timedelta(seconds=1))
        span = (end - after).total_seconds()
        probes += [after + timedelta(seconds=span * k / 40) for k in range(1, 40)]
        probes += [
            after + timedelta(seconds=data.draw(st.floats(0, span, exclude_max=True)))
            for _ in range(5)
        ]
    for p in probes:
        if p < end:
            assert not oracle(window, zones, p), (p, r)


# ----------------------------------------------------------------------------- DST examples


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def local(zone: str, y: int, mo: int, d: int, h: int, mi: int = 0, fold: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(zone), fold=fold)


def test_us_spring_forward_skipped_hour_is_never_open() -> None:
    w = CallingWindow(WeeklySchedule.every_day("02:00-03:00"))
    ev = WindowEvaluator(w)
    ny = ("America/New_York",)
    day = (date(2026, 3, 8) - date(1970, 1, 1)).days
    assert ev.open_intervals(ny, day) == ()  # 02:00-03:00 does not exist on 8 March 2026
    # the window opens at 02:00 the next day
    assert ev.next_open(ny, utc(2026, 3, 8)) == local("America/New_York", 2026, 3, 9, 2)


def test_us_fall_back_repeated_hour_counted_once() -> None:
    w = CallingWindow(WeeklySchedule.every_day("01:00-01:30"))
    ny = ("America/New_York",)
    first = local("America/New_York", 2026, 11, 1, 1, 15, fold=0)  # 05:15 UTC (EDT)
    second = local("America/New_York", 2026, 11, 1, 1, 15, fold=1)  # 06:15 UTC (EST)
    assert first.astimezone(UTC) == utc(2026, 11, 1, 5, 15)
    assert second.astimezone(UTC) == utc(2026, 11, 1, 6, 15)
    assert is_callable(w, ny, first)
    assert not is_callable(w, ny, second)
    ev = WindowEvaluator(w)
    day = (date(2026, 11, 1) - date(1970, 1, 1)).days
    total = sum(e - s for s, e in ev.open_intervals(ny, day))
    assert total == 30 * 60  # 30 minutes, not 60


def test_eu_transitions_berlin() -> None:
    w = CallingWindow(WeeklySchedule.every_day("08:00-21:00"))
    be = ("Europe/Berlin",)
    # 29 March 2026: CET -> CEST; 08:00 local = 06:00 UTC
    assert not is_callable(w, be, utc(2026, 3, 29, 5, 59, 59))
    assert is_callable(w, be, utc(2026, 3, 29, 6, 0))
    assert not is_callable(w, be, utc(2026, 3, 29, 19, 0))
    # 25 October 2026: back to CET; 08:00 local = 07:00 UTC, 21:00 = 20:00 UTC
    assert not is_callable(w, be, utc(2026, 10, 25, 6, 30))
    assert is_callable(w, be, utc(2026, 10, 25, 7, 0))
    assert is_callable(w, be, utc(2026, 10, 25, 19, 59, 59))
    assert not is_callable(w, be, utc(2026, 10, 25, 20, 0))


def test_au_transitions_sydney_and_lord_howe() -> None:
    w = CallingWindow(WeeklySchedule.every_day("02:00-03:00"))
    # Sydney 4 Oct 2026: 02:00 AEST -> 03:00 AEDT, the hour is skipped
    syd = ("Australia/Sydney",)
    ev = WindowEvaluator(w)
    assert not any(
        ev.is_callable(syd, local("Australia/Sydney", 2026, 10, 3, 12) + timedelta(minutes=m))
        for m in range(0, 24 * 60, 5)
    )
    # Lord Howe 4 Oct 2026: 02:00 -> 02:30, only 02:30-03:00 exists that night
    lh = ("Australia/Lord_Howe",)
    day_start = local("Australia/Lord_Howe", 2026, 10, 4, 0).astimezone(UTC)
    open_minutes = [
        m for m in range(0, 24 * 60) if ev.is_callable(lh, day_start + timedelta(minutes=m))
    ]
    assert len(open_minutes) == 30
    # Sydney 5 April 2026: 03:00 AEDT -> 02:00 AEST, 02:00-03:00 happens twice, counted once
    day = (date(2026, 4, 4) - date(1970, 1, 1)).days
    total = sum(e - s for d in (day, day + 1) for s, e in ev.open_intervals(syd, d)
                if local("Australia/Sydney", 2026, 4, 5, 0).timestamp() <= s
                < local("Australia/Sydney", 2026, 4, 6, 0).timestamp())
    assert total == 3600


def test_multi_zone_us_area_code_needs_both_zones_open() -> None:
    zones = zones_for_number("+17015551234")
    assert zones == ("America/Denver", "America/North_Dakota/Center")
    w = CallingWindow(WeeklySchedule.every_day("08:00-21:00"))
    # 08:30 Central (14:30 UTC in winter) is 07:30 Mountain: closed
    assert not is_callable(w, zones, utc(2026, 1, 14, 14, 30))
    # 08:00 Mountain = 15:00 UTC opens both
    assert next_open(w, zones, utc(2026, 1, 14, 14, 30)) == utc(2026, 1, 14, 15, 0)
    # closes at 21:00 Central = 03:00 UTC next day
    assert is_callable(w, zones, utc(2026, 1, 15, 2, 59))
    assert not is_callable(w, zones, utc(2026, 1, 15, 3, 0))


def test_russian_mobile_all_zones_must_be_open() -> None:
    zones = zones_for_number("+79161234567")
    assert len(zones) > 10
    w = CallingWindow(WeeklySchedule.every_day("08:00-21:00"))
    # Europe/Bucharest (UTC+2) and Asia/Anadyr (UTC+12) overlap only 08:00-11:00 Bucharest
    r = next_open(w, zones, utc(2026, 1, 14, 0, 0))
    assert r == utc(2026, 1, 14, 6, 0)  # 08:00 Bucharest = 18:00 Anadyr
    assert not is_callable(w, zones, utc(2026, 1, 14, 9, 0))  # 21:00 Anadyr


def test_australian_mobile_and_brazil_sets() -> None:
    w = CallingWindow(WeeklySchedule.every_day("09:00-20:00"))
    au = zones_for_number("+61412345678")
    for z in au:
        r = next_open(w, au, utc(2026, 10, 3, 0, 0))
        assert r is not None and oracle_open(w, z, r)
    br = ("America/Manaus", "America/Noronha", "America/Rio_Branco", "America/Sao_Paulo")
    r = next_open(w, br, utc(2026, 6, 1, 0, 0))
    # 09:00 Rio Branco (UTC-5) = 14:00 UTC; Noronha (UTC-2) is then 12:00
    assert r == utc(2026, 6, 1, 14, 0)


def test_unknown_zone_uses_fallback_or_is_closed() -> None:
    w = CallingWindow(WeeklySchedule.every_day("08:00-21:00"))
    assert not is_callable(w, (), utc(2026, 6, 1, 12))
    assert next_open(w, (), utc(2026, 6, 1, 12)) is None
    wf = CallingWindow(WeeklySchedule.every_day("08:00-21:00"), fallback_zone="Europe/London")
    assert is_callable(wf, (), utc(2026, 6, 1, 12))
    assert not is_callable(wf, (), utc(2026, 6, 1, 6, 59))  # 07:59 BST


def test_holidays_and_blackouts() -> None:
    w = CallingWindow(
        WeeklySchedule.every_day("09:00-12:00,14:00-20:00"),
        blackout_dates=frozenset({date(2026, 5, 20)}),
        holidays=(HolidayCalendar("CN"),),
    )
    sh = ("Asia/Shanghai",)
    assert not is_callable(w, sh, local("Asia/Shanghai", 2026, 10, 1, 10))  # National Day
    assert not is_callable(w, sh, local("Asia/Shanghai", 2026, 5, 20, 10))  # blackout
    assert is_callable(w, sh, local("Asia/Shanghai", 2026, 5, 21, 10))
    assert not is_callable(w, sh, local("Asia/Shanghai", 2026, 5, 21, 13))  # lunch
    assert next_open(w, sh, local("Asia/Shanghai", 2026, 5, 21, 13)) == local(
        "Asia/Shanghai", 2026, 5, 21, 14
    )
    # holiday calendars by subdivision: 2026-03-17 is St Patrick's Day in Northern Ireland only
    ni = CallingWindow(WeeklySchedule.every_day("09:00-17:00"), holidays=(HolidayCalendar("GB", "NIR"),))
    en = CallingWindow(WeeklySchedule.every_day("09:00-17:00"), holidays=(HolidayCalendar("GB", "ENG"),))
    t = local("Europe/London", 2026, 3, 17, 10)
    assert not is_callable(ni, ("Europe/London",), t)
    assert is_callable(en, ("Europe/London",), t)


def test_span_parsing_and_validation() -> None:
    assert str(WeeklySchedule.from_mapping({"weekdays": "09:00-12:00, 11:00-13:00"}).days[0][0]) == (
        "09:00-13:00"
    )
    with pytest.raises(ValueError):
        Span.parse("9-5")
    with pytest.raises(ValueError):
        Span(600, 600)
    with pytest.raises(ValueError):
        WeeklySchedule.from_mapping({"funday": "09:00-10:00"})
    with pytest.raises(ValueError):
        HolidayCalendar("XX")
    with pytest.raises(ValueError):
        is_callable(CallingWindow(WeeklySchedule.every_day("09:00-10:00")), ("UTC",), datetime(2026, 1, 1))


def test_closes_at_and_impossible_zone_sets() -> None:
    w = CallingWindow(WeeklySchedule.every_day("08:00-21:00"))
    ev = WindowEvaluator(w)
    ny = ("America/New_York",)
    assert ev.closes_at(ny, utc(2026, 1, 5, 15)) == utc(2026, 1, 6, 2)  # 21:00 EST
    assert ev.closes_at(ny, utc(2026, 1, 5, 12)) is None  # 07:00 EST: closed
    never = ("Asia/Anadyr", "Europe/Kaliningrad", "America/New_York")
    assert ev.next_open(never, utc(2026, 1, 1)) is None
    assert ev.next_open(never, utc(2026, 1, 1)) is None  # memoised second call
