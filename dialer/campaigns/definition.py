"""Campaign definitions (TOML files applied with `dialer campaign apply`) and their life cycle.

A definition is validated as a whole before anything is stored; an error names the key
(`pacing.dial_level_max: ...`). The life cycle is a small state machine:

    draft -> approved -> pilot (a capped trial batch) -> running <-> paused -> stopped
                      \\-> running                                         \\-> completed
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from compliance.outcomes import DEFAULT_DISPOSITIONS, Outcome
from compliance.profiles import RegulationProfile
from dialer.campaigns.preview import PreviewSettings
from dialer.campaigns.rules import compile_profile
from dialer.db.models import CampaignState
from dialer.errors import UserError

DialMode = Literal["preview", "progressive", "ratio", "adaptive", "pi", "predictive"]
Regulation = Literal["us", "uk", "cn", "none"]
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
# An agent group (skill) name, as `dialer agents group` stores it (agents.groups).
GROUP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
# The regulation profile's short day names (compliance.profiles calling_hours keys).
_DAY_KEYS = {
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}


# An invalid or disconnected number (congestion covers invalid and unallocated numbers) or
# an agent's "wrong number": the next attempt dials the next number.
DEFAULT_ALT_NUMBERS_ON = ("congestion", "wrong_number")
# Profile fields a campaign's [compliance] may not set: what they describe is fixed by the
# shipped dialplan or checked nowhere, so a value there would change nothing.
NOT_OVERRIDABLE = {
    "safe_harbour_message": "the shipped dialplan always plays the safe-harbour message; this would change nothing",
    "opt_out_key": "the shipped dialplan always offers the opt-out key; this would change nothing",
    "info_message_within_s": "not enforced by the dialer (the message follows Queue() at connect_timeout_s)",
    "presentable_cli_required": "caller_id is always required; this would change nothing",
}


class DefinitionError(UserError):
    """A campaign file is unreadable or invalid; the message names the key and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PacingSettings(_Strict):
    dial_level: float = Field(default=1.0, ge=1.0, le=10.0,
                              description="ratio: calls per ready agent; adaptive: the starting level")
    dial_level_max: float = Field(default=3.0, ge=1.0, le=10.0)
    max_calls_in_flight: int = Field(default=200, ge=1, le=5000)
    max_attempts_per_agent_hour: int | None = Field(default=None, ge=1)
    max_occupancy: float | None = Field(default=None, gt=0.0, le=1.0)
    abandon_target: float = Field(default=0.025, ge=0.0, le=0.03,
                                  description="the rate adaptive, pi and predictive aim at; below the cap")


# Pacing settings only some modes use (the others, the limits, act in every mode).
MODE_SETTINGS: dict[str, tuple[str, ...]] = {
    "dial_level": ("ratio", "adaptive"),
    "abandon_target": ("adaptive", "pi", "predictive"),
    "max_occupancy": ("predictive",),
}


class WindowSettings(_Strict):
    """Calling hours in the contact's local time; spans like "09:00-12:00"."""

    monday: list[str] | None = None
    tuesday: list[str] | None = None
    wednesday: list[str] | None = None
    thursday: list[str] | None = None
    friday: list[str] | None = None
    saturday: list[str] | None = None
    sunday: list[str] | None = None
    holidays_country: str | None = Field(default=None, min_length=2, max_length=3)
    holidays_subdivision: str | None = None
    blackout_dates: list[str] = Field(default_factory=list)
    fallback_timezone: str | None = None

    @field_validator(*WEEKDAYS)
    @classmethod
    def _check_spans(cls, spans: list[str] | None) -> list[str] | None:
        for span in spans or []:
            match = _SPAN.match(span)
            if not match:
                raise ValueError(f"span {span!r} is not HH:MM-HH:MM")
            start = int(match[1]) * 60 + int(match[2])
            end = int(match[3]) * 60 + int(match[4])
            if end <= start or end > 24 * 60:
                raise ValueError(f"span {span!r} ends before it starts")
        return spans

    @field_validator("blackout_dates")
    @classmethod
    def _check_dates(cls, dates: list[str]) -> list[str]:
        from datetime import date

        for value in dates:
            try:
                date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"blackout date {value!r} is not YYYY-MM-DD") from None
        return dates

    @field_validator("fallback_timezone")
    @classmethod
    def _check_zone(cls, zone: str | None) -> str | None:
        if zone is not None:
            _check_timezone(zone)
        return zone

    @model_validator(mode="after")
    def _check_subdivision(self) -> WindowSettings:
        if self.holidays_subdivision and not self.holidays_country:
            raise ValueError("holidays_subdivision needs holidays_country (e.g. US and CA)")
        return self


class RetrySetting(_Strict):
    """A [retry.rules] entry: how one outcome or disposition is retried."""

    retry: bool = True
    delays_min: list[float] = Field(default_factory=lambda: [60.0], description="minutes; last repeats")
    max: int = Field(default=3, ge=1, description="at most this many attempts may end in this result")

    @field_validator("delays_min")
    @classmethod
    def _positive(cls, delays: list[float]) -> list[float]:
        if any(delay < 0 for delay in delays):
            raise ValueError("delays must be >= 0 minutes")
        return delays

    @model_validator(mode="after")
    def _check_used(self) -> RetrySetting:
        # By value, not by the keys given: stored settings hold every field.
        unused = [key for key in ("delays_min", "max") if getattr(self, key) != _RETRY_DEFAULTS[key]]
        if not self.retry and unused:
            raise ValueError(f"retry = false never retries: {' and '.join(unused)} would do nothing; remove them")
        return self


_RETRY_DEFAULTS = {"delays_min": [60.0], "max": 3}


class RetrySettings(_Strict):
    max_attempts: int = Field(default=6, ge=1, le=100)
    max_attempts_per_day: int = Field(default=3, ge=1, le=50)
    min_gap_min: float = Field(default=60.0, ge=0, description="between calls to one number, all campaigns")
    rules: dict[str, RetrySetting] = Field(default_factory=dict, description="per outcome or disposition")


class DispositionSetting(_Strict):
    """A [[dispositions]] entry: a code agents may apply (compliance.outcomes.Disposition)."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    label: str
    final: bool = True
    retry: bool = False
    retry_after_min: float | None = Field(default=None, ge=0)
    add_dnc: bool = False
    contact_made: bool = True
    success: bool = False
    callback: bool = False

    @model_validator(mode="after")
    def _check_flags(self) -> DispositionSetting:
        # Flags the attempt policy would never act on are refused rather than ignored.
        problems = []
        if not self.contact_made:
            # Every disposition follows a call an agent took: false would change nothing.
            problems.append("contact_made = false is not used by the dialer (an agent took the call); remove it")
        if self.retry_after_min is not None and not self.retry:
            problems.append("retry_after_min needs retry = true")
        if self.retry and (self.success or self.add_dnc):
            problems.append("a success or add_dnc disposition finishes the contact: it cannot retry")
        if not self.final and not (self.retry or self.callback):
            problems.append("final = false needs retry = true or callback = true (else the contact is finished)")
        if problems:
            raise ValueError(f"disposition {self.code}: " + "; ".join(problems))
        return self


class CampaignDefinition(_Strict):
    name: str
    description: str = ""
    dial_mode: DialMode = "predictive"
    regulation: Regulation = "us"
    queue: str | None = Field(default=None, description="Asterisk queue; defaults to the name")
    caller_id: str = Field(min_length=1)
    dial_template: str = Field(default="PJSIP/{number}@carrier")
    ring_timeout_s: int = Field(default=25, ge=5, le=120)
    # Queue() takes whole seconds: below 1 s a real Asterisk times out at once.
    connect_timeout_s: float = Field(default=2.0, ge=1, le=60)
    amd: bool = False
    # MixMonitor each answered call; the attempt stores the file Asterisk reports (DialerRecording).
    record: bool = False
    pilot_limit: int = Field(default=100, ge=1)
    # The region of numbers written without +country code: `dialer contacts import` (main
    # and alternate numbers) and the DNC commands for this campaign use it.
    default_region: str = Field(default="US", min_length=2, max_length=2)
    # Results (system outcomes or disposition codes) after which the next attempt dials the
    # contact's next number (compliance.alternates); a final one finishes that number only.
    alt_numbers_on: list[str] = Field(default_factory=lambda: list(DEFAULT_ALT_NUMBERS_ON))
    script: str = ""
    agents: list[str] = Field(default_factory=list)
    # Agent groups (skills) whose members work this campaign too (`dialer agents group`).
    agent_groups: list[str] = Field(default_factory=list)
    # Campaigns sharing agents: a higher priority is served first (its queue's weight in
    # Asterisk, its share of the floor in pacing); among equal priorities, agents are
    # shared in proportion to weight.
    priority: int = Field(default=0, ge=0, le=100)
    weight: int = Field(default=1, ge=1, le=100)
    # Personal callbacks (booked by an agent for himself): dialled for that agent alone
    # while he is logged in and ready, waited for up to `callback_grace_min` after the
    # booked time; then "pool" calls the contact through the queue (any agent), and
    # "reschedule" books it again for the same agent the next day at the same local time.
    callback_grace_min: int = Field(default=15, ge=0, le=1440)
    callback_fallback: Literal["pool", "reschedule"] = "pool"
    pacing: PacingSettings = Field(default_factory=PacingSettings)
    # Offers to agents in dial_mode "preview" (dialer/campaigns/preview.py).
    preview: PreviewSettings = Field(default_factory=PreviewSettings)
    windows: WindowSettings = Field(default_factory=WindowSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    dispositions: list[DispositionSetting] | None = None
    # Any other regulation-profile override (compliance.profiles.OVERRIDE_FIELDS),
    # e.g. abandon_cap, state_hours, no_repeat_after_abandon_hours, contact_zone.
    compliance: dict[str, Any] = Field(default_factory=dict)

    @field_validator("default_region")
    @classmethod
    def _check_region(cls, region: str) -> str:
        import phonenumbers

        region = region.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {region!r} (an ISO 3166 code such as US, GB, CN)")
        return region

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError("use lowercase letters, digits, '-', '_' or '.', at most 63 characters")
        return name

    @field_validator("caller_id", "dial_template", "queue", "agents")
    @classmethod
    def _check_ami_values(cls, value: str | list[str] | None) -> str | list[str] | None:
        # These go into AMI headers (Originate, QueueAdd): a line break would end the
        # header, or the action, early and inject another.
        for item in [value] if isinstance(value, str) else value or []:
            bad = next((ch for ch in item if ord(ch) < 32 or ord(ch) == 127), None)
            if bad is not None:
                raise ValueError(f"must not contain control characters such as line breaks (found {bad!r})")
        return value

    @field_validator("agent_groups")
    @classmethod
    def _check_groups(cls, groups: list[str]) -> list[str]:
        for group in groups:
            if not GROUP_NAME.match(group):
                raise ValueError(f"group {group!r}: use lowercase letters, digits, '-' or '_', at most 32 characters")
        if len(set(groups)) != len(groups):
            raise ValueError("a group is named twice")
        return groups

    @field_validator("dial_template")
    @classmethod
    def _check_template(cls, template: str) -> str:
        if "{number}" not in template:
            raise ValueError("must contain {number}")
        try:
            template.format(number="0")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"only {{number}} may be substituted ({exc})") from None
        return template

    @model_validator(mode="after")
    def _check_codes(self) -> CampaignDefinition:
        if self.dispositions is not None:
            codes = [d.code for d in self.dispositions]
            duplicates = sorted({code for code in codes if codes.count(code) > 1})
            if duplicates:
                raise ValueError(f"disposition codes repeated: {', '.join(duplicates)}")
        return self

    @field_validator("compliance")
    @classmethod
    def _check_compliance(cls, overrides: dict[str, Any]) -> dict[str, Any]:
        problems = [f"compliance.{key}: {why}" for key, why in NOT_OVERRIDABLE.items() if key in overrides]
        if problems:
            raise ValueError("; ".join(problems))
        return overrides

    @model_validator(mode="after")
    def _check_result_names(self) -> CampaignDefinition:
        # A result name that matches no outcome or disposition would never act.
        known = {o.value for o in Outcome} | {d.code for d in DEFAULT_DISPOSITIONS}
        known |= {d.code for d in self.dispositions or []}
        named = [("alt_numbers_on", key) for key in self.alt_numbers_on]
        named += [("retry.rules", key) for key in self.retry.rules]
        named += [("compliance.retry", key) for key in self.compliance.get("retry") or {}]
        unknown = [f"{where}: unknown outcome or disposition {key!r}" for where, key in named if key not in known]
        if unknown:
            raise ValueError("; ".join(unknown) + f" (known: {', '.join(sorted(known))})")
        return self

    @model_validator(mode="after")
    def _check_pacing(self) -> CampaignDefinition:
        # A pacing setting the chosen mode never reads is refused rather than ignored.
        pacing, mode, defaults = self.pacing, self.dial_mode, PacingSettings()
        problems = []
        for key, modes in MODE_SETTINGS.items():
            if mode != "preview" and mode not in modes and getattr(pacing, key) != getattr(defaults, key):
                used = ", ".join(modes)
                problems.append(f"pacing.{key}: dial_mode {mode} does not use it (only {used}); remove it")
        if mode == "preview":
            # One call per accepted offer: no pacing, so no pacing setting acts.
            problems.extend(f"pacing.{key}: dial_mode preview places one call per accepted offer; remove it"
                            for key in PacingSettings.model_fields
                            if getattr(pacing, key) != getattr(defaults, key))
            if self.connect_timeout_s != CampaignDefinition.model_fields["connect_timeout_s"].default:
                problems.append("connect_timeout_s: dial_mode preview puts the customer straight through to the "
                                "agent who accepted (no queue wait); remove it")
        elif self.preview != PreviewSettings():
            problems.append(f"preview: dial_mode {mode} makes no offers; remove the [preview] table")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _check_rules(self) -> CampaignDefinition:
        problems = self._compiled[1]
        if problems:
            raise ValueError("; ".join(f"{key}: {message}" for key, message in problems))
        return self

    @cached_property
    def _compiled(self) -> tuple[RegulationProfile | None, list[tuple[str, str]]]:
        # Built once, while validating; kept beside the fields (not one of them, so not
        # compared or dumped) for the engine to enforce.
        return compile_profile(
            self.regulation,
            self.profile_overrides(),
            ring_timeout_s=self.ring_timeout_s,
            caller_id=self.caller_id,
            connect_timeout_s=self.connect_timeout_s,
            # Preview is not paced: no target to keep under the cap (pacing keys are refused).
            abandon_target=0.0 if self.dial_mode == "preview" else self.pacing.abandon_target,
        )

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copy = super().model_copy(update=update, deep=deep)
        if update:
            # The copy's values may differ: its profile is built afresh when asked for.
            copy.__dict__.pop("_compiled", None)
        return copy

    @property
    def profile(self) -> RegulationProfile:
        """The regulation profile the engine enforces for this campaign (`compliance.profiles`)."""
        profile, problems = self._compiled
        if profile is None or problems:
            raise ValueError(f"campaign {self.name} breaks its rules: {problems}")
        return profile

    def profile_overrides(self) -> dict[str, Any]:
        """The profile overrides this file implies: its [windows], [retry] and [compliance]."""
        overrides: dict[str, Any] = {}
        windows = self.windows
        days = {key: ",".join(getattr(windows, day)) for day, key in _DAY_KEYS.items()
                if getattr(windows, day) is not None}
        if days:
            # Days the file names get those hours; days it leaves out are closed.
            overrides["calling_hours"] = days
        if windows.blackout_dates:
            overrides["blackout_dates"] = list(windows.blackout_dates)
        if windows.holidays_country:
            code = windows.holidays_country.upper()
            if windows.holidays_subdivision:
                code = f"{code}-{windows.holidays_subdivision.upper()}"
            overrides["holidays"] = [code]
        if windows.fallback_timezone:
            overrides["fallback_zone"] = windows.fallback_timezone
        retry = self.retry
        overrides["max_attempts_total"] = retry.max_attempts
        overrides["max_attempts_per_day"] = retry.max_attempts_per_day
        overrides["min_gap_minutes"] = retry.min_gap_min
        if retry.rules:
            overrides["retry"] = {
                key: {"retry": rule.retry, "delays_minutes": list(rule.delays_min), "max": rule.max}
                for key, rule in retry.rules.items()
            }
        overrides.update(self.compliance)
        return overrides

    @property
    def queue_name(self) -> str:
        return self.queue or self.name


def profile_for(definition: CampaignDefinition) -> RegulationProfile:
    """The profile the engine enforces for this campaign (definition already validated)."""
    return definition.profile


def _check_timezone(zone: str) -> None:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {zone!r}") from None


def parse_definition(data: dict[str, Any], source: str = "campaign") -> CampaignDefinition:
    try:
        return CampaignDefinition.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "is not a known key"
            elif error["type"] == "missing":
                message = "is required"
            problems.append(f"{key}: {message}" if key else message)
        raise DefinitionError(f"{source}: " + "; ".join(problems)) from None


def load_definition(path: Path) -> CampaignDefinition:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DefinitionError(f"{path}: no such file") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DefinitionError(f"{path}: not a valid TOML file ({exc})") from None
    return parse_definition(data, str(path))


# --- life cycle -------------------------------------------------------------------------

S = CampaignState


@dataclass(frozen=True)
class Transition:
    command: str
    allowed_from: frozenset[CampaignState]
    to: CampaignState | None  # None: decided by history (resume)


TRANSITIONS: dict[str, Transition] = {
    t.command: t
    for t in (
        Transition("approve", frozenset({S.DRAFT}), S.APPROVED),
        Transition("pilot", frozenset({S.APPROVED}), S.PILOT),
        Transition("start", frozenset({S.APPROVED, S.PILOT}), S.RUNNING),
        Transition("pause", frozenset({S.PILOT, S.RUNNING}), S.PAUSED),
        Transition("resume", frozenset({S.PAUSED}), None),
        Transition(
            "stop", frozenset({S.DRAFT, S.APPROVED, S.PILOT, S.RUNNING, S.PAUSED}), S.STOPPED
        ),
        Transition("complete", frozenset({S.PILOT, S.RUNNING, S.PAUSED}), S.COMPLETED),
    )
}

DIALLING_STATES = frozenset({S.PILOT, S.RUNNING})
TERMINAL_STATES = frozenset({S.STOPPED, S.COMPLETED})


class IllegalTransition(UserError):
    pass


def next_state(
    command: str, current: CampaignState, paused_from: CampaignState | None = None
) -> CampaignState:
    """The state `command` leads to from `current`, or IllegalTransition saying why not.

    `paused_from` is the state a paused campaign was paused from (pilot or running), so
    that resuming a paused pilot stays a capped pilot.
    """
    transition = TRANSITIONS.get(command)
    if transition is None:
        raise IllegalTransition(f"unknown campaign command {command!r}")
    if current not in transition.allowed_from:
        allowed = ", ".join(sorted(state.value for state in transition.allowed_from))
        raise IllegalTransition(
            f"cannot {command} a campaign that is {current.value} (only from: {allowed})"
        )
    if transition.to is None:
        return paused_from if paused_from in DIALLING_STATES else S.RUNNING
    return transition.to
