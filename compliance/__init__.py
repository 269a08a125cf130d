"""Compliance: calling windows, DNC, abandonment accounting, attempt policy.

Pure code: plain data in, decisions out. No asyncio, SQL or sockets.
Every ``datetime`` passed in or returned is timezone-aware (UTC recommended);
numbers are E.164 strings (:func:`normalise`). Reason codes (:class:`Reason`)
never contain personal data.

Modules: :mod:`~compliance.numbers` (E.164, zones), :mod:`~compliance.windows`
(calling windows), :mod:`~compliance.dnc`, :mod:`~compliance.abandonment`
(ledger), :mod:`~compliance.outcomes` (outcomes, dispositions),
:mod:`~compliance.attempts` (retry and limits), :mod:`~compliance.profiles`
(us, uk, cn, none), :mod:`~compliance.check` (claim batch + pre-originate).
"""

from compliance.abandonment import AbandonmentLedger, AbandonmentRule, LedgerSnapshot, OutcomeRecord
from compliance.attempts import (
    AttemptPolicy,
    AttemptRecord,
    CallbackRequest,
    DecisionKind,
    NumberHistory,
    RetryDecision,
    RetryRule,
    Verdict,
    may_dial_now,
    next_action,
    resolve_local_time,
)
from compliance.check import CheckResult, ClaimCandidate, ClaimChecker, pre_originate_check
from compliance.dnc import DncEntry, DncHit, DncList, DncScope, DncSource
from compliance.numbers import (
    ContactZonePolicy,
    InvalidNumber,
    is_e164,
    normalise,
    region_for_number,
    us_state_for_number,
    zones_for_contact,
    zones_for_number,
)
from compliance.outcomes import (
    ABANDON_OUTCOMES,
    DEFAULT_DISPOSITIONS,
    HUMAN_ANSWERED,
    Disposition,
    DispositionSet,
    DncAction,
    Outcome,
    OutcomeFlags,
)
from compliance.profiles import (
    PROFILES,
    US_STATE_HOURS,
    OverrideError,
    RegulationProfile,
    apply_overrides,
    campaign_problems,
    get_profile,
)
from compliance.reasons import Reason
from compliance.windows import (
    CallingWindow,
    HolidayCalendar,
    Span,
    WeeklySchedule,
    WindowEvaluator,
    evaluator_for,
    is_callable,
    next_open,
    parse_spans,
)

__all__ = [
    "AbandonmentLedger", "AbandonmentRule", "LedgerSnapshot", "OutcomeRecord",
    "AttemptPolicy", "AttemptRecord", "CallbackRequest", "DecisionKind", "NumberHistory",
    "RetryDecision", "RetryRule", "Verdict", "may_dial_now", "next_action", "resolve_local_time",
    "CheckResult", "ClaimCandidate", "ClaimChecker", "pre_originate_check",
    "DncEntry", "DncHit", "DncList", "DncScope", "DncSource",
    "ContactZonePolicy", "InvalidNumber", "is_e164", "normalise", "region_for_number", "us_state_for_number",
    "zones_for_contact",
    "zones_for_number",
    "ABANDON_OUTCOMES", "DEFAULT_DISPOSITIONS", "HUMAN_ANSWERED", "Disposition", "DispositionSet", "DncAction",
    "Outcome", "OutcomeFlags",
    "PROFILES", "US_STATE_HOURS", "OverrideError", "RegulationProfile", "apply_overrides",
    "campaign_problems", "get_profile",
    "Reason",
    "CallingWindow", "HolidayCalendar", "Span", "WeeklySchedule", "WindowEvaluator",
    "evaluator_for", "is_callable", "next_open", "parse_spans",
]
