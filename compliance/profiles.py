"""Regulation profiles: named bundles of compliance defaults, overridable per campaign.

========  =============================================================================
profile   defaults
========  =============================================================================
``us``    08:00–21:00 called party's local time every day (every zone the person may be
          in: the number's and the record's); stricter state hours where
          the contact's state is known (:data:`US_STATE_HOURS`); abandoned = a person
          answered and was not connected to an agent within 2 s; cap 3 % of calls
          answered by a person, per campaign, over every rolling 30 days; ring ≥ 15 s;
          recorded identification message with automated opt-out on abandoned calls.
``uk``    3 % of live calls per campaign over any rolling 24 h, AMD-detected machines
          counted by an estimated false-positive rate (default 2 %, *configure it from
          your own AMD tests*); no further call within 72 h of an abandoned call unless
          an agent is reserved (an abandoned call, a hang-up while queued or an
          opt-out); no further call within 24 h of an AMD-detected machine unless an
          agent is reserved; information message within 2 s; presentable caller id;
          default hours 08:00–21:00 (industry practice, not law).
``cn``    refusals and opt-outs are permanent, global (cross-campaign) DNC entries;
          09:00–12:00 and 14:00–20:00 every day; public holidays (CN) closed;
          recordings kept ≥ 30 days.
``none``  nothing beyond what the campaign sets (open 00:00–24:00, no cap); a
          contact record's zone is trusted over its number's.
========  =============================================================================

Contact zone (``contact_zone_policy``, campaign key ``contact_zone``): when a contact
record carries its own time zone and the number's area code says another, ``us``, ``uk``
and ``cn`` call only while *both* are open (``intersect``, the safe window the major
contact-centre suites use: the law protects the called party wherever they are, and
neither an address nor an area code proves where that is). ``none`` has no hours of
law to protect, so it keeps the operator's record (``trust``), as before. A campaign
whose address data is verified may set ``contact_zone = "trust"``.

Minimums: a campaign may not shorten the no-repeat periods of its profile (UK 72 h after
an abandoned call, 24 h after a machine), neither directly nor by a retry delay for those
outcomes; :func:`apply_overrides` refuses it, naming the key.

Every field can be overridden per campaign with :func:`apply_overrides`, which
takes a flat mapping (as parsed from a TOML campaign file) and raises
:class:`OverrideError` naming every bad field.

The US state table lists states known to restrict telephone-solicitation hours
more than the federal 08:00–21:00 (last reviewed for this release; laws change,
have counsel confirm before relying on it). Extend it with the ``state_hours``
override or :meth:`RegulationProfile.with_state_hours`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any

from compliance.abandonment import AbandonmentRule
from compliance.attempts import DEFAULT_RETRY_RULES, AttemptPolicy, RetryRule
from compliance.dnc import DncEntry, DncScope, DncSource
from compliance.numbers import ContactZonePolicy, zones_for_contact
from compliance.outcomes import Outcome
from compliance.windows import (
    CallingWindow,
    HolidayCalendar,
    WeeklySchedule,
    parse_spans,
    valid_zone,
)

__all__ = [
    "RegulationProfile",
    "OverrideError",
    "US_STATE_HOURS",
    "PROFILES",
    "get_profile",
    "apply_overrides",
    "OVERRIDE_FIELDS",
    "campaign_problems",
]


def _wk(**kw: str) -> WeeklySchedule:
    return WeeklySchedule.from_mapping(kw)


#: Stricter US state hours for telephone solicitation (local time of the called party).
US_STATE_HOURS: Mapping[str, WeeklySchedule] = MappingProxyType(
    {
        "FL": _wk(all="08:00-20:00"),
        "OK": _wk(all="08:00-20:00"),
        "MD": _wk(all="08:00-20:00"),
        "WA": _wk(all="08:00-20:00"),
        "CT": _wk(all="09:00-20:00"),
        "TX": _wk(weekdays="09:00-21:00", sat="09:00-21:00", sun="12:00-21:00"),
        "LA": _wk(weekdays="08:00-20:00", sat="08:00-20:00", sun=""),
        "MS": _wk(weekdays="08:00-20:00", sat="08:00-20:00", sun=""),
        "AL": _wk(weekdays="08:00-20:00", sat="08:00-20:00", sun=""),
        "RI": _wk(weekdays="09:00-18:00", sat="10:00-17:00", sun=""),
    }
)


@dataclass(frozen=True)
class RegulationProfile:
    """A named bundle of compliance settings. All fields are overridable."""

    name: str
    window: CallingWindow
    abandonment: AbandonmentRule
    attempts: AttemptPolicy
    state_hours: Mapping[str, WeeklySchedule] = field(default_factory=dict)
    min_ring_s: float | None = None
    safe_harbour_message: bool = False  # play identification + opt-out on abandoned calls
    opt_out_key: bool = False
    info_message_within_s: float | None = None
    presentable_cli_required: bool = False
    recording_retention_days: int | None = None
    dnc_expiry: timedelta | None = None  # for DNC entries this profile creates; None = never
    contact_zone_policy: ContactZonePolicy = ContactZonePolicy.INTERSECT
    _state_windows: dict[str, CallingWindow] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "state_hours", MappingProxyType({k.upper(): v for k, v in self.state_hours.items()})
        )

    @property
    def abandon_cap(self) -> float:
        return self.abandonment.cap

    def zones_for(self, contact_zone: str | None, number: str) -> tuple[str, ...]:
        """The zones a contact's window is evaluated in (all must be open), under this
        profile's :attr:`contact_zone_policy`; the record's zone, if any, first."""
        return zones_for_contact(contact_zone, number, self.contact_zone_policy)

    def window_for(self, *subdivisions: str | None) -> CallingWindow:
        """The calling window for a contact in the given subdivisions (e.g. ``"FL"``
        or ``"US-FL"``): the campaign window intersected with each listed state's
        hours found in the table. Pass several to be cautious, e.g. the state of
        the contact's address and the state of the number's area code
        (:func:`compliance.numbers.us_state_for_number`); a comma-separated
        string (``"FL,TX"``) counts as several. Memoised, so each
        combination gets one window object (and one evaluator)."""
        wanted = {
            part.strip().upper().removeprefix("US-")
            for s in subdivisions
            if s
            for part in s.split(",")
        }
        codes = tuple(sorted(wanted & self.state_hours.keys()))
        if not codes:
            return self.window
        key = ",".join(codes)
        got = self._state_windows.get(key)
        if got is None:
            sched = self.state_hours[codes[0]]
            for c in codes[1:]:
                sched = sched.intersect(self.state_hours[c])
            got = self.window.restricted_to(sched)
            self._state_windows[key] = got
        return got

    def dnc_entry(
        self,
        number: str,
        campaign_id: str,
        scope: DncScope,
        source: DncSource,
        now: datetime,
        reason: str = "",
    ) -> DncEntry:
        """The DNC row to write for a decision's ``dnc`` scope (global rows carry no
        campaign id; expiry from :attr:`dnc_expiry`, None = permanent)."""
        return DncEntry(
            number=number,
            campaign_id=None if scope is DncScope.GLOBAL else campaign_id,
            source=source,
            reason=reason,
            added_at=now,
            expires_at=None if self.dnc_expiry is None else now + self.dnc_expiry,
        )

    def with_state_hours(self, table: Mapping[str, WeeklySchedule]) -> RegulationProfile:
        merged = {**self.state_hours, **{k.upper(): v for k, v in table.items()}}
        return replace(self, state_hours=merged)


_ALWAYS = WeeklySchedule.every_day("00:00-24:00")

US = RegulationProfile(
    name="us",
    window=CallingWindow(WeeklySchedule.every_day("08:00-21:00")),
    abandonment=AbandonmentRule("us", timedelta(days=30), 0.03, connect_deadline_s=2.0),
    attempts=AttemptPolicy(refusal_dnc_scope=DncScope.GLOBAL),
    state_hours=US_STATE_HOURS,
    min_ring_s=15.0,
    safe_harbour_message=True,
    opt_out_key=True,
    info_message_within_s=2.0,
)

UK = RegulationProfile(
    name="uk",
    window=CallingWindow(WeeklySchedule.every_day("08:00-21:00")),
    abandonment=AbandonmentRule(
        "uk",
        timedelta(hours=24),
        0.03,
        connect_deadline_s=2.0,
        count_amd_false_positives=True,
        amd_fp_rate=0.02,
    ),
    attempts=AttemptPolicy(
        # Ofcom: no repeat within 72 h of an abandoned call, 24 h of an AMD-detected machine;
        # the retry delays say so too (the periods hold whatever the delays say).
        retry_rules={
            **DEFAULT_RETRY_RULES,
            Outcome.ABANDONED.value: RetryRule(True, (timedelta(hours=72),), 2),
            Outcome.QUEUE_HANGUP.value: RetryRule(True, (timedelta(hours=72),), 2),
            Outcome.MACHINE.value: RetryRule(True, (timedelta(hours=24),), 3),
        },
        no_repeat_after_abandon=timedelta(hours=72),
        no_repeat_after_machine=timedelta(hours=24),
    ),
    min_ring_s=15.0,
    safe_harbour_message=True,
    info_message_within_s=2.0,
    presentable_cli_required=True,
)

CN = RegulationProfile(
    name="cn",
    window=CallingWindow(
        WeeklySchedule.every_day("09:00-12:00,14:00-20:00"),
        holidays=(HolidayCalendar("CN"),),
    ),
    abandonment=AbandonmentRule("cn", timedelta(hours=24), 0.03, connect_deadline_s=2.0),
    attempts=AttemptPolicy(refusal_dnc_scope=DncScope.GLOBAL),
    recording_retention_days=30,
    dnc_expiry=None,
)

NONE = RegulationProfile(
    name="none",
    window=CallingWindow(_ALWAYS),
    abandonment=AbandonmentRule("none", timedelta(hours=24), 1.0, connect_deadline_s=2.0),
    attempts=AttemptPolicy(
        max_attempts_per_day=None, max_attempts_total=None, min_gap_same_number=timedelta(0)
    ),
    contact_zone_policy=ContactZonePolicy.TRUST,
)

PROFILES: Mapping[str, RegulationProfile] = MappingProxyType(
    {"us": US, "uk": UK, "cn": CN, "none": NONE}
)


def get_profile(name: str) -> RegulationProfile:
    try:
        return PROFILES[name.lower()]
    except KeyError:
        raise KeyError(f"unknown regulation profile {name!r} (known: {', '.join(PROFILES)})") from None


# ---------------------------------------------------------------------------
# Overrides


class OverrideError(ValueError):
    """Invalid campaign overrides. ``errors`` is a list of (field, message)."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{f}: {m}" for f, m in errors))


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    raise ValueError("must be true or false")


def _number(v: Any, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError("must be a number")
    x = float(v)
    if lo is not None and x < lo:
        raise ValueError(f"must be >= {lo:g}")
    if hi is not None and x > hi:
        raise ValueError(f"must be <= {hi:g}")
    return x


def _opt_int(v: Any, lo: int = 1) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError("must be an integer or null")
    if v < lo:
        raise ValueError(f"must be >= {lo}")
    return v


def _schedule(v: Any) -> WeeklySchedule:
    if isinstance(v, str):
        return WeeklySchedule.every_day(v)
    if isinstance(v, Mapping):
        return WeeklySchedule.from_mapping(v)
    raise ValueError('must be "HH:MM-HH:MM[,...]" or a table of weekday -> spans')


def _calendars(v: Any) -> tuple[HolidayCalendar, ...]:
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list | tuple):
        raise ValueError('must be a list like ["GB-ENG", "IE"]')
    out = []
    for it in items:
        if not isinstance(it, str) or not it:
            raise ValueError("holiday calendars are strings like 'US' or 'US-CA'")
        country, _, sub = it.partition("-")
        out.append(HolidayCalendar(country.upper(), sub.upper() or None))
    return tuple(out)


def _dates(v: Any) -> frozenset[date]:
    if not isinstance(v, list | tuple):
        raise ValueError("must be a list of ISO dates")
    return frozenset(x if isinstance(x, date) else date.fromisoformat(str(x)) for x in v)


def _hours_delta(v: Any) -> timedelta | None:
    return None if v is None else timedelta(hours=_number(v, 0))


def _retry_table(v: Any) -> dict[str, RetryRule]:
    if not isinstance(v, Mapping):
        raise ValueError("must be a table of outcome/disposition -> {retry, delays_minutes, max}")
    out: dict[str, RetryRule] = {}
    for key, spec in v.items():
        if isinstance(spec, bool):
            out[key] = RetryRule(retry=spec, delays=(timedelta(hours=1),))
            continue
        if not isinstance(spec, Mapping):
            raise ValueError(f"{key}: must be a table or true/false")
        unknown = set(spec) - {"retry", "delays_minutes", "delay_minutes", "max"}
        if unknown:
            raise ValueError(f"{key}: unknown keys {sorted(unknown)}")
        delays_raw = spec.get("delays_minutes", spec.get("delay_minutes", 60))
        delays_list = delays_raw if isinstance(delays_raw, list | tuple) else [delays_raw]
        delays = tuple(timedelta(minutes=_number(d, 0)) for d in delays_list)
        out[key] = RetryRule(
            retry=_bool(spec.get("retry", True)),
            delays=delays,
            max_attempts=_opt_int(spec.get("max")),
        )
    return out


def _state_table(v: Any) -> dict[str, WeeklySchedule]:
    if not isinstance(v, Mapping):
        raise ValueError("must be a table of state code -> schedule")
    return {str(k).upper(): _schedule(s) for k, s in v.items()}


_Setter = Callable[[RegulationProfile, Any], RegulationProfile]


def _w(p: RegulationProfile, **kw: Any) -> RegulationProfile:
    return replace(p, window=replace(p.window, **kw))


def _a(p: RegulationProfile, **kw: Any) -> RegulationProfile:
    return replace(p, abandonment=replace(p.abandonment, **kw))


def _t(p: RegulationProfile, **kw: Any) -> RegulationProfile:
    return replace(p, attempts=replace(p.attempts, **kw))


def _fallback_zone(v: Any) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str) or not valid_zone(v):
        raise ValueError("must be an IANA time zone like 'Europe/London' or null")
    return v


def _contact_zone(v: Any) -> ContactZonePolicy:
    try:
        return ContactZonePolicy(v)
    except ValueError:
        raise ValueError("must be 'intersect' (the number's zones and the record's) or 'trust' "
                         "(the record's zone alone)") from None


def _scope(v: Any) -> DncScope:
    try:
        return DncScope(v)
    except ValueError:
        raise ValueError("must be 'global' or 'campaign'") from None


#: Override keys accepted by :func:`apply_overrides`, with their setters.
OVERRIDE_FIELDS: Mapping[str, _Setter] = MappingProxyType(
    {
        "calling_hours": lambda p, v: _w(p, weekly=_schedule(v)),
        "blackout_dates": lambda p, v: _w(p, blackout_dates=_dates(v)),
        "holidays": lambda p, v: _w(p, holidays=_calendars(v)),
        "holiday_hours": lambda p, v: _w(p, holiday_spans=parse_spans(v)),
        "fallback_zone": lambda p, v: _w(p, fallback_zone=_fallback_zone(v)),
        "contact_zone": lambda p, v: replace(p, contact_zone_policy=_contact_zone(v)),
        "state_hours": lambda p, v: p.with_state_hours(_state_table(v)),
        "abandon_cap": lambda p, v: _a(p, cap=_number(v, 0, 1)),
        "abandon_window_hours": lambda p, v: _a(p, window=timedelta(hours=_number(v, 1 / 60))),
        "connect_deadline_s": lambda p, v: _a(p, connect_deadline_s=_number(v, 0, 60)),
        "count_amd_false_positives": lambda p, v: _a(p, count_amd_false_positives=_bool(v)),
        "amd_false_positive_rate": lambda p, v: _a(p, amd_fp_rate=_number(v, 0, 1)),
        "min_ring_s": lambda p, v: replace(p, min_ring_s=None if v is None else _number(v, 0, 300)),
        "safe_harbour_message": lambda p, v: replace(p, safe_harbour_message=_bool(v)),
        "opt_out_key": lambda p, v: replace(p, opt_out_key=_bool(v)),
        "info_message_within_s": lambda p, v: replace(
            p, info_message_within_s=None if v is None else _number(v, 0, 60)
        ),
        "presentable_cli_required": lambda p, v: replace(p, presentable_cli_required=_bool(v)),
        "recording_retention_days": lambda p, v: replace(
            p, recording_retention_days=_opt_int(v, 0)
        ),
        "dnc_expiry_days": lambda p, v: replace(
            p, dnc_expiry=None if v is None else timedelta(days=_number(v, 1))
        ),
        "refusal_dnc_scope": lambda p, v: _t(p, refusal_dnc_scope=_scope(v)),
        "max_attempts_per_day": lambda p, v: _t(p, max_attempts_per_day=_opt_int(v)),
        "max_attempts_total": lambda p, v: _t(p, max_attempts_total=_opt_int(v)),
        "min_gap_minutes": lambda p, v: _t(p, min_gap_same_number=timedelta(minutes=_number(v, 0))),
        "no_repeat_after_abandon_hours": lambda p, v: _t(
            p, no_repeat_after_abandon=_hours_delta(v)
        ),
        "no_repeat_after_machine_hours": lambda p, v: _t(
            p, no_repeat_after_machine=_hours_delta(v)
        ),
        "callbacks_bypass_limits": lambda p, v: _t(p, callbacks_bypass_limits=_bool(v)),
        "retry": lambda p, v: _t(
            p, retry_rules={**p.attempts.retry_rules, **_retry_table(v)}
        ),
    }
)


def apply_overrides(profile: RegulationProfile, overrides: Mapping[str, Any]) -> RegulationProfile:
    """A copy of ``profile`` with campaign ``overrides`` applied.

    Keys are those of :data:`OVERRIDE_FIELDS` (e.g. ``abandon_cap = 0.02``,
    ``calling_hours = {weekdays = "09:00-18:00", sat = "10:00-14:00"}``,
    ``holidays = ["GB-ENG"]``, ``retry = {busy = {delays_minutes = [10, 30], max = 4}}``).
    All keys are validated; :class:`OverrideError` lists every bad field with
    its message. ``retry`` entries must name a system outcome or a disposition
    code (checked only for shape here; unknown codes simply never match).
    """
    errors: list[tuple[str, str]] = []
    p = profile
    for key, value in overrides.items():
        setter = OVERRIDE_FIELDS.get(key)
        if setter is None:
            errors.append((key, "unknown setting"))
            continue
        try:
            p = setter(p, value)
        except (ValueError, TypeError, KeyError) as exc:
            errors.append((key, str(exc).strip("'\"")))
    if not errors:
        errors = _below_minimums(profile, p, overrides)
    if errors:
        raise OverrideError(errors)
    return p


_PERIODS = (
    ("no_repeat_after_abandon_hours", "no_repeat_after_abandon", "an abandoned call"),
    ("no_repeat_after_machine_hours", "no_repeat_after_machine", "an AMD-detected machine"),
)


def _below_minimums(
    base: RegulationProfile, p: RegulationProfile, overrides: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """Overrides that shorten a no-repeat period of ``base`` (a legal minimum), directly or
    by a retry delay for an outcome the period follows (``retry.<outcome>``)."""
    errors: list[tuple[str, str]] = []
    for key, attr, after in _PERIODS:
        floor, got = getattr(base.attempts, attr), getattr(p.attempts, attr)
        if key in overrides and floor is not None and (got is None or got < floor):
            errors.append((key, f"must be >= {_hours(floor)} under profile {base.name} "
                                f"(no repeat within {_hours(floor)} of {after})"))
    for key in overrides.get("retry") or {}:
        floor = base.attempts.no_repeat_after(key)
        rule = p.attempts.rule_for(key)
        if floor is None or not rule.retry or min(rule.delays) >= floor:
            continue
        errors.append((f"retry.{key}", f"delays must be >= {floor // timedelta(minutes=1)} minutes under "
                                       f"profile {base.name} (no repeat within {_hours(floor)} of a "
                                       f"call ending in {key})"))
    return errors


def _hours(delta: timedelta) -> str:
    return f"{delta / timedelta(hours=1):g} h"


def campaign_problems(
    profile: RegulationProfile,
    *,
    ring_timeout_s: float,
    caller_id: str | None,
    safe_harbour_message: bool,
    opt_out_key: bool,
    connect_timeout_s: float | None = None,
    recording_retention_days: int | None = None,
) -> list[tuple[str, str]]:
    """Campaign telephony settings the profile forbids, as (field, message) pairs.

    For the engine/CLI to refuse starting a campaign: ring timeout below the
    profile minimum (US/UK 15 s), missing presentable caller id (UK), no
    safe-harbour message or opt-out key where required, a queue connect timeout
    longer than the abandon deadline (a caller waiting 5 s is already abandoned),
    recordings kept less than the profile requires (CN 30 days).
    Empty list = compliant.
    """
    out: list[tuple[str, str]] = []
    if profile.min_ring_s is not None and ring_timeout_s < profile.min_ring_s:
        out.append(("ring_timeout_s", f"must be >= {profile.min_ring_s:g} s under profile {profile.name}"))
    if profile.presentable_cli_required and not (caller_id and caller_id.strip()):
        out.append(("caller_id", f"a presentable caller id is required under profile {profile.name}"))
    if profile.safe_harbour_message and not safe_harbour_message:
        out.append(("safe_harbour_message", f"required under profile {profile.name}"))
    if profile.opt_out_key and not opt_out_key:
        out.append(("opt_out_key", f"required under profile {profile.name}"))
    deadline = profile.abandonment.connect_deadline_s
    if connect_timeout_s is not None and profile.abandonment.cap < 1.0 and connect_timeout_s > deadline:
        out.append(
            ("connect_timeout_s", f"calls waiting over {deadline:g} s count as abandoned; "
             f"keep the queue timeout <= {deadline:g} s")
        )
    need = profile.recording_retention_days
    if need is not None and recording_retention_days is not None and recording_retention_days < need:
        out.append(("recording_retention_days", f"must be >= {need} under profile {profile.name}"))
    return out


def profile_field_names() -> tuple[str, ...]:
    """Names of the profile dataclass fields (documentation helper)."""
    return tuple(f.name for f in fields(RegulationProfile) if not f.name.startswith("_"))

