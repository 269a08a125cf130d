"""The checks the engine runs: a batch filter at claim time and the pre-originate check.

* :class:`ClaimChecker` — windows + DNC for a batch of claimed contacts (thousands
  per pacing tick). One per campaign; it keeps a :class:`WindowEvaluator` per
  state window, so the per-contact cost is a couple of dict lookups.
* :func:`pre_originate_check` — everything, for one contact, right before
  ``Originate``: number, DNC (including entries added seconds ago, since the
  engine updates its :class:`DncList` as it writes them), window, attempt
  limits and abandonment headroom. Returns a :class:`CheckResult` whose
  ``reason`` is a :class:`Reason` code (no personal data) for logs and metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from compliance.abandonment import AbandonmentLedger
from compliance.attempts import AttemptPolicy, AttemptRecord, NumberHistory, may_dial_now
from compliance.dnc import DncList, DncScope
from compliance.numbers import _E164_MATCH, is_e164
from compliance.profiles import RegulationProfile
from compliance.reasons import Reason
from compliance.windows import CallingWindow, WindowEvaluator, evaluator_for

__all__ = ["ClaimCandidate", "CheckResult", "ClaimChecker", "pre_originate_check"]


class ClaimCandidate(NamedTuple):
    """A contact as the claim query returns it.

    ``zones``: from :meth:`RegulationProfile.zones_for` (the number's zones, and
    the record's zone under the profile's contact-zone policy). ``subdivision``: the contact's state/region code
    when known (``"FL"``), for stricter state hours; ``"FL,GA"`` applies both
    (e.g. address state and area-code state).
    """

    number: str
    zones: tuple[str, ...]
    subdivision: str | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    allowed: bool
    reason: Reason
    not_before: datetime | None = None  # when the block clears, if known and cheap

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = CheckResult(True, Reason.OK)


class ClaimChecker:
    """Windows and DNC for a campaign's batch of claimed contacts.

    >>> # checker = ClaimChecker("c1", profile, dnc)
    >>> # reasons = checker.check_batch(candidates, now)   # list[Reason], Reason.OK = dial
    """

    __slots__ = ("campaign_id", "profile", "dnc", "_evaluators")

    def __init__(self, campaign_id: str, profile: RegulationProfile, dnc: DncList) -> None:
        self.campaign_id = campaign_id
        self.profile = profile
        self.dnc = dnc
        self._evaluators: dict[str | None, WindowEvaluator] = {}

    def evaluator(self, subdivision: str | None) -> WindowEvaluator:
        ev = self._evaluators.get(subdivision)
        if ev is None:
            ev = evaluator_for(self.profile.window_for(subdivision))
            self._evaluators[subdivision] = ev
        return ev

    def window_reason(self, ev: WindowEvaluator, zones: tuple[str, ...], ts: float) -> Reason:
        if ev.is_callable_ts(zones, ts):
            return Reason.OK
        if not zones and ev.window.fallback_zone is None:
            return Reason.UNKNOWN_TIMEZONE
        return Reason.OUTSIDE_WINDOW

    def check(self, c: ClaimCandidate, now: datetime) -> Reason:
        return self.check_batch((c,), now)[0]

    def check_batch(self, contacts: Sequence[ClaimCandidate], now: datetime) -> list[Reason]:
        """One :class:`Reason` per contact, in order (``Reason.OK`` = may dial now).

        Order of checks: E.164 syntax, DNC (global, then campaign), window.
        All contacts are checked at the same instant ``now``, so the window
        verdict is memoised per (subdivision, zones) within the batch.
        """
        ts = now.timestamp()
        glob, camp = self.dnc.lookup_tables(self.campaign_id)
        memo: dict[tuple[str | None, tuple[str, ...]], Reason] = {}
        out: list[Reason] = []
        append = out.append
        match = _E164_MATCH
        invalid, dnc_g, dnc_c = Reason.INVALID_NUMBER, Reason.DNC_GLOBAL, Reason.DNC_CAMPAIGN
        for number, zones, sub in contacts:
            if match(number) is None:
                append(invalid)
                continue
            rec = glob.get(number)
            if rec is not None and (rec[0] is None or now < rec[0]):
                append(dnc_g)
                continue
            rec = camp.get(number)
            if rec is not None and (rec[0] is None or now < rec[0]):
                append(dnc_c)
                continue
            key = (sub, zones)
            r = memo.get(key)
            if r is None:
                r = self.window_reason(self.evaluator(sub), zones, ts)
                memo[key] = r
            append(r)
        return out


def pre_originate_check(
    *,
    number: str,
    campaign_id: str,
    zones: tuple[str, ...],
    now: datetime,
    window: CallingWindow | WindowEvaluator,
    dnc: DncList,
    policy: AttemptPolicy,
    history: Sequence[AttemptRecord] = (),
    number_history: NumberHistory = NumberHistory(),
    ledger: AbandonmentLedger | None = None,
    agent_reserved: bool = False,
    is_callback: bool = False,
    next_attempt_at: datetime | None = None,
    day_zone: str = "UTC",
) -> CheckResult:
    """The last check before ``Originate``. First failing check wins:

    1. ``invalid_number`` — not E.164;
    2. ``dnc_global`` / ``dnc_campaign``;
    3. ``unknown_timezone`` / ``outside_window`` (``not_before`` = next opening);
    4. attempt policy (:func:`compliance.attempts.may_dial_now`): ``not_due``,
       ``max_attempts_total``, ``max_attempts_day``, ``min_gap``,
       ``abandon_cooldown``, ``machine_cooldown``;
    5. ``abandon_cap`` — with a ledger and no agent reserved for the call: the
       campaign's rate over the profile window is already at or above the cap
       (``D > 0``, ``N > 0`` and ``N >= cap × D``; a cap of 1.0 means no cap). The pacer sizes dialling with
       :meth:`AbandonmentLedger.headroom`; this check is the backstop.

    ``window`` is the contact's window (``profile.window_for(state)``) or an
    evaluator of it. ``agent_reserved``: an agent is waiting for this call
    (preview, progressive with reservation, personal callback).
    """
    if not is_e164(number):
        return CheckResult(False, Reason.INVALID_NUMBER)
    hit = dnc.check(number, campaign_id, now)
    if hit is not None:
        reason = Reason.DNC_GLOBAL if hit.scope is DncScope.GLOBAL else Reason.DNC_CAMPAIGN
        return CheckResult(False, reason, hit.expires_at)
    ev = window if isinstance(window, WindowEvaluator) else evaluator_for(window)
    if not ev.is_callable(zones, now):
        if not zones and ev.window.fallback_zone is None:
            return CheckResult(False, Reason.UNKNOWN_TIMEZONE)
        return CheckResult(False, Reason.OUTSIDE_WINDOW, ev.next_open(zones, now))
    v = may_dial_now(
        policy,
        history,
        now,
        number_history=number_history,
        agent_reserved=agent_reserved,
        day_zone=day_zone,
        next_attempt_at=next_attempt_at,
        is_callback=is_callback,
    )
    if not v.allowed:
        return CheckResult(False, v.reason, v.not_before)
    if ledger is not None and not agent_reserved and ledger.rule.cap < 1.0:
        snap = ledger.snapshot(now)
        cap_n = ledger.rule.cap * snap.denominator
        if snap.denominator > 0 and snap.numerator > 0 and snap.numerator >= cap_n - 1e-12:
            return CheckResult(False, Reason.ABANDON_CAP)
    return ALLOWED
