"""Reason codes returned by compliance checks and decisions.

Values are stable, lower-case identifiers suitable for logs and metric labels;
they never contain a phone number or any personal data.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Reason"]


class Reason(StrEnum):
    OK = "ok"
    # number / DNC
    INVALID_NUMBER = "invalid_number"
    DNC_GLOBAL = "dnc_global"
    DNC_CAMPAIGN = "dnc_campaign"
    # windows
    UNKNOWN_TIMEZONE = "unknown_timezone"
    OUTSIDE_WINDOW = "outside_window"
    NO_OPEN_WINDOW = "no_open_window"  # nothing opens within the search horizon
    # attempt policy
    NOT_DUE = "not_due"
    MAX_ATTEMPTS_TOTAL = "max_attempts_total"
    MAX_ATTEMPTS_DAY = "max_attempts_day"
    MIN_GAP = "min_gap"
    ABANDON_COOLDOWN = "abandon_cooldown"
    MACHINE_COOLDOWN = "machine_cooldown"  # UK: no repeat within 24 h of an AMD-detected machine
    # abandonment
    ABANDON_CAP = "abandon_cap"
    # decisions after an outcome
    RETRY = "retry"
    CALLBACK = "callback"
    CALLBACK_SHIFTED = "callback_shifted"  # requested time closed; moved to next opening
    FINAL_OUTCOME = "final_outcome"
    SUCCESS = "success"
    DNC_ADDED = "dnc_added"
    RETRY_DISABLED = "retry_disabled"
    MAX_RETRIES_OUTCOME = "max_retries_outcome"
    NEXT_NUMBER = "next_number"  # the next attempt dials the contact's next number
