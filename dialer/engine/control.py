"""What the operator commands tell a running engine: campaigns (re)loaded, agents paused.

The engine LISTENs on the channels of `dialer.db.notify`: a campaign notification reloads
that campaign (every campaign is also polled every few seconds, so a missed NOTIFY costs
only that), an agent notification pauses or unpauses the agent in this engine's queues,
a disposition notification wakes the dispositions loop (`closing.Closing`), a preview
notification the preview campaigns' desks (`preview.PreviewDesk`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from ami import dialplan
from dialer.db.notify import AGENT_CHANNEL, CAMPAIGN_CHANNEL, DISPOSITION_CHANNEL, PREVIEW_CHANNEL
from dialer.engine import preview
from dialer.engine.closing import Closing, RulesByCampaign
from dialer.engine.membership import Membership
from dialer.engine.ports import RunnerHost
from dialer.engine.queue_setup import QueueSetup
from dialer.engine.runner import CampaignRunner, UnsupportedMode
from dialer.engine.supervisor import Supervisor
from dialer.errors import UserError

log = logging.getLogger("dialer.engine")

# How long the reload loop waits for a NOTIFY, and how often it polls every campaign.
POLL_S = 5.0


class Control:
    def __init__(
        self, host: RunnerHost, runners: dict[int, CampaignRunner], rules: RulesByCampaign,
        membership: Membership, closing: Closing, supervisor: Supervisor, queue_setup: QueueSetup,
    ) -> None:
        self.host = host
        self.runners = runners
        self.rules = rules
        self.membership = membership
        self.closing = closing
        self.supervisor = supervisor
        self.queue_setup = queue_setup
        self._reloads: set[int] = set()
        self._reload_wake = asyncio.Event()

    async def listen(self) -> None:
        store = self.host.store
        await store.listen(CAMPAIGN_CHANNEL, self._on_campaign_notify)
        await store.listen(DISPOSITION_CHANNEL, lambda _payload: self.closing.dispositions_wake.set())
        await store.listen(AGENT_CHANNEL, self._on_agent_notify)
        await store.listen(PREVIEW_CHANNEL, self._on_preview_notify)

    def _on_preview_notify(self, _payload: str) -> None:
        """A preview offer was decided: the preview campaigns act now, not at their next tick."""
        for runner in list(self.runners.values()):
            if isinstance(runner.preview, preview.PreviewDesk):
                self.host.spawn(runner.preview.wake())

    # --- campaigns -----------------------------------------------------------------------

    async def load_campaigns(self) -> None:
        for row in await self.host.store.dialling_campaigns():
            await self._apply_campaign(row)

    async def _apply_campaign(self, row: Any) -> None:
        settings = row["settings"]
        runner = self.runners.get(row["id"])
        try:
            if runner is None:
                if row["state"] not in ("pilot", "running"):
                    return
                runner = CampaignRunner(self.host, row["id"], row["name"], row["state"], settings)
                # Its queue first: the agents join it when the runner starts.
                await self.queue_setup.ensure(runner.queue, self._weight(runner.queue, runner.definition.priority))
                await runner.start()
                await preview.follow_mode(runner)
                self.runners[row["id"]] = runner
                log.info("campaign %s: %s (%s)", row["name"], row["state"], runner.definition.dial_mode)
            else:
                await runner.update(row["state"], settings)
                await preview.follow_mode(runner)
                await self.ensure_queues([runner])
            self.rules.set(row["id"], runner.rules)
        except UnsupportedMode as exc:
            log.error("campaign %s not dialled: %s", row["name"], exc)
        except (UserError, ValueError) as exc:
            log.error("campaign %s not dialled: invalid settings: %s", row["name"], exc)

    def _weight(self, queue: str, priority: int = 0) -> int:
        """A queue's weight: the highest priority among the campaigns dialling into it."""
        return max([priority, *(r.definition.priority for r in self.runners.values() if r.queue == queue)])

    async def ensure_queues(self, runners: list[CampaignRunner] | None = None) -> None:
        """Make the queues of `runners` (default: every campaign) ready where they are due
        (new, a changed priority, or failed before); a queue that turns ready gets its agents."""
        self.queue_setup.forget({r.queue for r in self.runners.values()})
        for runner in list(self.runners.values()) if runners is None else runners:
            weight = self._weight(runner.queue)
            if not self.queue_setup.due(runner.queue, weight):
                continue
            was_ready = self.queue_setup.ready(runner.queue)
            if await self.queue_setup.ensure(runner.queue, weight) and not was_ready:
                self.host.spawn(runner.add_members())

    def _on_campaign_notify(self, payload: str) -> None:
        try:
            self._reloads.add(int(json.loads(payload)["campaign_id"]))
        except (ValueError, KeyError, TypeError):
            log.warning("ignored malformed campaign notification")
            return
        self._reload_wake.set()

    async def reload_loop(self) -> None:
        store = self.host.store
        last_poll = 0.0  # a (re)started loop polls every campaign on its first pass
        while True:
            if not self._reloads:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(POLL_S):
                        await self._reload_wake.wait()
            self._reload_wake.clear()
            for campaign_id in sorted(self._reloads):
                row = await store.campaign(campaign_id)
                if row is not None:
                    await self._apply_campaign(row)
                self._reloads.discard(campaign_id)  # only once applied: a failure retries it
            if time.monotonic() - last_poll >= POLL_S:  # a missed NOTIFY is caught here
                last_poll = time.monotonic()
                await self.load_campaigns()
                await self.ensure_queues()  # queues that failed are tried again
                for runner in list(self.runners.values()):
                    row = await store.campaign(runner.id)
                    if row is not None and row["state"] != runner.state:
                        await self._apply_campaign(row)
            self.supervisor.beat("reload")  # a pass done (a beat means work done, not a restart)

    # --- agents --------------------------------------------------------------------------

    async def _on_agent_notify(self, payload: str) -> None:
        """Pause or unpause an agent in every queue of this engine's campaigns (QueuePause)."""
        try:
            request = json.loads(payload)
            agent_id, paused = str(request["agent"]), bool(request["paused"])
        except (ValueError, KeyError, TypeError):
            log.warning("ignored malformed agent notification")
            return
        reason = request.get("reason")
        if paused:
            self.membership.paused[agent_id] = reason
        else:
            self.membership.paused.pop(agent_id, None)
        if agent_id in self.membership.reserved:
            # Reserved for an agent-direct call: applied when the reservation ends.
            log.info("agent %s %s: applies when his reservation ends", agent_id, "paused" if paused else "unpaused")
            return
        agent = self.host.agents.agents.get(agent_id)
        ami = self.host.ami
        if agent is None or not agent.queues or ami is None or not ami.connected:
            # Not a member now: he joins his queues paused (or not) when he logs in.
            log.info("agent %s %s: not in a queue now, applies when he joins", agent_id,
                     "paused" if paused else "unpaused")
            return
        try:
            await ami.queue_pause(dialplan.agent_interface(agent_id), paused, reason=reason)
            log.info("agent %s %s", agent_id, "paused" if paused else "unpaused")
        except Exception as exc:  # noqa: BLE001
            log.warning("could not %s agent %s: %s", "pause" if paused else "unpause", agent_id, exc)
