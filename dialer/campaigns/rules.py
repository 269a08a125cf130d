"""A campaign's compliance rules: its regulation profile with the campaign's overrides
applied and checked against the campaign's other settings (`compliance.profiles`).

Plain values in, so the definition can call it while validating: the profile it builds
there is the one the engine enforces (`CampaignDefinition.profile`), so what was accepted
is what runs.
"""

from __future__ import annotations

from typing import Any

from compliance.profiles import (
    OverrideError,
    RegulationProfile,
    apply_overrides,
    campaign_problems,
    get_profile,
)


def compile_profile(
    regulation: str,
    overrides: dict[str, Any],
    *,
    ring_timeout_s: int,
    caller_id: str,
    connect_timeout_s: float,
    abandon_target: float,
) -> tuple[RegulationProfile | None, list[tuple[str, str]]]:
    """The campaign's profile and every way the campaign breaks it, as (key, message).

    The profile is None when an override itself is refused.
    """
    try:
        profile = apply_overrides(get_profile(regulation), overrides)
    except OverrideError as exc:
        return None, [(_file_key(key), message) for key, message in exc.errors]
    problems = campaign_problems(
        profile,
        ring_timeout_s=ring_timeout_s,
        caller_id=caller_id,
        # The shipped dialplan plays the safe-harbour message and offers the opt-out key.
        safe_harbour_message=True,
        opt_out_key=True,
        connect_timeout_s=connect_timeout_s,
    )
    # Recordings are kept at least as long as the regulation's profile says (cn: 30 days);
    # a campaign may keep them longer, or for ever (no retention: never purged).
    least = get_profile(regulation).recording_retention_days
    kept = profile.recording_retention_days
    if least is not None and kept is not None and kept < least:
        problems.append(("compliance.recording_retention_days",
                         f"{kept} days is shorter than the {least} days profile {profile.name} requires"))
    cap = profile.abandon_cap
    if abandon_target >= cap:
        # The policy aims at the target; the ledger holds the cap. A target at the cap
        # leaves no margin for the noise around it.
        problems.append(("pacing.abandon_target", f"{abandon_target:g} must be below the abandon cap of profile "
                         f"{profile.name} ({cap:g}); aim under it, e.g. {cap * 5 / 6:.3g}"))
    return profile, problems


def _file_key(key: str) -> str:
    """Where an override refused by the profile sits in the campaign file: a retry rule
    refused for one outcome (``retry.machine``) is the file's ``[retry.rules.machine]``."""
    head, _, outcome = key.partition(".")
    if head == "retry" and outcome:
        return f"retry.rules.{outcome}"
    return f"compliance.{key}"
