"""Ended calls and dispositions: recorded, decided, fed to pacing; the batched writer.

An ended call (`call_life.ClosedCall`) waits in an inbox until it is settled: its close
row is queued for the writer, its campaign's runner feeds the estimators and the
abandonment ledger (a call that reached an agent is already in the ledger, counted at its
connect: `runner.CampaignRunner.observe_connected`), the observers hear of it, and, unless a person answered (decided when
the agent's disposition arrives, or a system one when overdue), the campaign's rules
decide what follows for the contact. The writer stores closes, decisions, call progress
and agent state changes in batches; a failed write keeps the batch and is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from compliance.attempts import AttemptRecord, NumberHistory
from compliance.outcomes import Outcome
from dialer.campaigns.definition import CampaignDefinition
from dialer.engine.call_life import Call, ClosedCall
from dialer.engine.ports import RunnerHost
from dialer.engine.rules import SYSTEM_DISPOSITION, CampaignRules
from dialer.engine.runner import CampaignRunner
from dialer.engine.store import AttemptClose, AttemptProgress, ContactDecision, EngineStore
from dialer.engine.supervisor import Supervisor
from dialer.errors import UserError

log = logging.getLogger("dialer.engine")


class RulesByCampaign:
    """Each campaign's rules: its runner's, or read from the database for a campaign this
    engine does not dial (its calls' dispositions, attempts recovered at start)."""

    def __init__(self, store: EngineStore) -> None:
        self._store = store
        self._cache: dict[int, CampaignRules] = {}

    def set(self, campaign_id: int, rules: CampaignRules) -> None:
        self._cache[campaign_id] = rules

    async def get(self, campaign_id: int) -> CampaignRules | None:
        rules = self._cache.get(campaign_id)
        if rules is None:
            row = await self._store.campaign(campaign_id)
            if row is None:
                return None
            rules = CampaignRules(CampaignDefinition.model_validate(row["settings"]))
            self._cache[campaign_id] = rules
        return rules


class Closing:
    def __init__(
        self, host: RunnerHost, runners: Mapping[int, CampaignRunner], rules: RulesByCampaign,
        supervisor: Supervisor, *, disposition_timeout_s: float, writer_interval_s: float,
    ) -> None:
        self.host = host
        self.runners = runners
        self.rules = rules
        self.supervisor = supervisor
        self.disposition_timeout_s = disposition_timeout_s
        self.writer_interval_s = writer_interval_s
        self.pending_closes: list[AttemptClose] = []
        self.pending_decisions: list[ContactDecision] = []
        self.writer_wake = asyncio.Event()
        self.dispositions_wake = asyncio.Event()
        # Ended calls not yet recorded: kept here until on_closed has settled them, so a
        # failed query loses none (the next pass of any loop retries them).
        self._inbox: list[ClosedCall] = []
        self._settle_lock = asyncio.Lock()

    # --- ended calls ---------------------------------------------------------------------

    async def on_closed(self, closed: list[ClosedCall]) -> None:
        """Ended calls: record them, decide what follows, feed pacing and the ledger.

        The calls wait in the inbox until settled: if a query fails this raises, and the
        next pass of the event or tick loop settles them (none is lost or settled twice).
        """
        self._inbox.extend(closed)
        await self.settle()

    async def settle(self) -> None:
        async with self._settle_lock:
            batch = list(self._inbox)
            if not batch:
                return
            store = self.host.store
            now = datetime.now(UTC)
            # Every query first: a failure here leaves the whole batch in the inbox.
            undecided = [c for c in batch if c.outcome is not Outcome.ANSWERED]
            ids = [c.call.contact_id for c in undecided]
            histories = await store.contact_histories(ids) if undecided else {}
            numbers = await store.contact_numbers(ids) if undecided else {}
            rules = {c.call.campaign_id: await self.rules.get(c.call.campaign_id) for c in undecided}
            del self._inbox[:len(batch)]
            for item in batch:
                call = item.call
                self.pending_closes.append(_close_row(item))
                runner = self.runners.get(call.campaign_id)
                if runner is not None:
                    runner.observe(item, now)
                self.host.observer.closed(item)
                campaign_rules = rules.get(call.campaign_id)
                if item.outcome is Outcome.ANSWERED or campaign_rules is None:
                    continue  # an answered call is decided when the agent's disposition arrives
                self.pending_decisions.append(campaign_rules.decide(
                    attempt_id=call.attempt_id, campaign_id=call.campaign_id, contact_id=call.contact_id,
                    number=call.number, contact_zone=call.contact_zone, outcome=item.outcome,
                    history=histories.get(call.contact_id, []),
                    number_history=NumberHistory(last_attempt_at=now), now=now,
                    numbers=numbers.get(call.contact_id, ((), frozenset()))[0],
                    numbers_done=numbers.get(call.contact_id, ((), frozenset()))[1],
                ))
            self.writer_wake.set()

    # --- the writer ----------------------------------------------------------------------

    async def writer_loop(self) -> None:
        self.writer_wake.set()  # after a restart: what a failed flush kept is written first
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await self.writer_wake.wait()
            self.writer_wake.clear()
            await asyncio.sleep(self.writer_interval_s)  # let a batch gather
            await self.flush()  # on failure the batch is kept and the supervisor retries
            self.supervisor.beat("writer")

    async def flush(self) -> None:
        calls, agents, store = self.host.calls, self.host.agents, self.host.store
        closes, decisions = self.pending_closes, self.pending_decisions
        progressed, calls.progressed = calls.progressed, set()
        # Ended calls are written by their close; the rest with what is known now.
        progress = [_progress_row(call) for a in progressed if (call := calls.get(a))]
        changes = agents.drain_changes()
        wraps, agents.wrap_ended = agents.wrap_ended, []
        if not (closes or decisions or changes or wraps or progress):
            return
        self.pending_closes, self.pending_decisions = [], []
        try:
            await store.write_closes(closes, decisions, progress)
        except BaseException:
            self.pending_closes[:0] = closes
            self.pending_decisions[:0] = decisions
            calls.progressed |= progressed
            agents.changes[:0] = changes
            agents.wrap_ended[:0] = wraps
            raise
        if changes:
            self.host.observer.agent_changes(changes)
        try:
            await store.agent_changes(
                [(c.agent_id, c.state.value, c.reason, c.at, c.previous.value) for c in changes]
            )
            for attempt_id, at in wraps:
                await store.set_wrapup_ended(attempt_id, at)
        except Exception as exc:  # noqa: BLE001 - agent history is not worth blocking calls
            log.warning("could not record agent state changes: %s", exc)

    # --- dispositions --------------------------------------------------------------------

    async def dispositions_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await self.dispositions_wake.wait()
            self.dispositions_wake.clear()
            await self.apply_dispositions()
            self.supervisor.beat("dispositions")

    async def apply_dispositions(self) -> int:
        """Apply agents' dispositions (or a system one, when overdue) to their contacts, for
        calls placed by any engine: a restarted engine may have another id."""
        return await self.host.store.settle_undecided(
            self.disposition_timeout_s, self._decide_dispositions, SYSTEM_DISPOSITION
        )

    async def _decide_dispositions(
        self, rows: list[Any], histories: dict[int, list[AttemptRecord]]
    ) -> list[ContactDecision]:
        decisions = []
        for row in rows:
            try:
                rules = await self.rules.get(row["campaign_id"])
            except (UserError, ValueError) as exc:  # stored settings no longer valid
                log.warning("campaign %s: cannot decide attempts: %s", row["campaign_id"], exc)
                continue
            if rules is None:
                continue
            try:
                outcome = Outcome(row["outcome"])
            except ValueError:
                outcome = Outcome.UNKNOWN
            earlier = [h for h in histories.get(row["contact_id"], []) if h.at < row["ended_at"]][:-1]
            decisions.append(rules.decide(
                attempt_id=str(row["id"]), campaign_id=row["campaign_id"], contact_id=row["contact_id"],
                number=row["number"], contact_zone=row["timezone"], outcome=outcome,
                history=earlier, disposition=row["disposition"], callback_at=row["callback_at"],
                callback_agent=row["callback_agent"], numbers=tuple(row["numbers"]),
                numbers_done=frozenset(row["numbers_done"]),
            ))
        return decisions


def _progress_row(call: Call) -> AttemptProgress:
    wall = call.wall
    return AttemptProgress(call.attempt_id, wall.get("answered"), wall.get("queued"), wall.get("connected"),
                           call.agent_id, call.amd_status, call.recording_path)


def _close_row(item: ClosedCall) -> AttemptClose:
    call = item.call
    wall = call.wall
    return AttemptClose(
        attempt_id=call.attempt_id,
        answered_at=wall.get("answered"),
        queued_at=wall.get("queued"),
        connected_at=wall.get("connected"),
        ended_at=wall.get("ended") or datetime.now(UTC),
        outcome=item.outcome.value,
        originate_reason=call.originate_reason,
        hangup_cause=call.hangup_cause,
        agent_id=call.agent_id,
        amd_result=call.amd_status,
        recording_path=call.recording_path,  # None: not recorded (no DialerRecording event)
        note=item.note,
        recording_seconds=item.recording_s,
    )
