"""Reconciling calls with Asterisk: after every AMI (re)connect, and after a lost Originate.

At the first connect the attempts a previous run left open are re-tracked when their call
is still up (with what the database and the channel list know) and closed with what is
known otherwise; at a reconnect the calls followed before are checked against the channel
list (CoreShowChannels). An Originate whose outcome was lost is checked later with
back-off. A call whose end was not seen is never given a guessed outcome
(`call_life.classify_unobserved`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from ami import dialplan
from ami.client import ResyncSnapshot
from dialer.engine.call_life import Call, ClosedCall, resumed_phase
from dialer.engine.channels import ChannelPicture
from dialer.engine.closing import Closing, RulesByCampaign
from dialer.engine.membership import Membership
from dialer.engine.ports import RunnerHost
from dialer.engine.reservation import RESERVED_REASON
from dialer.engine.runner import CampaignRunner

log = logging.getLogger("dialer.engine")

# An Originate's channel may appear in Asterisk's list a little after the Originate was
# accepted: a call placed this close to a channel snapshot is not judged by it.
SNAPSHOT_SETTLE_S = 1.0
# Back-off of the "does this call exist?" check after an Originate's outcome was lost.
CHECK_DELAYS_S = (2.0, 4.0, 8.0, 16.0, 30.0)


class Recovery:
    def __init__(
        self, host: RunnerHost, runners: Mapping[int, CampaignRunner], rules: RulesByCampaign,
        membership: Membership, closing: Closing,
    ) -> None:
        self.host = host
        self.runners = runners
        self.rules = rules
        self.membership = membership
        self.closing = closing
        # Set once the first resync is done: only then are campaigns loaded and dialled.
        self.first_resync = asyncio.Event()

    async def resync(self, snap: ResyncSnapshot) -> None:
        """After every (re)connect: reconcile attempts and agents with what Asterisk has."""
        calls = self.host.calls
        now = time.monotonic()
        picture = ChannelPicture(snap.channels)
        lost: list[ClosedCall] = []
        if not self.first_resync.is_set():
            await self._recover_open_attempts(picture, now, lost)
        else:
            for call in calls.unended():
                facts = picture.facts(call.attempt_id)
                if facts is not None:
                    calls.learn(call, facts, now)  # what happened while AMI was down
                elif call.placed_at < snap.requested_at - SNAPSHOT_SETTLE_S:
                    lost.append(calls.close_unobserved(call, now, "ended while AMI was down"))
                else:
                    # Placed after (or just before) the snapshot: it may simply not be in it yet.
                    self.check_later(call.attempt_id)
            if lost:
                log.warning("%d calls ended while AMI was down", len(lost))
        for member in snap.queue_members:
            agent_id = dialplan.agent_from_interface(member.get("Location") or member.get("StateInterface") or "")
            if agent_id is None:
                continue
            status = member.get("Status")
            self.host.agents.resync_member(
                agent_id, member.get("Queue") or "", int(status) if status and status.isdigit() else None,
                (member.get("Paused") or "0") == "1", member.get("PausedReason"), now,
            )
            if (member.get("Paused") == "1" and member.get("PausedReason") == RESERVED_REASON
                    and agent_id not in self.membership.reserved):
                # Reserved by a run that ended (crash) before releasing him: given back.
                self.membership.unrestored.add(agent_id)
        if lost:
            await self.closing.on_closed(lost)
        await self.membership.refresh()  # who is logged in: only they join the queues
        if not self.first_resync.is_set():
            try:  # stored before the campaigns start (they read the ledger from the database)
                await self.closing.flush()
            except Exception as exc:  # noqa: BLE001 - kept; the writer retries
                log.error("could not write the reconciled attempts yet (kept, retrying): %s", exc)
        self.first_resync.set()
        for runner in self.runners.values():
            self.host.spawn(runner.add_members())

    async def _recover_open_attempts(self, picture: ChannelPicture, now: float, lost: list[ClosedCall]) -> None:
        """Engine start: re-track each attempt a previous run left open whose call is still
        up, with what the database and the channel list know; close the others with what
        is known (never a guessed failure)."""
        calls = self.host.calls
        wall_now = datetime.now(UTC)

        def mono(at: datetime | None) -> float | None:
            return None if at is None else now - max(0.0, (wall_now - at).total_seconds())

        adopted = 0
        for row in await self.host.store.open_attempts():
            attempt_id = str(row["id"])
            if attempt_id in calls:
                continue
            rules = await self.rules.get(row["campaign_id"])
            call = Call(
                attempt_id, row["campaign_id"], row["contact_id"], row["number"],
                rules.definition.queue_name if rules else "", mono(row["originated_at"]) or now,
                campaign=row["campaign"], attempt_no=row["attempt_no"], recovered=True,
                fields=row["fields"] or {}, script=rules.definition.script if rules else "",  # screen pop
                contact_zone=row["timezone"], number_index=row["number_index"] or 0,
                answered_at=mono(row["answered_at"]), queued_at=mono(row["queued_at"]),
                connected_at=mono(row["connected_at"]), agent_id=row["agent_id"], amd_status=row["amd_result"],
                recording_path=row["recording_path"],  # its start is not known: no recorded seconds
            )
            for step in ("answered", "queued", "connected"):
                if row[f"{step}_at"] is not None:
                    call.wall[step] = row[f"{step}_at"]
            call.phase = resumed_phase(call)
            if call.connected_at is not None and call.agent_id:
                call.member = (call.queue, dialplan.agent_interface(call.agent_id))
            facts = picture.facts(attempt_id)
            if facts is None:
                lost.append(calls.close_unobserved(call, now, "its call was gone when the engine started"))
                continue
            calls.adopt(call)
            calls.learn(call, facts, now, notify=False)
            adopted += 1
        if adopted or lost:
            log.warning("engine start: %d calls of the previous run still up and followed, %d had ended"
                        " unobserved", adopted, len(lost))

    def check_later(self, attempt_id: str, delays: tuple[float, ...] = CHECK_DELAYS_S) -> None:
        """An Originate whose outcome is unknown: ask Asterisk whether its call exists,
        retrying with back-off; after the last try it is closed with what is known."""
        calls = self.host.calls

        async def check() -> None:
            for delay in delays:
                await asyncio.sleep(delay)
                call = calls.get(attempt_id)
                if call is None:
                    return  # its events or a resync settled it
                ami = self.host.ami
                if ami is None or not ami.connected:
                    continue
                try:
                    picture = ChannelPicture(await ami.core_show_channels())
                except Exception as exc:  # noqa: BLE001 - asked again after the back-off
                    log.warning("could not list channels to check a lost originate: %s", exc)
                    continue
                if picture.live(attempt_id):
                    return  # up: its events follow it to the end
                if calls.get(attempt_id) is call:
                    await self.closing.on_closed(
                        [calls.close_unobserved(call, time.monotonic(), "originate outcome lost")])
                return
            call = calls.get(attempt_id)
            if call is not None:
                log.warning("gave up checking a call whose originate outcome was lost")
                await self.closing.on_closed([calls.close_unobserved(
                    call, time.monotonic(), f"originate outcome lost; Asterisk could not be asked ({len(delays)} tries)")])

        self.host.spawn(check())
