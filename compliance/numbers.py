"""Phone number normalisation and time zones for numbers.

Every number the dialer stores, checks against DNC or dials is in E.164 form
(``+<country code><national number>``, digits only after the plus). This module
turns raw input into that form and maps a number to the time zones its
numbering range may be in (via ``phonenumbers.timezone``), and a contact to the zones its
calling window is evaluated in (:class:`ContactZonePolicy`).
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache

import phonenumbers
from phonenumbers import geocoder as pn_geocoder
from phonenumbers import timezone as pn_timezone

__all__ = [
    "InvalidNumber",
    "normalise",
    "is_e164",
    "zones_for_number",
    "zones_for_contact",
    "ContactZonePolicy",
    "region_for_number",
    "us_state_for_number",
]

_UNKNOWN_ZONE = "Etc/Unknown"


class InvalidNumber(ValueError):
    """A raw number could not be turned into a valid E.164 number.

    ``reason`` is a short machine-readable code (no digits of the number in it),
    safe to log and export: ``empty``, ``unparseable``, ``too_short``,
    ``too_long``, ``invalid_country_code``, ``not_a_number``, ``invalid``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_PARSE_REASONS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "invalid_country_code",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not_a_number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too_short",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too_short",
    phonenumbers.NumberParseException.TOO_LONG: "too_long",
}


def normalise(raw: str, default_region: str | None = None) -> str:
    """Return ``raw`` as an E.164 string, or raise :class:`InvalidNumber`.

    ``default_region`` (ISO 3166 alpha-2, e.g. ``"US"``, ``"GB"``) is used for
    numbers written in national form; numbers with a leading ``+`` or an
    international prefix ignore it. The result must be a *valid* number for its
    region according to phonenumbers' metadata (not merely possible), so
    unallocated ranges are rejected.

    >>> normalise("(202) 555-0143", "US")  # doctest: +SKIP
    '+12025550143'
    """
    if raw is None or not str(raw).strip():
        raise InvalidNumber("empty")
    fast = _fast_e164(str(raw), default_region)
    if fast is not None:
        return fast
    return parse_e164(str(raw), default_region)


def parse_e164(raw: str, default_region: str | None = None) -> str:
    """`normalise` through phonenumbers' full parser only (the reference for the fast path)."""
    if not raw.strip():
        raise InvalidNumber("empty")
    try:
        parsed = phonenumbers.parse(str(raw), default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(_PARSE_REASONS.get(exc.error_type, "unparseable")) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidNumber("invalid")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# Separators people put in numbers; a number made only of these and digits can skip the
# full parser (its regexes are most of the cost of a bulk import).
_SEPARATORS = str.maketrans("", "", " -.()/\t")


def _fast_e164(raw: str, default_region: str | None) -> str | None:
    """The E.164 form of a plain number without phonenumbers.parse, or None to parse fully.

    Covers "+<country code><national number>" and, for NANP regions, 10 or 11 (leading 1)
    national digits. Only a number phonenumbers itself calls valid is returned; anything
    else (national prefixes, extensions, letters, invalid) goes through the full parser,
    so the answer is always the one `phonenumbers.parse` would give.
    """
    digits = raw.translate(_SEPARATORS)
    if digits.startswith("+"):
        body = digits[1:]
        if not body.isdigit() or not 3 <= len(body) <= 15 or body[0] == "0":
            return None
        for size in (1, 2, 3):
            code = int(body[:size])
            if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
                national = body[size:]
                break
        else:
            return None
    elif default_region in _NANP_REGIONS and digits.isdigit():
        if len(digits) == 11 and digits[0] == "1":
            digits = digits[1:]
        if len(digits) != 10:
            return None
        code, national = 1, digits
    else:
        return None
    if not national or national[0] == "0":
        return None  # leading zeros (Italy) and national prefixes: the full parser decides
    number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
    if not phonenumbers.is_valid_number(number):
        return None
    return f"+{code}{national}"


_NANP_REGIONS = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(1, ()))

_E164_RE = re.compile(r"\+[1-9][0-9]{1,14}")
_E164_MATCH = _E164_RE.fullmatch


def is_e164(number: str) -> bool:
    """Cheap syntactic check: ``+`` followed by 2 to 15 ASCII digits, first digit not 0."""
    return _E164_MATCH(number) is not None


@lru_cache(maxsize=200_000)
def zones_for_number(e164: str) -> tuple[str, ...]:
    """IANA time zones the number's range may be in, sorted; ``()`` if unknown.

    Cached (LRU, 200 000 numbers). A mobile range often maps to many zones
    (e.g. Russian and Australian mobiles); a caller must then treat the number
    as callable only when *all* zones are open (see :mod:`compliance.windows`).
    """
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ()
    zones = pn_timezone.time_zones_for_number(parsed)
    return tuple(sorted(z for z in zones if z != _UNKNOWN_ZONE))


class ContactZonePolicy(StrEnum):
    """What a contact record's own time zone does to the zones its window is evaluated in.

    The record's zone (an address) and the number's zones (its area code) disagree for
    people who moved or kept a mobile from elsewhere; nobody knows which is right.
    """

    INTERSECT = "intersect"  # the record's zone AND every zone of the number must be open
    TRUST = "trust"  # the record's zone alone replaces the number's (address data trusted)


def zones_for_contact(
    contact_zone: str | None, e164: str, policy: ContactZonePolicy = ContactZonePolicy.INTERSECT
) -> tuple[str, ...]:
    """Zones to evaluate for a contact; it is callable only when all of them are open.

    Without a record zone: the number's zones. With one: under ``INTERSECT`` the record's
    zone first, then the number's other zones (the safe window: open only where every
    place the person may be is open); under ``TRUST`` the record's zone alone. The
    record's zone always comes first, so ``zones[0]`` is the contact's local day.
    """
    if not contact_zone:
        return zones_for_number(e164)
    if policy is ContactZonePolicy.TRUST:
        return (contact_zone,)
    return _with_number_zones(contact_zone, e164)


@lru_cache(maxsize=200_000)
def _with_number_zones(contact_zone: str, e164: str) -> tuple[str, ...]:
    return (contact_zone, *(z for z in zones_for_number(e164) if z != contact_zone))


@lru_cache(maxsize=200_000)
def region_for_number(e164: str) -> str | None:
    """ISO region code of a number (``"US"``, ``"GB"``...), or None if unknown."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.region_code_for_number(parsed)


_US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA",
    "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS",
    "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH",
    "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN",
    "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington": "WA",
    "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY", "Washington D.C.": "DC",
}
_US_CODES = frozenset(_US_STATES.values())


@lru_cache(maxsize=200_000)
def us_state_for_number(e164: str) -> str | None:
    """Two-letter US state of a US number's area code (phonenumbers geocoder), or None.

    An area code says where the number was issued, not where the person lives
    (number portability, mobiles), so prefer the contact record's state; a
    cautious campaign may apply both (see ``RegulationProfile.window_for``).
    """
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    if parsed.country_code != 1 or phonenumbers.region_code_for_number(parsed) != "US":
        return None
    desc = pn_geocoder.description_for_number(parsed, "en")
    if desc in _US_STATES:
        return _US_STATES[desc]
    _, _, tail = desc.rpartition(", ")
    return tail if tail in _US_CODES else None
