"""A running campaign's rules: profile, windows, dispositions, and the decisions they make.

Pure: compliance objects in, decisions out; the runner does the I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from compliance.alternates import ContactNumbers, next_number_action
from compliance.attempts import (
    AttemptRecord,
    CallbackRequest,
    DecisionKind,
    NumberHistory,
    RetryDecision,
    may_dial_now,
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
        after = timedelta(minutes=d.retry_after_min) if d.retry_after_min is not None else None
        flags = OutcomeFlags(
            final=d.final and not d.retry and not d.callback, retry=d.retry, dnc=dnc,
            contact_made=d.contact_made, success=d.success, callback=d.callback, retry_after=after,
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

    @cached_property
    def switch_on(self) -> frozenset[str]:
        """The results after which the next attempt dials the contact's next number."""
        return frozenset(self.definition.alt_numbers_on)

    def place(self, contact_zone: str | None) -> Callable[[str], tuple[WindowEvaluator, tuple[str, ...], str]]:
        """Where each of a contact's numbers is called: its window, zones and day zone."""
        def of(number: str) -> tuple[WindowEvaluator, tuple[str, ...], str]:
            zones = self.zones(contact_zone, number)
            return self.window(number), zones, self.day_zone(zones)
        return of

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
        # The limits count the contact's attempts: the recent ones at their real times, so
        # that "today" is the contact's local day, and the older ones before any such day.
        numbers = contact.recent_numbers or (None,) * len(contact.recent)
        recent = [AttemptRecord(at, Outcome.UNKNOWN, number=n) for at, n in zip(contact.recent, numbers, strict=True)
                  if at <= now]
        earlier = AttemptRecord(now - timedelta(days=3), Outcome.UNKNOWN)
        history = [earlier] * max(0, contact.attempts - len(recent)) + recent
        verdict = may_dial_now(
            self.profile.attempts, history, now,
            number_history=contact.number_history, day_zone=self.day_zone(zones),
            is_callback=contact.callback_due, number=contact.number,
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
        numbers: tuple[str, ...] = (),
        numbers_done: frozenset[int] = frozenset(),
    ) -> ContactDecision:
        """What follows an attempt that dialled `number`, one of the contact's `numbers`
        (main first; empty: that number alone), those in `numbers_done` finished."""
        now = now or datetime.now(UTC)
        zones = self.zones(contact_zone, number)
        callback = None
        if callback_at is not None:
            zone = self.day_zone(zones)
            local = callback_at.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
            callback = CallbackRequest(local, zone, callback_agent)
        if disposition is not None and disposition not in self.dispositions:
            disposition = None  # unknown codes are refused before they get here
        if number not in numbers:
            numbers = (number,)  # a number the contact no longer has: decided on its own
        state = ContactNumbers(numbers, numbers.index(number), numbers_done)
        decided = next_number_action(
            self.profile.attempts, history, outcome, now, state, self.switch_on, self.place(contact_zone),
            disposition=disposition, dispositions=self.dispositions, callback=callback,
            number_history=number_history,
        )
        contact = self._to_contact(decided.decision, attempt_id, campaign_id, contact_id, number,
                                   disposition or outcome.value)
        if contact.dnc is not None and self.profile.dnc_expiry is not None:
            contact = replace(contact, dnc_expires_at=now + self.profile.dnc_expiry)
        if len(numbers) == 1:
            return contact
        return replace(contact, number_index=decided.numbers.current, numbers_done=tuple(sorted(decided.numbers.done)))

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

