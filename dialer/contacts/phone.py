"""Phone number normalisation for bulk work (contact import, DNC registry files).

The rule itself is `compliance.numbers.normalise`; this adds the operator-facing wording
and a chunked form for worker processes, so a chunk of numbers costs one round trip.
"""

from __future__ import annotations

import phonenumbers

from compliance.numbers import InvalidNumber, normalise

REASON_TEXT = {
    "empty": "number is empty",
    "unparseable": "not a phone number",
    "not_a_number": "not a phone number",
    "invalid_country_code": "unknown country code",
    "too_short": "too short",
    "too_long": "too long",
    "invalid": "not a valid number",
}


def normalise_one(raw: str, region: str) -> tuple[str | None, str | None]:
    """(E.164, None), or (None, a reason an operator understands)."""
    try:
        return normalise(raw, region), None
    except InvalidNumber as exc:
        if exc.reason == "invalid":
            return None, _why_invalid(raw, region)
        return None, REASON_TEXT.get(exc.reason, exc.reason)


def _why_invalid(raw: str, region: str) -> str:
    """Say "too short" or "too long" when that is why a parsed number is not valid."""
    possible = phonenumbers.is_possible_number_with_reason(phonenumbers.parse(raw, region))
    if possible == phonenumbers.ValidationResult.TOO_SHORT:
        return "too short"
    if possible == phonenumbers.ValidationResult.TOO_LONG:
        return "too long"
    return REASON_TEXT["invalid"]


def normalise_chunk(raws: list[str], region: str) -> list[tuple[str | None, str | None]]:
    return [normalise_one(raw, region) for raw in raws]
