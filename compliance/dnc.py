"""Do-not-call entries and an in-memory checker.

The database stores one row per :class:`DncEntry` (number in E.164, campaign id
or NULL for global, source, reason, added_at, expires_at). :class:`DncList` is
the in-memory view the engine keeps as a cache (and tests use directly): set and
dict lookups, so checking a number costs two hash lookups.

Rules
-----
* Numbers are E.164 (see :func:`compliance.numbers.normalise`); :meth:`DncList.add`
  normalises, :meth:`DncList.is_blocked` requires E.164 and raises otherwise.
* An entry with ``campaign_id=None`` blocks the number for every campaign; an
  entry with a campaign id blocks it for that campaign only.
* ``expires_at=None`` never expires; otherwise the entry blocks while
  ``now < expires_at``. Several entries for the same (number, scope) combine:
  the latest expiry wins (``None`` beats any date).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from compliance.numbers import is_e164, normalise

__all__ = ["DncScope", "DncSource", "DncEntry", "DncHit", "DncList"]


class DncScope(StrEnum):
    GLOBAL = "global"
    CAMPAIGN = "campaign"


class DncSource(StrEnum):
    """Where a DNC entry came from (stored in the DB, shown in reports)."""

    REGISTRY = "registry"  # national registry file import (TPS, National DNC...)
    OPT_OUT_KEY = "opt_out_key"  # safe-harbour message opt-out key
    DISPOSITION = "disposition"  # agent disposition: refused, complaint, opt-out
    CLI = "cli"  # operator via `dialer dnc add`
    IMPORT = "import"  # company/customer list import
    API = "api"  # other integration (CRM, MQTT)


@dataclass(frozen=True, slots=True)
class DncEntry:
    number: str  # E.164
    campaign_id: str | None  # None = global
    source: DncSource
    reason: str = ""
    added_at: datetime | None = None
    expires_at: datetime | None = None

    @property
    def scope(self) -> DncScope:
        return DncScope.GLOBAL if self.campaign_id is None else DncScope.CAMPAIGN

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True, slots=True)
class DncHit:
    """Why a number is blocked (no number in it: safe to log)."""

    scope: DncScope
    source: DncSource
    expires_at: datetime | None


_Rec = tuple[datetime | None, DncSource]  # (expires_at, source)


def _better(a: _Rec | None, b: _Rec) -> _Rec:
    if a is None:
        return b
    if a[0] is None:
        return a
    if b[0] is None or b[0] > a[0]:
        return b
    return a


class DncList:
    """In-memory DNC checker: global and per-campaign entries with expiry.

    >>> from datetime import UTC, datetime
    >>> d = DncList()
    >>> d.add(DncEntry("+12025550143", None, DncSource.CLI))
    >>> d.is_blocked("+12025550143", "c1", datetime.now(UTC))
    True
    """

    __slots__ = ("_global", "_campaign", "default_region")

    def __init__(self, entries: Iterable[DncEntry] = (), default_region: str | None = None) -> None:
        self._global: dict[str, _Rec] = {}
        self._campaign: dict[str, dict[str, _Rec]] = {}
        self.default_region = default_region
        for e in entries:
            self.add(e)

    def __len__(self) -> int:
        return len(self._global) + sum(len(v) for v in self._campaign.values())

    def add(self, entry: DncEntry) -> None:
        """Add an entry (its number is normalised to E.164 first)."""
        number = entry.number if is_e164(entry.number) else normalise(entry.number, self.default_region)
        rec: _Rec = (entry.expires_at, entry.source)
        if entry.campaign_id is None:
            self._global[number] = _better(self._global.get(number), rec)
        else:
            camp = self._campaign.setdefault(entry.campaign_id, {})
            camp[number] = _better(camp.get(number), rec)

    def add_many(self, entries: Iterable[DncEntry]) -> None:
        for e in entries:
            self.add(e)

    def remove(self, number: str, campaign_id: str | None = None) -> bool:
        """Remove the (number, scope) entry; True if one existed."""
        number = number if is_e164(number) else normalise(number, self.default_region)
        if campaign_id is None:
            return self._global.pop(number, None) is not None
        camp = self._campaign.get(campaign_id)
        return camp is not None and camp.pop(number, None) is not None

    def check(self, number: str, campaign_id: str | None, now: datetime) -> DncHit | None:
        """The entry blocking ``number`` for ``campaign_id`` at ``now``, or None.

        ``number`` must be E.164 (ValueError otherwise). Global entries are
        reported before campaign ones.
        """
        if not is_e164(number):
            raise ValueError("DNC check needs an E.164 number; normalise it first")
        return self.check_e164(number, campaign_id, now)

    def check_e164(self, number: str, campaign_id: str | None, now: datetime) -> DncHit | None:
        """:meth:`check` without the E.164 syntax check (for callers that did it)."""
        rec = self._global.get(number)
        if rec is not None and (rec[0] is None or now < rec[0]):
            return DncHit(DncScope.GLOBAL, rec[1], rec[0])
        if campaign_id is not None:
            camp = self._campaign.get(campaign_id)
            if camp is not None:
                rec = camp.get(number)
                if rec is not None and (rec[0] is None or now < rec[0]):
                    return DncHit(DncScope.CAMPAIGN, rec[1], rec[0])
        return None

    def is_blocked(self, number: str, campaign_id: str | None, now: datetime) -> bool:
        """True when an active global or ``campaign_id`` entry blocks ``number`` at ``now``."""
        return self.check(number, campaign_id, now) is not None

    def lookup_tables(
        self, campaign_id: str | None
    ) -> tuple[dict[str, tuple[datetime | None, DncSource]], dict[str, tuple[datetime | None, DncSource]]]:
        """Read-only views for hot loops: (global, campaign) dicts of E.164 ->
        (expires_at, source). An entry blocks while ``expires_at is None or now < expires_at``.
        Do not mutate them."""
        camp = self._campaign.get(campaign_id, {}) if campaign_id is not None else {}
        return self._global, camp

    def purge_expired(self, now: datetime) -> int:
        """Drop entries expired at ``now``; returns how many were dropped."""
        n = 0
        for table in (self._global, *self._campaign.values()):
            dead = [k for k, (exp, _) in table.items() if exp is not None and now >= exp]
            for k in dead:
                del table[k]
            n += len(dead)
        return n
