"""One campaign's pacing loop: keep the hopper full, ask the pacer, dial safely.

Every tick (about once a second): refill the hopper when it runs low (claims with
FOR UPDATE SKIP LOCKED), build a pacing snapshot from the live agents and calls, ask the
policy how many calls to place, check each contact again (campaign dialling, window open,
attempt limits, abandonment headroom), write the attempt rows (with the DNC check and the
spacing rules and limits read again in the same transaction), and only then send the
Originates.
It sees its engine only through `ports.RunnerHost` (store, AMI client, trackers,
membership, observer), never the engine module itself. Campaigns sharing agents pace from
their share of the floor (`pacing.floor`, refreshed by the engine every tick), so no two
count the same free agent.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from ami import actions, dialplan
from ami.client import ActionFailed, NotConnected, OriginateOutcomeUnknown
from compliance.abandonment import AbandonmentLedger, AbandonmentRule, connect_wait_s
from compliance.outcomes import Outcome
from dialer.campaigns.definition import CampaignDefinition
from dialer.engine.agents import AgentState
from dialer.engine.call_life import Call, ClosedCall, Phase
from dialer.engine.ports import RunnerHost
from dialer.engine.rules import CampaignRules
from dialer.engine.store import ClaimedContact, NewAttempt
from dialer.engine.supervisor import describe
from pacing.estimators import Estimators
from pacing.policies import make_policy
from pacing.policy import PacingDecision, Policy
from pacing.snapshot import AbandonHeadroom, CampaignSnapshot, Limits
from pacing.world import WorldModel

log = logging.getLogger(__name__)

HOPPER_LOW = 5
CLAIM_MAX = 200
MAX_CALLS_PER_TICK = 200
EXHAUSTED_CHECK_S = 5.0


class UnsupportedMode(Exception):
    pass


class OfferDesk(Protocol):
    """A preview campaign's offers to its agents (`dialer.engine.preview.PreviewDesk`,
    attached by the engine's control): its tick replaces pacing."""

    async def tick(self) -> None: ...

    async def withdraw(self, why: str) -> None: ...


def policy_settings(definition: CampaignDefinition) -> tuple[str, dict[str, Any]]:
    """The policy a campaign runs and every campaign setting it has a parameter for.

    Settings every mode shares (dial_level_max, max_calls_in_flight,
    max_attempts_per_agent_hour, max_occupancy) reach the policy through the snapshot's
    `Limits`; a setting the chosen mode has no use for is refused when the campaign is
    validated (`MODE_SETTINGS` in dialer/campaigns/definition.py), so what is accepted acts.
    """
    mode = definition.dial_mode
    pacing = definition.pacing
    if mode == "preview":
        # Never asked: a preview campaign's tick is its desk's (one call per accepted offer).
        return "progressive", {}
    if mode == "ratio":
        return mode, {"level": pacing.dial_level}
    if mode == "adaptive":
        return mode, {"initial_level": pacing.dial_level, "max_level": pacing.dial_level_max,
                      "drop_limit_pct": 100.0 * pacing.abandon_target}
    if mode == "pi":
        return mode, {"target": pacing.abandon_target}
    if mode == "predictive":
        # The answered call waits connect_timeout_s in the queue before it is abandoned: the
        # policy counts agents free that much after the answer.
        return mode, {"target": pacing.abandon_target, "connect_timeout": definition.connect_timeout_s}
    return mode, {}


def make_campaign_policy(definition: CampaignDefinition) -> Policy:
    mode, settings = policy_settings(definition)
    return make_policy(mode, **settings)


def make_campaign_estimators(definition: CampaignDefinition) -> Estimators:
    """Estimators whose priors know what the campaign file says: a no-answer rings until the
    campaign's ring timeout, and with AMD on a person reaches the queue only after AMD."""
    prior = WorldModel(no_answer_ring=float(definition.ring_timeout_s))
    return Estimators(prior=prior, amd_time=prior.amd_time if definition.amd else None)


@dataclass
class RunnerStats:
    originated: int = 0
    refused: dict[str, int] | None = None
    last_decision: PacingDecision | None = None


class CampaignRunner:
    def __init__(self, host: RunnerHost, campaign_id: int, name: str, state: str, settings: dict[str, Any]) -> None:
        self.host = host  # the engine, as far as a runner may use it
        self.id = campaign_id
        self.name = name
        self.state = state
        self.definition = CampaignDefinition.model_validate(settings)
        self.rules = CampaignRules(self.definition)
        self.policy_settings = policy_settings(self.definition)
        self.policy = make_campaign_policy(self.definition)
        self.estimators = make_campaign_estimators(self.definition)
        self.ledger = AbandonmentLedger(self.rules.profile.abandonment)
        self.hopper: deque[ClaimedContact] = deque()
        self.stats = RunnerStats(refused={})
        self.pilot_done = 0
        self.dialable_left: int | None = None
        self._claim_lock = asyncio.Lock()
        self._empty_since: float | None = None
        self._last_exhaust_check = 0.0
        self._members_added: set[str] = set()
        # The agents who work this campaign: its `agents` and the members of its
        # `agent_groups` (resolved from the database at start and every reload).
        self.agent_ids: tuple[str, ...] = tuple(self.definition.agents)
        # Claims to hand back that a failed query could not: retried with the next release.
        self._unreleased: list[tuple[int, datetime | None]] = []
        self._unfinished: list[tuple[int, str]] = []  # likewise, contacts to finish
        # dial_mode "preview": offers to agents instead of pacing (dialer/engine/preview.py).
        self.preview: OfferDesk | None = None

    @property
    def queue(self) -> str:
        return self.definition.queue_name

    @property
    def dialling(self) -> bool:
        return self.state in ("pilot", "running")

    @property
    def wants_agents(self) -> bool:
        """Dialling with contacts left (as far as it knows): it may use free agents now."""
        return self.dialling and (bool(self.hopper) or self.dialable_left != 0)

    def serves(self, agent_id: str) -> bool:
        return agent_id in self.agent_ids

    async def resolve_agents(self, definition: CampaignDefinition) -> tuple[str, ...]:
        """The campaign's own agents, then the members of its agent groups."""
        grouped = await self.host.store.agents_in_groups(definition.agent_groups)
        return tuple(dict.fromkeys([*definition.agents, *grouped]))

    # --- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        self.ledger = await self.load_ledger(self.rules.profile.abandonment)
        if self.state == "pilot":
            self.pilot_done = await self.host.store.attempts_made(self.id)
        self.agent_ids = await self.resolve_agents(self.definition)
        await self.host.store.ensure_agents(self.definition.agents)
        await self.add_members()

    async def load_ledger(self, rule: AbandonmentRule) -> AbandonmentLedger:
        """An abandonment ledger counting the campaign's stored calls by `rule`."""
        ledger = AbandonmentLedger(rule)
        window_s = rule.window.total_seconds()
        for row in await self.host.store.ledger_history(self.id, window_s):
            try:
                outcome = Outcome(row["outcome"])
            except ValueError:
                continue
            wait = connect_wait_s(row["answered_at"], row["queued_at"], row["connected_at"])
            ledger.record(row["counted_at"], outcome, wait)
        # This run's calls counted at their connect and not ended yet are in no stored row.
        for call in self.host.calls.calls.values():
            if call.campaign_id == self.id and call.ledger_counted:
                _count_connect(ledger, call)
        return ledger

    async def add_members(self) -> None:
        """Make the campaign's logged-in agents members of its queue (idempotent); an agent
        not logged in who is still a member (Unavailable) leaves it."""
        client = self.host.ami
        if client is None or not client.connected:
            return
        absent = set()
        for agent_id in self.agent_ids:
            if not self.host.membership.may_join(agent_id):
                agent = self.host.agents.agents.get(agent_id)
                if agent is not None and self.queue in agent.queues:
                    absent.add(agent_id)
                continue
            if agent_id in self._members_added:
                continue
            try:
                membership = self.host.membership
                # A reserved agent (an agent-direct call) joins paused too.
                reserved = agent_id in membership.reserved
                await client.queue_add(
                    self.queue, dialplan.agent_interface(agent_id),
                    member_name=dialplan.agent_member_name(agent_id),
                    state_interface=dialplan.agent_state_interface(agent_id),
                    paused=agent_id in membership.paused or reserved,
                    reason="reserved" if reserved else membership.paused.get(agent_id),
                )
            except ActionFailed as exc:
                if "Already there" not in str(exc):
                    log.warning("campaign %s: QueueAdd of agent %s failed: %s", self.name, agent_id, exc)
                    continue
            except (NotConnected, OriginateOutcomeUnknown, TimeoutError, Exception) as exc:  # noqa: BLE001
                log.warning("campaign %s: QueueAdd of agent %s: %s", self.name, agent_id, exc)
                continue
            self._members_added.add(agent_id)
        if absent:
            await self.remove_members(absent, reason="not logged in")

    def forget_members(self) -> None:
        """After a reconnect Asterisk may have restarted: add members again."""
        self._members_added.clear()

    async def remove_members(self, agent_ids: set[str], reason: str = "removed from the campaign") -> None:
        client = self.host.ami
        for agent_id in agent_ids:
            self._members_added.discard(agent_id)
            if client is None or not client.connected:
                continue
            try:
                await client.queue_remove(self.queue, dialplan.agent_interface(agent_id))
                log.info("campaign %s: agent %s left queue %s (%s)", self.name, agent_id, self.queue, reason)
            except Exception as exc:  # noqa: BLE001 - not a member any more is fine
                log.info("campaign %s: QueueRemove of agent %s: %s", self.name, agent_id, exc)

    async def update(self, state: str, settings: dict[str, Any]) -> None:
        definition = CampaignDefinition.model_validate(settings)
        agent_ids = await self.resolve_agents(definition)
        if definition != self.definition or agent_ids != self.agent_ids:
            rules = CampaignRules(definition)
            wanted = policy_settings(definition)
            if rules.profile.abandonment != self.rules.profile.abandonment:
                # A new cap, window or deadline counts the past anew (before anything
                # changes: a failed query leaves the update to be retried whole).
                self.ledger = await self.load_ledger(rules.profile.abandonment)
            gone = set(self.agent_ids) - set(agent_ids)
            if gone:
                await self.remove_members(gone)
            self.agent_ids = agent_ids
            self.definition = definition
            self.rules = rules
            if wanted != self.policy_settings:
                # A changed target or timeout takes effect now (the controller starts afresh);
                # the estimators keep what they learnt of this list.
                self.policy = make_campaign_policy(definition)
                self.policy_settings = wanted
            await self.host.store.ensure_agents(definition.agents)
            await self.add_members()
        if state != self.state:
            log.info("campaign %s: %s -> %s", self.name, self.state, state)
            self.state = state
        if not self.dialling:
            # The contacts claimed ahead first: once an agent is told his offer is withdrawn,
            # the campaign holds no contact.
            await self.release_hopper()
            if self.preview is not None:
                await self.preview.withdraw(f"campaign {state}")

    async def release_hopper(self) -> None:
        contacts: list[tuple[int, datetime | None]] = [(c.contact_id, None) for c in self.hopper]
        self.hopper.clear()
        await self.release(contacts)

    async def release(self, contacts: list[tuple[int, datetime | None]]) -> None:
        """Hand claimed contacts back to the pool; kept and retried if the query fails."""
        self._unreleased.extend(contacts)
        if not self._unreleased:
            return
        batch = list(self._unreleased)
        await self.host.store.release(batch)
        del self._unreleased[:len(batch)]

    # --- pacing --------------------------------------------------------------------------

    def headroom(self, now: datetime) -> AbandonHeadroom:
        """The ledger's view at the profile's legal cap, as the simulator gives it: the
        campaign's abandon_target is the policy's own `target`, kept below this cap."""
        snap = self.ledger.snapshot(now)
        cap = self.rules.profile.abandon_cap
        return AbandonHeadroom(
            allowed=float(snap.headroom) if snap.denominator else max(1.0, cap * 30),
            rate=snap.rate,
            cap=cap,
            answers=int(snap.denominator),
            abandons=int(snap.numerator),
            # A profile with no cap (none: 100 %) never forbids a call for its budget.
            forbid_when_exhausted=cap < 1.0,
        )

    def snapshot(self, now_mono: float) -> CampaignSnapshot:
        members = self.host.agents.in_queue(self.queue)
        paused = sum(1 for a in members if a.state is AgentState.PAUSED)
        share = self.host.floor_share(self.id)
        # Only the agents of its share: a free agent other campaigns' calls will take, or
        # one given to another campaign, is not this campaign's to dial for.
        agents = members if share is None else [a for a in members if a.agent_id in share.agents]
        ready = sum(1 for a in agents if a.state is AgentState.READY)
        talk = [now_mono - a.since for a in agents if a.state is AgentState.ON_CALL]
        wrap = [now_mono - a.since for a in agents if a.state is AgentState.WRAP_UP]
        # Agent-direct calls have their own reserved agent: outside the pacing count.
        phases = {p: [c for c in calls if c.direct_agent is None]
                  for p, calls in self.host.calls.by_phase(self.id).items()}
        ringing = [now_mono - c.placed_at for p in (Phase.DIALLING, Phase.RINGING, Phase.ANSWERED)
                   for c in phases.get(p, [])]
        waiting = [now_mono - (c.queued_at or now_mono) for c in phases.get(Phase.QUEUED, [])]
        pacing = self.definition.pacing
        return CampaignSnapshot(
            now=now_mono,
            agents_ready=ready,
            wrap_elapsed=wrap,
            talk_elapsed=talk,
            ringing_elapsed=ringing,
            waiting_elapsed=waiting,
            limits=Limits(
                max_dial_level=pacing.dial_level_max,
                max_in_flight=pacing.max_calls_in_flight,
                max_attempts_per_agent_hour=pacing.max_attempts_per_agent_hour,
                max_occupancy=pacing.max_occupancy,
            ),
            headroom=self.headroom(datetime.now(UTC)),
            estimates=self.estimators,
            agents_paused=paused,
        )

    async def tick(self, now_mono: float) -> None:
        if not self.dialling or self.host.stopping:
            return
        client = self.host.ami
        if client is None or not client.connected:
            return
        if self.state == "pilot" and self.pilot_done >= self.definition.pilot_limit:
            if await self.host.store.set_campaign_state(self.id, "paused", "pilot", "pilot batch done"):
                await self.update("paused", self.definition.model_dump(mode="json"))
            return
        if self.definition.dial_mode == "preview":  # offers, not pacing
            if self.preview is not None:
                await self.preview.tick()
            await self.check_exhausted(now_mono)
            return
        snapshot = self.snapshot(now_mono)
        decision = self.policy.decide(snapshot)
        self.stats.last_decision = decision
        wanted = min(decision.calls, MAX_CALLS_PER_TICK)
        if self.state == "pilot":
            wanted = min(wanted, self.definition.pilot_limit - self.pilot_done)
        # A small hopper: a few ticks' worth, so engines sharing a list share it fairly.
        if len(self.hopper) < HOPPER_LOW + 2 * wanted:
            await self.refill(min(CLAIM_MAX, HOPPER_LOW + 3 * wanted))
        if wanted > 0:
            await self.dial(wanted, snapshot)
        await self.check_exhausted(now_mono)

    async def refill(self, count: int) -> None:
        async with self._claim_lock:
            claimed = await self.host.store.claim(
                self.id, count, personal_grace_min=self.definition.callback_grace_min,
                personal_to_pool=self.definition.callback_fallback == "pool")
            now = datetime.now(UTC)
            refused: list[tuple[int, str, datetime | None]] = []
            for contact in claimed:
                allowed, reason, not_before = self.rules.may_dial(contact, now)
                if allowed:
                    self.hopper.append(contact)
                else:
                    self._refuse(reason.value)
                    refused.append((contact.contact_id, reason.value, not_before))
            await self.put_back(refused)

    async def put_back(self, refused: list[tuple[int, str, datetime | None]]) -> None:
        """Refused contacts go back to the pool until their refusal clears; one that never
        clears (total attempts reached, no window ever open) is finished with the reason,
        so that the campaign can complete."""
        self._unfinished.extend((contact_id, why) for contact_id, why, at in refused if at is None)
        if self._unfinished:
            batch = list(self._unfinished)
            await self.host.store.finish(batch)
            del self._unfinished[:len(batch)]
        await self.release([(contact_id, at) for contact_id, _, at in refused if at is not None])

    def _refuse(self, reason: str) -> None:
        assert self.stats.refused is not None
        self.stats.refused[reason] = self.stats.refused.get(reason, 0) + 1

    async def dial(self, wanted: int, snapshot: CampaignSnapshot) -> None:
        """Place up to `wanted` calls, decided on `snapshot` (this tick's view of the campaign)."""
        now = datetime.now(UTC)
        picked: list[ClaimedContact] = []
        refused: list[tuple[int, str, datetime | None]] = []
        while self.hopper and len(picked) < wanted:
            contact = self.hopper.popleft()
            # Checked again just before Originate: the window may have closed since the claim.
            allowed, reason, not_before = self.rules.may_dial(contact, now)
            if not allowed:
                self._refuse(reason.value)
                refused.append((contact.contact_id, reason.value, not_before))
                continue
            picked.append(contact)
        await self.put_back(refused)
        if not picked:
            return
        if snapshot.headroom is not None and snapshot.headroom.exhausted and self.rules.profile.abandon_cap < 1.0:
            # Over the cap: never more calls than ready agents not already covered.
            covered = snapshot.uncovered_ready
            for contact in picked[covered:]:
                self.hopper.appendleft(contact)
            picked = picked[:covered]
            if not picked:
                return
        attempts = [NewAttempt(uuid.uuid4(), contact) for contact in picked]
        try:
            # The spacing rules and limits once more, on the history as committed at the
            # moment of writing the attempts (other campaigns and engines call these numbers).
            skipped = await self.host.store.start_attempts(self.id, attempts, self.rules.may_dial)
        except BaseException:
            self.hopper.extendleft(reversed(picked))  # still claimed: dialled on a later tick
            raise
        for attempt in attempts:
            why = skipped.get(attempt.contact.contact_id)
            if why is not None:
                self._refuse(why)
                continue
            self.pilot_done += 1
            # Tracked now, not when the task first runs: the next campaign's share of the
            # floor, taken right after this tick, must count this call in flight.
            self.track(attempt)
            self.host.spawn(self.send(attempt))

    async def originate(self, attempt: NewAttempt, agent_id: str | None = None) -> None:
        """Track the call of a written attempt and send its Originate; with `agent_id`, an
        agent-direct call (`dialer.engine.direct`) for that agent alone."""
        self.track(attempt, agent_id)
        await self.send(attempt, agent_id)

    def track(self, attempt: NewAttempt, agent_id: str | None = None) -> None:
        """Track the call whose Originate is about to be sent: from now on it is in flight."""
        contact = attempt.contact
        definition = self.definition
        call = Call(str(attempt.attempt_id), self.id, contact.contact_id, contact.number, self.queue,
                    time.monotonic(), campaign=self.name, fields=contact.fields,
                    attempt_no=contact.attempts + 1, script=definition.script, contact_zone=contact.timezone,
                    number_index=contact.number_index, direct_agent=agent_id, agent_id=agent_id)
        self.host.calls.add(call)
        self.host.observer.originated(call)

    async def send(self, attempt: NewAttempt, agent_id: str | None = None) -> None:
        """Send the Originate of a tracked call and follow it to its response."""
        host = self.host
        client = host.ami
        contact = attempt.contact
        attempt_id = str(attempt.attempt_id)
        sent = time.monotonic()
        try:
            if client is None:
                raise NotConnected("AMI is not connected")
            handle = await client.originate(self._originate_request(attempt_id, contact.number, agent_id))
        except NotConnected:
            # Nothing reached Asterisk: no call exists, so the attempt is undone.
            host.calls.forget_unsent(attempt_id)
            self.pilot_done -= 1
            await host.store.cancel_attempt(attempt_id, contact.contact_id)
            return
        except ActionFailed as exc:
            closed = host.calls.originate_lost(attempt_id, time.monotonic(), f"originate refused: {exc}")
            if closed is not None:
                await host.on_closed([closed])
            return
        except OriginateOutcomeUnknown:
            host.check_later(attempt_id)
            return
        except Exception as exc:
            # Refused before it was sent (a value AMI cannot carry, a bug): no call exists.
            # Never leave the attempt open and tracked: it is closed as failed, with why.
            log.error("campaign %s: originate of attempt %s not sent: %s", self.name, attempt_id, describe(exc))
            closed = host.calls.originate_lost(attempt_id, time.monotonic(),
                                               f"originate not sent: {describe(exc)}")
            if closed is not None:
                await host.on_closed([closed])
            return
        host.observer.originate_roundtrip(time.monotonic() - sent)
        self.stats.originated += 1
        try:
            response = await handle.outcome()
        except OriginateOutcomeUnknown:
            host.check_later(attempt_id)
            return
        closed_calls = host.calls.on_originate_response(attempt_id, response, time.monotonic())
        if closed_calls:
            await host.on_closed(closed_calls)

    def _originate_request(self, attempt_id: str, number: str, agent_id: str | None = None
                           ) -> actions.OriginateRequest:
        definition = self.definition
        return actions.OriginateRequest(
            channel=definition.dial_template.format(number=number),
            channel_id=attempt_id,
            context=dialplan.AGENT_CONNECT_CONTEXT if agent_id else dialplan.CONNECT_CONTEXT,
            exten=agent_id or self.queue,
            timeout_ms=definition.ring_timeout_s * 1000,
            caller_id=definition.caller_id,
            account=self.name,
            variables={
                dialplan.VAR_ATTEMPT: attempt_id,
                dialplan.VAR_CAMPAIGN: str(self.id),
                dialplan.VAR_QUEUE_TIMEOUT: f"{definition.connect_timeout_s:g}",
                dialplan.VAR_AMD: "yes" if definition.amd else "no",
                dialplan.VAR_RECORD: "yes" if definition.record else "no",
            },
        )

    def observe_queued(self, call: Call) -> None:
        """A person's answer joined the queue: the line result is known now, not when the
        call ends minutes later (counted at the end, a shift's first answers would reach
        the estimators after the no-answers of the same dials, and the hit rate would read
        low exactly when the floor starts dialling)."""
        if call.queued_at is None or call.result_observed or call.recovered:
            return
        call.result_observed = True
        self.estimators.observe_result("human", call.queued_at - call.placed_at, call.queued_at)

    def observe_connected(self, call: Call) -> None:
        """A call reached an agent: a live answer in the ledger now, not when it ends (counted
        at the end, the allowance a floor earns would lag its answers by a talk time, and a
        shift's first minutes would be paced as if nobody had answered yet; the simulator
        counts an answer when it happens). Nothing after the connect changes how the ledger
        counts the call: a connected call ends `answered` (`call_life.classify_answered`)."""
        if call.ledger_counted:
            return
        call.ledger_counted = True
        _count_connect(self.ledger, call)

    def observe(self, closed: ClosedCall, now: datetime) -> None:
        """Feed the estimators and the abandonment ledger with an ended call."""
        call, outcome = closed.call, closed.outcome
        known_at = call.answered_at or call.ended_at or call.placed_at
        elapsed = known_at - call.placed_at
        kind: str | None = None
        if outcome in (Outcome.ANSWERED, Outcome.ABANDONED, Outcome.QUEUE_HANGUP, Outcome.OPT_OUT):
            kind = "human"
        elif outcome is Outcome.MACHINE:
            kind = "machine"
        elif outcome is Outcome.NO_ANSWER:
            kind = "no_answer"
        elif outcome is not Outcome.UNKNOWN:
            kind = "failed"
        if kind is not None and not call.result_observed and not call.recovered:
            call.result_observed = True
            self.estimators.observe_result(kind, elapsed, known_at)
        if outcome is Outcome.ANSWERED:
            self.estimators.observe_connect(closed.time_to_agent_s or 0.0)
            if closed.talk_s is not None:
                self.estimators.observe_talk(closed.talk_s)
        elif outcome in (Outcome.ABANDONED, Outcome.OPT_OUT):
            self.estimators.observe_abandon()
        if not (call.ledger_counted and outcome is Outcome.ANSWERED):  # else counted at its connect
            self.ledger.record(now, outcome, closed.time_to_agent_s)

    async def check_exhausted(self, now_mono: float) -> None:
        """Complete the campaign when nothing is left to dial and no call is up."""
        if self.hopper or now_mono - self._last_exhaust_check < EXHAUSTED_CHECK_S:
            return
        self._last_exhaust_check = now_mono
        self.dialable_left = await self.host.store.dialable_left(self.id)
        if (
            self.dialable_left == 0
            and await self.host.store.undone_contacts(self.id) == 0
            and not self.host.calls.by_phase(self.id)
            and await self.host.store.set_campaign_state(self.id, "completed", self.state, "list finished")
        ):
            log.info("campaign %s completed: no contact left to dial", self.name)
            await self.update("completed", self.definition.model_dump(mode="json"))


def _count_connect(ledger: AbandonmentLedger, call: Call) -> None:
    """A connected call in the ledger: a live answer filed at its connect (UTC)."""
    ledger.record(call.wall.get("connected") or datetime.now(UTC), Outcome.ANSWERED,
                  connect_wait_s(call.answered_at, call.queued_at, call.connected_at))
