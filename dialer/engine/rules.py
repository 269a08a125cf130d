"""A running campaign's rules: profile, windows, dispositions, and the decisions they make.

Pure: compliance objects in, decisions out; the runner does the I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from compliance.attempts import (
    AttemptRecord,
    CallbackRequest,
    DecisionKind,
    NumberHistory,
    RetryDecision,
    may_dial_now,
    next_action,
)
from compliance.dnc import DncScope
from compliance.numbers import us_state_for_number
from compliance.outcomes import Disposition, DispositionSet, DncAction, Outcome, OutcomeFlags
from compliance.profiles import RegulationProfile
from compliance.reasons import Reason
from compliance.windows import WindowEvaluator, evaluator_for
from dialer.campaigns.definition import CampaignDefinition, profile_for
from dialer.engine.store import ClaimedContact, ContactDecision

EXHAUSTED_REASONS = frozenset({Reason.MAX_ATTEMPTS_TOTAL, Reason.MAX_RETRIES_OUTCOME, Reason.NO_OPEN_WINDOW})
SYSTEM_DISPOSITION = "no_disposition"  # applied when an agent leaves a call undispositioned


def _dispositions(definition: CampaignDefinition) -> DispositionSet:
    base = DispositionSet.default()
    if not definition.dispositions:
        return base
    own = []
    for d in definition.dispositions:
        dnc = DncAction.PROFILE if d.add_dnc else DncAction.NONE
        flags = OutcomeFlags(
            final=d.final and not d.retry, retry=d.retry, dnc=dnc, contact_made=d.contact_made,
            success=d.success, callback=d.callback,
        )
        own.append(Disposition(d.code, d.label, flags))
    return base.with_overrides(own)


@dataclass
class CampaignRules:
    definition: CampaignDefinition
    profile: RegulationProfile = field(init=False)
    dispositions: DispositionSet = field(init=False)

    def __post_init__(self) -> None:
        self.profile = profile_for(self.definition)
        self.dispositions = _dispositions(self.definition)

    def zones(self, contact_zone: str | None, number: str) -> tuple[str, ...]:
        """Where the contact's window must be open (all of them), under the profile's
        contact-zone policy: by default the number's zones and the record's."""
        return self.profile.zones_for(contact_zone, number)

    def window(self, number: str) -> WindowEvaluator:
        state = us_state_for_number(number) if self.profile.state_hours else None
        return evaluator_for(self.profile.window_for(state))

    def day_zone(self, zones: tuple[str, ...]) -> str:
        return zones[0] if zones else (self.profile.window.fallback_zone or "UTC")

    def may_dial(self, contact: ClaimedContact, now: datetime) -> tuple[bool, Reason, datetime | None]:
        """Window and attempt limits for a claimed contact, right now."""
        zones = self.zones(contact.timezone, contact.number)
        window = self.window(contact.number)
        if not zones and self.profile.window.fallback_zone is None:
            return False, Reason.UNKNOWN_TIMEZONE, None
        if not window.is_callable(zones, now):
            return False, Reason.OUTSIDE_WINDOW, window.next_open(zones, now)
        # The limits count attempts (earlier days', then today's) and look at the last one.
        today = min(contact.today, contact.attempts)
        last = contact.last_attempt_at or now
        earlier = min(last, now - timedelta(days=2))
        history = [AttemptRecord(earlier, Outcome.UNKNOWN)] * (contact.attempts - today)
        history += [AttemptRecord(last, Outcome.UNKNOWN)] * today
        verdict = may_dial_now(
            self.profile.attempts, history, now,
            number_history=contact.number_history, day_zone=self.day_zone(zones),
            is_callback=contact.callback_due,
        )
        return verdict.allowed, verdict.reason, verdict.not_before

    def decide(
        self,
        *,
        attempt_id: str,
        campaign_id: int,
        contact_id: int,
        number: str,
        contact_zone: str | None,
        outcome: Outcome,
        history: Sequence[AttemptRecord],
        number_history: NumberHistory = NumberHistory(),
        disposition: str | None = None,
        callback_at: datetime | None = None,
        callback_agent: str | None = None,
        now: datetime | None = None,
    ) -> ContactDecision:
        now = now or datetime.now(UTC)
        zones = self.zones(contact_zone, number)
        callback = None
        if callback_at is not None:
            zone = self.day_zone(zones)
            local = callback_at.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
            callback = CallbackRequest(local, zone, callback_agent)
        if disposition is not None and disposition not in self.dispositions:
            disposition = None  # unknown codes are refused before they get here
        decision = next_action(
            self.profile.attempts, history, outcome, now,
            disposition=disposition, dispositions=self.dispositions, callback=callback,
            number_history=number_history, window=self.window(number), zones=zones,
            day_zone=self.day_zone(zones),
        )
        return self._to_contact(decision, attempt_id, campaign_id, contact_id, number, disposition or outcome.value)

    def _to_contact(
        self, d: RetryDecision, attempt_id: str, campaign_id: int, contact_id: int, number: str, label: str
    ) -> ContactDecision:
        dnc = None
        if d.dnc is not None:
            scope_campaign = None if d.dnc is DncScope.GLOBAL else campaign_id
            source = "opt_out_key" if label == Outcome.OPT_OUT.value else "disposition"
            dnc = (number, scope_campaign, source, label)
        if d.kind is DecisionKind.FINAL:
            state = "blocked" if dnc else ("exhausted" if d.reason in EXHAUSTED_REASONS else "done")
            return ContactDecision(attempt_id, contact_id, state, None, label, dnc)
        callback = None
        if d.kind is DecisionKind.CALLBACK and d.at is not None:
            callback = (campaign_id, contact_id, d.at, d.agent_id)
        return ContactDecision(attempt_id, contact_id, "ready", d.at, label, dnc, callback)

