"""Phone number normalisation for bulk work (import, DNC registry files).

Runs in worker processes: plain functions over lists of strings, returning
(E.164 or None, reason or None) so a whole chunk costs one round trip.
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}


def normalise_one(raw: str, region: str) -> tuple[str | None, str | None]:
    text = raw.strip()
    if not text:
        return None, "number is empty"
    try:
        parsed = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        return None, _PARSE_REASONS.get(exc.error_type, "not a phone number")
    if not phonenumbers.is_valid_number(parsed):
        possible = phonenumbers.is_possible_number_with_reason(parsed)
        if possible == phonenumbers.ValidationResult.TOO_SHORT:
            return None, "too short"
        if possible == phonenumbers.ValidationResult.TOO_LONG:
            return None, "too long"
        return None, "not a valid number"
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164), None


def normalise_chunk(raws: list[str], region: str) -> list[tuple[str | None, str | None]]:
    return [normalise_one(raw, region) for raw in raws]
