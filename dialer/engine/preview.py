"""Preview dialling: contacts offered to agents one at a time, one call per accepted offer.

A preview campaign's runner hands its tick to its `PreviewDesk`. Each pass:

1. the campaign's unsettled offers are read from `preview_offers` (so decisions taken by
   `dialer preview ...` or over MQTT, on any connection, and offers made before a restart
   are all seen); an open offer past its time is decided by the campaign's `on_timeout`
   ("skip": expired, the contact handed back; "dial": accepted by the timeout);
2. each decided offer is settled once (`SETTLE_OFFER`: whoever sets it acts, so an offer
   never gives two calls): an accepted one becomes one agent-direct call
   (`dialer.engine.direct.dial_to_agent`: window and limits checked again, the attempt
   written by `store.start_attempts` with the DNC, spacing and limits re-read under the
   number's lock, the Originate to `dialer-agent-connect`); a skipped or expired one hands
   its contact back to the pool untouched (no attempt, no counter);
3. every agent of the campaign who is ready, not reserved by another offer or call, gets
   an offer of the next claimed contact whose window is open now and that he has not
   skipped within `reoffer_after_min`; he is reserved (`dialer.engine.reservation`: paused
   "reserved" in his queues) until he skips, or until the call his acceptance gave ends.

Offers, and their changes (more time, decisions), go to the agent through the engine
observer (`offer`), which the MQTT bus publishes on `dialer/agents/<id>/offer`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from dialer.engine.agents import AgentState
from dialer.engine.direct import dial_to_agent
from dialer.engine.offer_store import OfferStore
from dialer.engine.ports import RunnerHost
from dialer.engine.reservation import release_agent, reserve_agent
from dialer.engine.runner import CampaignRunner
from dialer.engine.store import ClaimedContact

log = logging.getLogger(__name__)

# Contacts kept claimed beyond the agents waiting for an offer (a small hopper: engines
# sharing a list share it fairly).
SPARE_CONTACTS = 2


@dataclass
class OpenOffer:
    """An offer this engine made, as far as it knows it."""

    offer_id: int
    agent_id: str
    contact: ClaimedContact
    offered_at: datetime
    expires_at: datetime
    more_time: int = 0


class PreviewDesk:
    def __init__(self, campaign: CampaignRunner) -> None:
        self.campaign = campaign
        self.offers_db = OfferStore(campaign.host.store)
        self.offers: dict[int, OpenOffer] = {}  # open or decided, not yet settled
        self._lock = asyncio.Lock()

    @property
    def host(self) -> RunnerHost:
        return self.campaign.host

    # --- the pass -------------------------------------------------------------------------

    async def tick(self) -> None:
        async with self._lock:  # a tick and a NOTIFY-triggered pass never overlap
            await self._settle()
            await self._offer()

    async def wake(self) -> None:
        """A decision was stored (NOTIFY): act on it now rather than at the next tick."""
        if self.campaign.state in ("pilot", "running") and not self.host.stopping:
            await self.tick()

    async def _settle(self) -> None:
        settings = self.campaign.definition.preview
        for row in await self.offers_db.unsettled(self.campaign.id):
            offer_id, state = row["id"], row["state"]
            if state == "offered":
                if row["due"]:
                    timed_out = "accepted" if settings.on_timeout == "dial" else "expired"
                    if await self.offers_db.time_out(offer_id, timed_out):
                        state = timed_out
                        log.info("campaign %s: offer %d to agent %s timed out (%s)", self.campaign.name,
                                 offer_id, row["agent_id"], settings.on_timeout)
                if state == "offered":
                    await self._follow(row)
                    continue
            offer = await self._known(row)
            if offer is None:
                continue
            if state == "accepted":
                await self._dial(offer, by=row["decided_by"] or "agent")
            else:
                await self._hand_back(offer, state)

    async def _known(self, row: asyncpg.Record) -> OpenOffer | None:
        """The offer in memory, or (after a restart) rebuilt with its contact held again."""
        offer = self.offers.get(row["id"])
        if offer is not None:
            return offer
        contact = await self.offers_db.reclaim(row["contact_id"])
        if contact is None:  # released when this engine stopped, and taken by another since
            why = "the contact was taken by another engine"
            if row["state"] == "offered":
                await self.offers_db.drop(row["id"], why)
            elif not await self.offers_db.settle(row["id"], f"not dialled: {why}"):
                return None
            self._tell(row["agent_id"], row["id"], "expired" if row["state"] == "offered" else row["state"],
                       reason="contact_taken")
            return None
        offer = OpenOffer(row["id"], row["agent_id"], contact, row["offered_at"], row["expires_at"],
                          row["more_time"])
        self.offers[offer.offer_id] = offer
        return offer

    async def _follow(self, row: asyncpg.Record) -> None:
        """An open offer: known (made here, or before a restart: published again), and
        published again when its time was extended."""
        known = self.offers.get(row["id"])
        if known is None:
            known = await self._known(row)
            if known is not None:
                if known.agent_id not in self.host.membership.reserved:
                    await self._reserve_agent(known.agent_id)  # best effort: checked again at accept
                self._publish(known)
            return
        if row["expires_at"] != known.expires_at:
            known.expires_at, known.more_time = row["expires_at"], row["more_time"]
            self._publish(known)

    async def withdraw(self, why: str) -> None:
        """The campaign stops dialling (paused, stopped, another mode): its open offers are
        closed and their contacts handed back; an accepted one not yet dialled is not dialled."""
        async with self._lock:
            for row in await self.offers_db.unsettled(self.campaign.id):
                offer = self.offers.pop(row["id"], None)
                if row["state"] == "offered":
                    await self.offers_db.drop(row["id"], why)
                elif not await self.offers_db.settle(row["id"], f"not dialled: {why}"):
                    continue
                if offer is not None:
                    await self.campaign.release([(offer.contact.contact_id, None)])
                self._tell(row["agent_id"], row["id"], "expired" if row["state"] == "offered" else row["state"],
                           reason=why)
                await self._release_agent(row["agent_id"])

    # --- decisions ------------------------------------------------------------------------

    async def _hand_back(self, offer: OpenOffer, state: str) -> None:
        """Skipped or expired: the contact goes back to the pool as it was (no attempt)."""
        if not await self.offers_db.settle(offer.offer_id):
            self.offers.pop(offer.offer_id, None)
            return
        self.offers.pop(offer.offer_id, None)
        await self.campaign.release([(offer.contact.contact_id, None)])
        self._tell(offer.agent_id, offer.offer_id, state)
        await self._release_agent(offer.agent_id)

    async def _dial(self, offer: OpenOffer, by: str) -> None:
        """Accepted: one agent-direct call to this contact for this agent (`direct.dial_to_agent`
        checks the window and limits again, and the DNC and spacing under the number's lock)."""
        campaign, agent_id, contact = self.campaign, offer.agent_id, offer.contact
        if not await self.offers_db.settle(offer.offer_id):
            self.offers.pop(offer.offer_id, None)  # another pass (or engine) has it
            return
        self.offers.pop(offer.offer_id, None)
        if agent_id not in self.host.membership.reserved and not await self._reserve_agent(agent_id):
            # Taken up after a restart, and he is not ready (logged off, paused, on a call).
            await campaign.release([(contact.contact_id, None)])
            await self._not_dialled(offer, "agent_not_ready")
            return
        try:
            placed = await dial_to_agent(campaign, contact, agent_id)
        except Exception:
            await self._not_dialled(offer, "error")
            await campaign.release([(contact.contact_id, None)])
            raise
        if placed.attempt_id is None:
            # Refused (window, limits, DNC, stopping): the contact is back where it belongs.
            await self._not_dialled(offer, placed.refused or "refused")
            return
        await self.offers_db.record(offer.offer_id, attempt_id=uuid.UUID(placed.attempt_id))
        log.info("campaign %s: offer %d accepted (%s): attempt %s for agent %s", campaign.name, offer.offer_id,
                 by, placed.attempt_id, agent_id)
        self._tell(agent_id, offer.offer_id, "accepted", attempt_id=placed.attempt_id, decided_by=by)

    async def _not_dialled(self, offer: OpenOffer, reason: str) -> None:
        log.info("campaign %s: accepted offer %d not dialled: %s", self.campaign.name, offer.offer_id, reason)
        await self.offers_db.record(offer.offer_id, note=f"not dialled: {reason}")
        self._tell(offer.agent_id, offer.offer_id, "accepted", not_dialled=reason)
        await self._release_agent(offer.agent_id)

    async def _reserve_agent(self, agent_id: str) -> bool:
        """Hold the agent for his offer: paused in every queue, so no campaign's queue call
        reaches him, and no other agent-direct call is placed to him."""
        return await reserve_agent(self.host, agent_id, purpose="preview") is not None

    async def _release_agent(self, agent_id: str) -> None:
        """His offer is over with no call: free for other calls again. A reservation that
        holds a call (or is not ours) is left alone: the call's end releases it."""
        if self.host.membership.reserved.get(agent_id, "") is None:
            await release_agent(self.host, agent_id)

    # --- offers ---------------------------------------------------------------------------

    def _reserved(self) -> set[str]:
        """Agents with an offer of this campaign open or being settled, or reserved (an
        offer of another campaign, an agent-direct call up: until it ends)."""
        return {o.agent_id for o in self.offers.values()} | set(self.host.membership.reserved)

    def waiting_agents(self) -> list[str]:
        """The campaign's agents who are ready, in its queue, and hold no offer or call of it."""
        reserved = self._reserved()
        members = {a.agent_id: a for a in self.host.agents.in_queue(self.campaign.queue)}
        return [agent_id for agent_id in self.campaign.agent_ids
                if agent_id not in reserved and agent_id in members
                and members[agent_id].state is AgentState.READY]

    async def _offer(self) -> None:
        campaign = self.campaign
        if campaign.state not in ("pilot", "running") or self.host.stopping:
            return
        agents = self.waiting_agents()
        if campaign.state == "pilot":
            agents = agents[:max(0, campaign.definition.pilot_limit - campaign.pilot_done - len(self.offers))]
        if not agents:
            return
        settings = campaign.definition.preview
        skips = await self.offers_db.recent_skips(campaign.id, settings.reoffer_after_min * 60)
        # Contacts every waiting agent has just skipped stay held for the others (released,
        # they would be claimed again first) and do not count: more are claimed instead.
        usable = sum(1 for c in campaign.hopper if any((a, c.contact_id) not in skips for a in agents))
        if usable < len(agents) + SPARE_CONTACTS:
            await campaign.refill(len(agents) + SPARE_CONTACTS - usable)
        if not campaign.hopper:
            return
        for agent_id in agents:
            contact = self._next_contact(agent_id, skips)
            if contact is None:
                continue
            if not await self._reserve_agent(agent_id):
                campaign.hopper.appendleft(contact)
                continue
            made = await self.offers_db.create(campaign.id, contact.contact_id, agent_id, settings.timeout_s)
            if made is None:
                # He has an offer of another campaign (or the contact is no longer ours).
                campaign.hopper.appendleft(contact)
                await self._release_agent(agent_id)
                continue
            offer = OpenOffer(made.offer_id, agent_id, contact, made.offered_at, made.expires_at)
            self.offers[offer.offer_id] = offer
            log.info("campaign %s: contact %d offered to agent %s (offer %d)", campaign.name, contact.contact_id,
                     agent_id, offer.offer_id)
            self._publish(offer)

    def _next_contact(self, agent_id: str, skips: set[tuple[str, int]]) -> ClaimedContact | None:
        """The first claimed contact callable now that the agent has not just skipped; the
        ones refused on the way are handed back by the next refill's put_back."""
        campaign = self.campaign
        now = datetime.now(UTC)
        passed: list[ClaimedContact] = []
        found: ClaimedContact | None = None
        refused: list[tuple[int, str, datetime | None]] = []
        while campaign.hopper:
            contact = campaign.hopper.popleft()
            if (agent_id, contact.contact_id) in skips:
                passed.append(contact)
                continue
            # Offered only while the contact may be called: window open, limits allow.
            allowed, reason, not_before = campaign.rules.may_dial(contact, now)
            if not allowed:
                refused.append((contact.contact_id, reason.value, not_before))
                continue
            found = contact
            break
        campaign.hopper.extendleft(reversed(passed))
        if refused:
            self.host.spawn(campaign.put_back(refused))
        return found

    # --- what the agent sees --------------------------------------------------------------

    def _publish(self, offer: OpenOffer) -> None:
        definition = self.campaign.definition
        settings = definition.preview
        contact = offer.contact
        self.host.observer.offer(offer.agent_id, {
            "offer_id": offer.offer_id,
            "state": "offered",
            "campaign": self.campaign.name,
            "agent_id": offer.agent_id,
            "offered_at": offer.offered_at.isoformat(),
            "expires_at": offer.expires_at.isoformat(),
            "on_timeout": settings.on_timeout,
            "more_time_left": max(0, settings.max_more_time - offer.more_time),
            "contact": {"id": contact.contact_id, "number": contact.number, "fields": dict(contact.fields)},
            "script": definition.script,
            "attempt_no": contact.attempts + 1,
        })

    def _tell(self, agent_id: str, offer_id: int, state: str, **extra: Any) -> None:
        self.host.observer.offer(agent_id, {
            "offer_id": offer_id, "state": state, "campaign": self.campaign.name, "agent_id": agent_id,
            **extra,
        })



async def follow_mode(campaign: CampaignRunner) -> None:
    """Give a campaign the desk its settings ask for (after it is made or updated): its own
    (kept) in preview mode, none otherwise (the open offers are withdrawn first)."""
    desk = campaign.preview
    if campaign.definition.dial_mode == "preview":
        if not isinstance(desk, PreviewDesk):
            campaign.preview = PreviewDesk(campaign)
    elif desk is not None:
        await desk.withdraw(f"dial_mode changed to {campaign.definition.dial_mode}")
        campaign.preview = None
