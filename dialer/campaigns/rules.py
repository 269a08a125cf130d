"""A campaign definition's compliance rules: its regulation profile with the campaign's
windows, retry settings and explicit overrides applied (`compliance.profiles`).

The same function validates a definition at `campaign apply` (every bad value named) and
builds the profile the engine enforces, so what was accepted is what runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from compliance.profiles import (
    OverrideError,
    RegulationProfile,
    apply_overrides,
    campaign_problems,
    get_profile,
)

if TYPE_CHECKING:
    from dialer.campaigns.definition import CampaignDefinition

_DAY_KEYS = {
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}


def overrides_for(definition: CampaignDefinition) -> dict[str, Any]:
    """The profile overrides a definition implies: its [windows], [retry] and [compliance]."""
    overrides: dict[str, Any] = {}
    windows = definition.windows
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
    retry = definition.retry
    overrides["max_attempts_total"] = retry.max_attempts
    overrides["max_attempts_per_day"] = retry.max_attempts_per_day
    overrides["min_gap_minutes"] = retry.min_gap_min
    if retry.rules:
        overrides["retry"] = {
            key: {"retry": rule.retry, "delays_minutes": list(rule.delays_min), "max": rule.max}
            for key, rule in retry.rules.items()
        }
    overrides.update(definition.compliance)
    return overrides


def _compile(definition: CampaignDefinition) -> tuple[RegulationProfile | None, list[tuple[str, str]]]:
    try:
        profile = apply_overrides(get_profile(definition.regulation), overrides_for(definition))
    except OverrideError as exc:
        return None, [(f"compliance.{key}", message) for key, message in exc.errors]
    problems = campaign_problems(
        profile,
        ring_timeout_s=definition.ring_timeout_s,
        caller_id=definition.caller_id,
        # The shipped dialplan plays the safe-harbour message and offers the opt-out key.
        safe_harbour_message=True,
        opt_out_key=True,
        connect_timeout_s=definition.connect_timeout_s,
    )
    target, cap = definition.pacing.abandon_target, profile.abandon_cap
    if target >= cap:
        # The policy aims at the target; the ledger holds the cap. A target at the cap
        # leaves no margin for the noise around it.
        problems.append(("pacing.abandon_target", f"{target:g} must be below the abandon cap of profile "
                         f"{profile.name} ({cap:g}); aim under it, e.g. {cap * 5 / 6:.3g}"))
    return profile, problems


def rule_problems(definition: CampaignDefinition) -> list[tuple[str, str]]:
    """Every way the definition breaks its regulation profile, as (key, message)."""
    return _compile(definition)[1]


def profile_for(definition: CampaignDefinition) -> RegulationProfile:
    """The profile the engine enforces for this campaign (definition already validated)."""
    profile, problems = _compile(definition)
    if profile is None or problems:
        raise ValueError(f"campaign {definition.name} breaks its rules: {problems}")
    return profile
