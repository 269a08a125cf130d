"""Calling windows in the called party's local time.

Model
-----
* :class:`Span` — a half-open local wall-clock interval ``[start, end)`` in
  minutes since local midnight (``end`` may be 1440 = midnight at day's end).
* :class:`WeeklySchedule` — a tuple of spans for each weekday (Monday = 0);
  several spans per day are allowed and are merged when they overlap.
* :class:`CallingWindow` — a weekly schedule plus blackout dates, public
  holidays (``holidays`` package, by country and subdivision) with their own
  spans (empty = closed all day), and an optional fallback zone for contacts
  whose zone is unknown (``None`` = such contacts are not callable).

Semantics (what "open" means)
-----------------------------
An instant ``t`` is open in zone ``z`` when, with ``local = t`` seen in ``z``,
the local wall-clock time lies inside one of the spans of ``local.date()``
**and** ``local`` is not the second occurrence of a repeated wall-clock time
(``fold == 1`` after a backward DST change): a repeated hour is counted once.
Wall-clock times that do not exist (skipped by a forward DST change) are never
reached, so they are never open. An instant is callable for a number when it is
open in *every* zone of the number.

Speed
-----
:class:`WindowEvaluator` precomputes, per (zone tuple, UTC day), the open
intervals of that UTC day as integer epoch seconds and caches them, so a check
is a dict lookup plus a scan of a handful of intervals: well under a
microsecond per contact once warm. Per (zone, local day) intervals and per
(zone, day) UTC-offset segments are cached too. The module-level
:func:`is_callable` / :func:`next_open` reuse one evaluator per window.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib

__all__ = [
    "Span",
    "WeeklySchedule",
    "HolidayCalendar",
    "CallingWindow",
    "WindowEvaluator",
    "parse_spans",
    "is_callable",
    "next_open",
    "evaluator_for",
    "valid_zone",
]

MINUTES_PER_DAY = 1440
_DAY = 86400
_WEEK = 7 * _DAY
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """Local wall-clock span ``[start, end)`` in minutes since midnight (0 ≤ start < end ≤ 1440)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not (0 <= self.start < self.end <= MINUTES_PER_DAY):
            raise ValueError(f"span must satisfy 00:00 <= start < end <= 24:00, got {self}")

    @classmethod
    def parse(cls, text: str) -> Span:
        """Parse ``"HH:MM-HH:MM"`` (end ``24:00`` allowed)."""
        m = _SPAN_RE.match(text)
        if not m:
            raise ValueError(f"span {text!r} is not of the form HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if m1 > 59 or m2 > 59 or h1 > 24 or h2 > 24:
            raise ValueError(f"span {text!r} has an invalid time")
        return cls(h1 * 60 + m1, h2 * 60 + m2)

    @classmethod
    def of(cls, start: time, end: time | None) -> Span:
        """From ``datetime.time`` values; ``end=None`` means 24:00."""
        e = MINUTES_PER_DAY if end is None else end.hour * 60 + end.minute
        return cls(start.hour * 60 + start.minute, e)

    def __str__(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"


def _merge_spans(spans: Iterable[Span]) -> tuple[Span, ...]:
    out: list[Span] = []
    for s in sorted(spans):
        if out and s.start <= out[-1].end:
            if s.end > out[-1].end:
                out[-1] = Span(out[-1].start, s.end)
        else:
            out.append(s)
    return tuple(out)


def _intersect_spans(a: Sequence[Span], b: Sequence[Span]) -> tuple[Span, ...]:
    out: list[Span] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i].start, b[j].start)
        hi = min(a[i].end, b[j].end)
        if lo < hi:
            out.append(Span(lo, hi))
        if a[i].end < b[j].end:
            i += 1
        else:
            j += 1
    return tuple(out)


def parse_spans(value: str | Span | Iterable[str | Span]) -> tuple[Span, ...]:
    """Parse ``"09:00-12:00, 14:00-20:00"``, a Span, or an iterable of either.

    An empty string or empty iterable means "closed". Overlapping spans merge.
    """
    if isinstance(value, Span):
        return (value,)
    if isinstance(value, str):
        parts = [p for p in value.split(",") if p.strip()]
        return _merge_spans(Span.parse(p) for p in parts)
    return _merge_spans(s if isinstance(s, Span) else Span.parse(s) for s in value)


@dataclass(frozen=True, slots=True)
class WeeklySchedule:
    """Spans per weekday, ``days[0]`` = Monday … ``days[6]`` = Sunday."""

    days: tuple[tuple[Span, ...], ...]

    def __post_init__(self) -> None:
        if len(self.days) != 7:
            raise ValueError("a weekly schedule needs exactly 7 days (Monday first)")
        object.__setattr__(self, "days", tuple(_merge_spans(d) for d in self.days))

    @classmethod
    def every_day(cls, spans: str | Iterable[str | Span]) -> WeeklySchedule:
        """The same spans on all seven days."""
        s = parse_spans(spans)
        return cls((s,) * 7)

    @classmethod
    def closed(cls) -> WeeklySchedule:
        return cls(((),) * 7)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, str | Iterable[str | Span]]) -> WeeklySchedule:
        """From ``{"mon": "09:00-17:00", "sat": "10:00-14:00", ...}``.

        Keys: ``mon`` … ``sun``, plus ``weekdays`` (Mon–Fri), ``weekend``
        (Sat–Sun) and ``all``; specific days override the group keys. Missing
        days are closed.
        """
        days: list[tuple[Span, ...]] = [()] * 7
        groups = {"all": range(7), "weekdays": range(5), "weekend": range(5, 7)}
        for key in ("all", "weekdays", "weekend"):
            if key in mapping:
                for i in groups[key]:
                    days[i] = parse_spans(mapping[key])
        for key, val in mapping.items():
            k = key.lower()[:3]
            if key in groups:
                continue
            if k not in _WEEKDAY_NAMES:
                raise ValueError(f"unknown weekday {key!r}")
            days[_WEEKDAY_NAMES.index(k)] = parse_spans(val)
        return cls(tuple(days))

    def intersect(self, other: WeeklySchedule) -> WeeklySchedule:
        """Day-by-day intersection (used for stricter state hours)."""
        return WeeklySchedule(tuple(_intersect_spans(a, b) for a, b in zip(self.days, other.days, strict=True)))

    def __str__(self) -> str:
        return "; ".join(
            f"{n}: {','.join(str(s) for s in d) or 'closed'}" for n, d in zip(_WEEKDAY_NAMES, self.days, strict=True)
        )


@lru_cache(maxsize=4096)
def _holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays_lib.country_holidays(country, subdiv=subdivision, years=year).keys())


@dataclass(frozen=True, slots=True)
class HolidayCalendar:
    """Public holidays of a country (ISO alpha-2) and optional subdivision (``holidays`` package)."""

    country: str
    subdivision: str | None = None

    def __post_init__(self) -> None:
        try:
            holidays_lib.country_holidays(self.country, subdiv=self.subdivision, years=2000)
        except (NotImplementedError, KeyError, ValueError) as exc:
            raise ValueError(
                f"unknown holiday calendar {self.country!r}/{self.subdivision!r}: {exc}"
            ) from None

    def is_holiday(self, d: date) -> bool:
        return d in _holiday_dates(self.country, self.subdivision, d.year)


def valid_zone(name: str) -> bool:
    """True when ``name`` is an IANA zone known to zoneinfo."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class CallingWindow:
    """When a campaign may call, in the called party's local time.

    ``holiday_spans`` are the spans used on a public holiday instead of the
    weekly ones (empty = closed on holidays). Blackout dates are closed all day
    in every zone. ``fallback_zone`` is used for numbers with no known zone;
    ``None`` makes such numbers not callable.
    """

    weekly: WeeklySchedule
    blackout_dates: frozenset[date] = frozenset()
    holidays: tuple[HolidayCalendar, ...] = ()
    holiday_spans: tuple[Span, ...] = ()
    fallback_zone: str | None = None
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "blackout_dates", frozenset(self.blackout_dates))
        object.__setattr__(self, "holidays", tuple(self.holidays))
        object.__setattr__(self, "holiday_spans", _merge_spans(self.holiday_spans))
        if self.fallback_zone is not None and not valid_zone(self.fallback_zone):
            raise ValueError(f"unknown fallback zone {self.fallback_zone!r}")
        object.__setattr__(
            self,
            "_hash",
            hash((self.weekly, self.blackout_dates, self.holidays, self.holiday_spans, self.fallback_zone)),
        )

    def __hash__(self) -> int:
        return self._hash

    def spans_on(self, d: date) -> tuple[Span, ...]:
        """Local spans open on local date ``d`` (blackouts and holidays applied)."""
        if d in self.blackout_dates:
            return ()
        for cal in self.holidays:
            if cal.is_holiday(d):
                return self.holiday_spans
        return self.weekly.days[d.weekday()]

    def is_holiday(self, d: date) -> bool:
        return any(cal.is_holiday(d) for cal in self.holidays)

    def restricted_to(self, schedule: WeeklySchedule) -> CallingWindow:
        """A copy whose weekly (and holiday) spans are intersected with ``schedule``.

        Holiday spans are intersected with the union of ``schedule``'s spans over
        the week's most restrictive day, i.e. a holiday is treated as open only
        where every weekday of ``schedule`` is open.
        """
        strict_day: tuple[Span, ...] = schedule.days[0]
        for d in schedule.days[1:]:
            strict_day = _intersect_spans(strict_day, d)
        return CallingWindow(
            weekly=self.weekly.intersect(schedule),
            blackout_dates=self.blackout_dates,
            holidays=self.holidays,
            holiday_spans=_intersect_spans(self.holiday_spans, strict_day),
            fallback_zone=self.fallback_zone,
        )


# ---------------------------------------------------------------------------
# UTC offset segments of a zone around a local day


def _offset_at(tz: ZoneInfo, ts: int) -> int:
    off = datetime.fromtimestamp(ts, tz).utcoffset()
    assert off is not None
    return int(off.total_seconds())


@lru_cache(maxsize=65536)
def _offset_segments(zone: str, lo: int, hi: int) -> tuple[tuple[int, int, int, int], ...]:
    """Piecewise-constant UTC offset of ``zone`` over ``[lo, hi)`` (epoch seconds).

    Returns ``(start, end, offset, previous_offset)`` tuples. Transitions are
    located by sampling every 2 hours and bisecting to the second (no zone in
    tzdata has two transitions within 2 hours that cancel each other out).
    """
    tz = ZoneInfo(zone)
    step = 7200
    segs: list[tuple[int, int, int, int]] = []
    seg_start = lo
    cur = _offset_at(tz, lo)
    prev = cur
    t = lo
    while t < hi:
        nt = min(t + step, hi)
        o = _offset_at(tz, nt) if nt < hi else cur
        if o != cur:
            a, b = t, nt  # offset(a) == cur, offset(b) != cur
            while b - a > 1:
                m = (a + b) // 2
                if _offset_at(tz, m) == cur:
                    a = m
                else:
                    b = m
            segs.append((seg_start, b, cur, prev))
            prev, cur, seg_start = cur, _offset_at(tz, b), b
        t = nt
    segs.append((seg_start, hi, cur, prev))
    return tuple(segs)


def _merge_intervals(iv: list[tuple[int, int]]) -> list[tuple[int, int]]:
    iv.sort()
    out: list[tuple[int, int]] = []
    for s, e in iv:
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _intersect_intervals(
    a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _local_day_intervals(spans: tuple[Span, ...], zone: str, d: date) -> list[tuple[int, int]]:
    """UTC epoch intervals during which the wall clock of ``zone`` shows a time of
    ``spans`` on local date ``d``, excluding second occurrences of repeated times."""
    if not spans:
        return []
    wall_midnight = (d.toordinal() - _EPOCH_ORDINAL) * _DAY
    # Offsets are computed per week block (padded by 2 days each side) and shared
    # by every day of the week: [wall_midnight - 20 h, wall_midnight + 44 h] is inside.
    block = wall_midnight // _WEEK
    segs = _offset_segments(zone, block * _WEEK - 2 * _DAY, (block + 1) * _WEEK + 2 * _DAY)
    out: list[tuple[int, int]] = []
    for span in spans:
        ws = wall_midnight + span.start * 60
        we = wall_midnight + span.end * 60
        for a, b, off, prev in segs:
            # After a backward change, the first (prev - off) seconds repeat wall times.
            s = max(a + max(0, prev - off), ws - off)
            e = min(b, we - off)
            if s < e:
                out.append((s, e))
    return _merge_intervals(out)


class WindowEvaluator:
    """Fast evaluation of one :class:`CallingWindow` for many numbers.

    Caches open intervals per (zones, UTC day) as epoch seconds (bounded: the
    cache is cleared when it exceeds ``max_entries``). Not thread-safe for
    concurrent mutation of the cache; use one per thread or guard it.
    """

    __slots__ = ("window", "_day_cache", "_zone_cache", "_next_day", "max_entries")

    def __init__(self, window: CallingWindow, max_entries: int = 100_000) -> None:
        self.window = window
        self.max_entries = max_entries
        self._day_cache: dict[tuple[tuple[str, ...], int], tuple[tuple[int, int], ...]] = {}
        self._zone_cache: dict[tuple[str, int], tuple[tuple[int, int], ...]] = {}
        self._next_day: dict[tuple[tuple[str, ...], int, int], int | None] = {}

    def _zone_utc_day(self, zone: str, day: int) -> tuple[tuple[int, int], ...]:
        key = (zone, day)
        got = self._zone_cache.get(key)
        if got is not None:
            return got
        day_lo, day_hi = day * _DAY, (day + 1) * _DAY
        iv: list[tuple[int, int]] = []
        for ld in (day - 1, day, day + 1):
            d = date.fromordinal(ld + _EPOCH_ORDINAL)
            for s, e in _local_day_intervals(self.window.spans_on(d), zone, d):
                s, e = max(s, day_lo), min(e, day_hi)
                if s < e:
                    iv.append((s, e))
        res = tuple(_merge_intervals(iv))
        if len(self._zone_cache) >= self.max_entries:
            self._zone_cache.clear()
        self._zone_cache[key] = res
        return res

    def open_intervals(self, zones: tuple[str, ...], day: int) -> tuple[tuple[int, int], ...]:
        """Open ``[start, end)`` epoch-second intervals within UTC day number ``day``
        (days since 1970-01-01) for a number in all of ``zones``."""
        key = (zones, day)
        got = self._day_cache.get(key)
        if got is not None:
            return got
        zs = zones
        if not zs:
            zs = (self.window.fallback_zone,) if self.window.fallback_zone else ()
        if not zs:
            res: tuple[tuple[int, int], ...] = ()
        else:
            cur: Sequence[tuple[int, int]] = self._zone_utc_day(zs[0], day)
            for z in zs[1:]:
                if not cur:
                    break
                cur = _intersect_intervals(cur, self._zone_utc_day(z, day))
            res = tuple(cur)
        if len(self._day_cache) >= self.max_entries:
            self._day_cache.clear()
        self._day_cache[key] = res
        return res

    def is_callable_ts(self, zones: tuple[str, ...], ts: float) -> bool:
        """:meth:`is_callable` for an epoch timestamp (seconds)."""
        for s, e in self.open_intervals(zones, int(ts // _DAY)):
            if ts < s:
                return False
            if ts < e:
                return True
        return False

    def is_callable(self, zones: tuple[str, ...], instant: datetime) -> bool:
        """May a number in ``zones`` be called at aware ``instant``?

        ``zones=()`` uses the window's fallback zone, or answers False.
        """
        return self.is_callable_ts(zones, _ts(instant))

    def next_open_ts(self, zones: tuple[str, ...], ts: float, horizon_days: int = 400) -> float | None:
        day = int(ts // _DAY)
        for s, e in self.open_intervals(zones, day):
            if e > ts:
                return float(max(s, ts))
        d = self._first_open_day(zones, day + 1, day + horizon_days)
        return None if d is None else float(self.open_intervals(zones, d)[0][0])

    def _first_open_day(self, zones: tuple[str, ...], first: int, last: int) -> int | None:
        """First UTC day in ``[first, last]`` with an opening (memoised, so a number
        whose zones never overlap costs one scan, not one per call)."""
        key = (zones, first, last)
        if key in self._next_day:
            return self._next_day[key]
        found: int | None = None
        for d in range(first, last + 1):
            if self.open_intervals(zones, d):
                found = d
                break
        if len(self._next_day) >= self.max_entries:
            self._next_day.clear()
        self._next_day[key] = found
        return found

    def next_open(
        self, zones: tuple[str, ...], after: datetime, horizon_days: int = 400
    ) -> datetime | None:
        """Earliest callable instant ``>= after`` (``after`` itself if callable),
        or None if nothing opens within ``horizon_days``."""
        r = self.next_open_ts(zones, _ts(after), horizon_days)
        return None if r is None else datetime.fromtimestamp(r, UTC)

    def closes_at(self, zones: tuple[str, ...], instant: datetime) -> datetime | None:
        """When the open period containing ``instant`` ends (None if closed now).

        Looks at most three UTC days ahead: a period open longer than that is
        reported as ending at the end of the third day."""
        ts = _ts(instant)
        day = int(ts // _DAY)
        end: int | None = None
        for d in range(day, day + 3):
            for s, e in self.open_intervals(zones, d):
                if end is None:
                    if s <= ts < e:
                        end = e
                elif s == end:
                    end = e
                elif s > end:
                    return datetime.fromtimestamp(end, UTC)
        return None if end is None else datetime.fromtimestamp(end, UTC)


def _ts(instant: datetime) -> float:
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware (UTC)")
    return instant.timestamp()


@lru_cache(maxsize=1024)
def evaluator_for(window: CallingWindow) -> WindowEvaluator:
    """A shared :class:`WindowEvaluator` for ``window`` (one per distinct window)."""
    return WindowEvaluator(window)


def is_callable(window: CallingWindow, zones: tuple[str, ...], instant_utc: datetime) -> bool:
    """True when ``instant_utc`` is open in every zone of ``zones`` under ``window``.

    See the module docstring for the exact semantics (DST gaps never open,
    repeated wall-clock times open only at their first occurrence).
    """
    return evaluator_for(window).is_callable(tuple(zones), instant_utc)


def next_open(
    window: CallingWindow, zones: tuple[str, ...], after_utc: datetime, horizon_days: int = 400
) -> datetime | None:
    """Earliest instant ``>= after_utc`` at which :func:`is_callable` is True, else None."""
    return evaluator_for(window).next_open(tuple(zones), after_utc, horizon_days)


def local_date_of(instant: datetime, zone: str) -> date:
    """The local calendar date of ``instant`` in ``zone``."""
    return instant.astimezone(ZoneInfo(zone)).date()
