"""The engine process: one per Asterisk server, any number per database.

Start: check the schema, register with a heartbeat, release this engine's old claims,
connect to AMI (the resync hook reconciles attempts left open by a previous run), load
the dialling campaigns and LISTEN for changes. Then loops run side by side under a
supervisor (`supervisor.py`): pacing ticks, AMI events, the batched writer, dispositions,
campaign reloads, heartbeat and recovery of stalled engines. A loop that fails is
restarted with a back-off and what it was handling is kept (ended calls wait in an inbox,
writes in the writer's batch) and retried; a loop failing or stalled past
`loop_failure_limit_s` stops the engine with an error (exit code 1).
Health: every heartbeat carries each loop's state (ok/failing/stalled), its consecutive
failures, last error and seconds since its last progress. An engine with a critical loop
failing or stalled is unhealthy; other engines treat one unhealthy for longer than
`stale_engine_s` like one whose heartbeat stopped: they release its claims and close its
open attempts as unknown (its contacts wait `stale_retry_after_s`). It cannot dial those
contacts again: an attempt is only started for a contact this engine still holds.
Stop (SIGTERM/SIGINT): no new calls, wait for calls in progress up to a limit, flush
every write, exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from ami import dialplan
from ami.client import AMIClient, ClientConfig, ConnectionState, ResyncSnapshot
from compliance.attempts import AttemptRecord, NumberHistory
from compliance.outcomes import Outcome
from dialer.campaigns.definition import CampaignDefinition
from dialer.db.connection import DatabaseUnavailable
from dialer.db.migrate import SchemaOutOfDate, head_revision
from dialer.db.notify import AGENT_CHANNEL, CAMPAIGN_CHANNEL, DISPOSITION_CHANNEL
from dialer.engine.agents import AgentStateChange, AgentTracker
from dialer.engine.calls import Call, CallTracker, ClosedCall, Phase, classify_unobserved
from dialer.engine.channels import ChannelPicture
from dialer.engine.membership import Membership
from dialer.engine.rules import SYSTEM_DISPOSITION, CampaignRules
from dialer.engine.runner import CampaignRunner, UnsupportedMode
from dialer.engine.store import AttemptClose, AttemptProgress, ContactDecision, EngineStore
from dialer.engine.supervisor import Supervisor, cancel_and_wait, describe
from dialer.errors import UserError

log = logging.getLogger("dialer.engine")


class TickFailed(Exception):
    """A campaign's pacing tick failed (the message names the campaign and the error)."""


class EngineObserver:
    """What metrics and the MQTT bus hear of the engine; every method must be cheap and
    must not raise (the default does nothing)."""

    def originated(self, call: Call) -> None: ...
    def originate_roundtrip(self, seconds: float) -> None: ...
    def answered(self, call: Call) -> None: ...
    def connected(self, call: Call) -> None: ...
    def closed(self, closed: ClosedCall) -> None: ...
    def agent_changes(self, changes: list[AgentStateChange]) -> None: ...
    def ami_state(self, up: bool, *, reconnected: bool) -> None: ...
    def status(self, status: dict[str, Any]) -> None: ...

# An Originate's channel may appear in Asterisk's list a little after the Originate was
# accepted: a call placed this close to a channel snapshot is not judged by it.
SNAPSHOT_SETTLE_S = 1.0
# Back-off of the "does this call exist?" check after an Originate's outcome was lost.
CHECK_DELAYS_S = (2.0, 4.0, 8.0, 16.0, 30.0)


@dataclass
class EngineConfig:
    engine_id: str
    database_url: str
    ami: ClientConfig
    tick_s: float = 0.5
    heartbeat_s: float = 2.0
    stale_engine_s: float = 30.0  # a heartbeat older than this: the engine is gone
    stale_retry_after_s: float = 300.0  # its open attempts' contacts wait this long
    disposition_timeout_s: float = 120.0  # then a connected call gets a system disposition
    drain_timeout_s: float = 60.0  # on stop, wait this long for calls in progress
    writer_interval_s: float = 0.1
    loop_failure_limit_s: float = 60.0  # a loop failing (or stalled) this long stops the engine
    loop_stall_s: float = 30.0  # a loop with no progress this long is stalled


class Engine:
    def __init__(self, config: EngineConfig, observer: EngineObserver | None = None) -> None:
        self.config = config
        self.store = EngineStore(config.database_url, config.engine_id)
        self.ami: AMIClient | None = None
        self.calls = CallTracker()
        self.agents = AgentTracker()
        self.membership = Membership(self)
        self.runners: dict[int, CampaignRunner] = {}
        self.rules_cache: dict[int, CampaignRules] = {}
        self.observer: EngineObserver = observer or EngineObserver()
        self.calls.on_answered = lambda call: self.observer.answered(call)
        self.calls.on_connected = lambda call: self.observer.connected(call)
        self.calls.on_queued = self._on_queued
        self.stopping = False
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pending_closes: list[AttemptClose] = []
        self._pending_decisions: list[ContactDecision] = []
        self._writer_wake = asyncio.Event()
        self._dispositions_wake = asyncio.Event()
        self._reloads: set[int] = set()
        self._reload_wake = asyncio.Event()
        self._first_resync = asyncio.Event()
        # Ended calls not yet recorded: kept here until on_closed has settled them, so a
        # failed query loses none (the next pass of any loop retries them).
        self._closed_inbox: list[ClosedCall] = []
        self._settle_lock = asyncio.Lock()
        self.supervisor = Supervisor(
            stall_after_s=config.loop_stall_s, give_up_after_s=config.loop_failure_limit_s,
        )

    # --- plumbing ------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("engine task failed", exc_info=task.exception())

    def request_stop(self) -> None:
        if not self.stopping:
            log.info("engine %s stopping: no new calls", self.config.engine_id)
        self.stopping = True
        self._stop.set()

    def _on_queued(self, call: Call) -> None:
        runner = self.runners.get(call.campaign_id)
        if runner is not None:
            runner.observe_queued(call)

    # --- start and stop ------------------------------------------------------------------

    async def _until_stopped(self, work: Coroutine[Any, Any, Any]) -> bool:
        """Run `work` unless a stop is requested first (then cancel it); True when it finished."""
        task = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if task.done():
            task.result()  # re-raise its error
            return True
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return False

    async def run(self) -> None:
        try:
            await self.store.open()
        except (OSError, asyncpg.PostgresError) as exc:
            raise DatabaseUnavailable(f"cannot reach PostgreSQL: {exc}") from exc
        try:
            await self._check_schema()
            await self.store.register()
            released = await self.store.release_own_claims()
            if released:
                log.info("released %d contacts this engine had claimed before it stopped", released)
            await self.store.listen(CAMPAIGN_CHANNEL, self._on_campaign_notify)
            await self.store.listen(DISPOSITION_CHANNEL, lambda _payload: self._dispositions_wake.set())
            await self.store.listen(AGENT_CHANNEL, self._on_agent_notify)
            self.ami = AMIClient(self.config.ami)
            self.ami.on_state(self._on_ami_state)
            self.ami.set_resync_hook(self._resync)
            events = self.ami.subscribe(maxsize=200_000)
            log.info("connecting to AMI at %s:%d", self.config.ami.host, self.config.ami.port)
            # Asterisk may be down at start: keep trying, but a stop request still stops.
            if not await self._until_stopped(self.ami.connect()):
                return
            if not await self._until_stopped(
                asyncio.wait_for(self._first_resync.wait(), self.config.ami.resync_timeout + 5)
            ):
                return
            await self.load_campaigns()
            supervisor = self.supervisor
            supervisor.add("events", lambda: self._event_loop(events))
            supervisor.add("ticks", self._tick_loop)
            supervisor.add("writer", self._writer_loop)
            supervisor.add("heartbeat", self._heartbeat_loop)
            supervisor.add("dispositions", self._dispositions_loop)
            supervisor.add("reload", self._reload_loop)
            supervised = asyncio.ensure_future(supervisor.run())
            log.info("engine %s running %d campaigns", self.config.engine_id, len(self.runners))
            stop = asyncio.ensure_future(self._stop.wait())
            await asyncio.wait({supervised, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if supervised.done():
                # A loop gave out: no drain (calls are no longer followed); the attempts
                # left open are reconciled at the next start or closed by another engine.
                self.stopping = True
                supervised.result()  # raises LoopFailed
            await self._drain()
            supervised.cancel()
            await asyncio.gather(supervised, return_exceptions=True)
        finally:
            await self._shutdown()

    async def _check_schema(self) -> None:
        try:
            current = await self.store.db.fetchval("SELECT version_num FROM alembic_version")
        except Exception:
            current = None
        if current != head_revision():
            raise SchemaOutOfDate(
                f"database schema is at {current or 'empty database'}, this dialer needs"
                f" {head_revision()}: run `dialer db upgrade`"
            )

    async def _drain(self) -> None:
        """No new calls; let calls in progress end (up to the limit); flush writes."""
        for runner in self.runners.values():
            await runner.release_hopper()
        deadline = time.monotonic() + self.config.drain_timeout_s
        while len(self.calls) and time.monotonic() < deadline:  # noqa: ASYNC110 - polls a dict
            await asyncio.sleep(0.2)
        if len(self.calls):
            log.warning("stopping with %d calls still up; they are reconciled at next start", len(self.calls))
        await self._flush()

    async def _shutdown(self) -> None:
        await cancel_and_wait(list(self._tasks))
        if self.store.pool is not None:
            try:
                await self._settle_closed()  # ended calls a failing loop could not record
                await self._flush()
                await self.store.close_agent_sessions()
            except Exception as exc:  # noqa: BLE001 - best effort on the way out
                log.error("final flush failed: %s", exc)
        if self.ami is not None:
            await self.ami.close()
        await self.store.close()

    # --- campaigns -----------------------------------------------------------------------

    async def load_campaigns(self) -> None:
        for row in await self.store.dialling_campaigns():
            await self._apply_campaign(row)

    async def _apply_campaign(self, row: Any) -> None:
        settings = row["settings"]
        runner = self.runners.get(row["id"])
        try:
            if runner is None:
                if row["state"] not in ("pilot", "running"):
                    return
                runner = CampaignRunner(self, row["id"], row["name"], row["state"], settings)
                await runner.start()
                self.runners[row["id"]] = runner
                log.info("campaign %s: %s (%s)", row["name"], row["state"], runner.definition.dial_mode)
            else:
                await runner.update(row["state"], settings)
            self.rules_cache[row["id"]] = runner.rules
        except UnsupportedMode as exc:
            log.error("campaign %s not dialled: %s", row["name"], exc)
        except (UserError, ValueError) as exc:
            log.error("campaign %s not dialled: invalid settings: %s", row["name"], exc)

    def _on_campaign_notify(self, payload: str) -> None:
        try:
            self._reloads.add(int(json.loads(payload)["campaign_id"]))
        except (ValueError, KeyError, TypeError):
            log.warning("ignored malformed campaign notification")
            return
        self._reload_wake.set()

    async def _reload_loop(self) -> None:
        last_poll = 0.0  # a (re)started loop polls every campaign on its first pass
        while True:
            if not self._reloads:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(5.0):
                        await self._reload_wake.wait()
            self._reload_wake.clear()
            for campaign_id in sorted(self._reloads):
                row = await self.store.campaign(campaign_id)
                if row is not None:
                    await self._apply_campaign(row)
                self._reloads.discard(campaign_id)  # only once applied: a failure retries it
            if time.monotonic() - last_poll >= 5.0:  # a missed NOTIFY is caught here
                last_poll = time.monotonic()
                await self.load_campaigns()
                for runner in list(self.runners.values()):
                    row = await self.store.campaign(runner.id)
                    if row is not None and row["state"] != runner.state:
                        await self._apply_campaign(row)
            self.supervisor.beat("reload")  # a pass done (a beat means work done, not a restart)

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
        agent = self.agents.agents.get(agent_id)
        if agent is None or not agent.queues or self.ami is None or not self.ami.connected:
            # Not a member now: he joins his queues paused (or not) when he logs in.
            log.info("agent %s %s: not in a queue now, applies when he joins", agent_id,
                     "paused" if paused else "unpaused")
            return
        try:
            await self.ami.queue_pause(dialplan.agent_interface(agent_id), paused, reason=reason)
            log.info("agent %s %s", agent_id, "paused" if paused else "unpaused")
        except Exception as exc:  # noqa: BLE001
            log.warning("could not %s agent %s: %s", "pause" if paused else "unpause", agent_id, exc)

    async def rules_for(self, campaign_id: int) -> CampaignRules | None:
        rules = self.rules_cache.get(campaign_id)
        if rules is None:
            row = await self.store.campaign(campaign_id)
            if row is None:
                return None
            rules = CampaignRules(CampaignDefinition.model_validate(row["settings"]))
            self.rules_cache[campaign_id] = rules
        return rules

    # --- loops ---------------------------------------------------------------------------

    async def _tick_loop(self) -> None:
        while True:
            started = time.monotonic()
            failed: BaseException | None = None
            for runner in list(self.runners.values()):
                try:
                    await runner.tick(started)
                except Exception as exc:  # noqa: BLE001 - the other campaigns still tick
                    log.warning("campaign %s: pacing tick failed: %s", runner.name, describe(exc))
                    if failed is None:
                        failed = TickFailed(f"campaign {runner.name}: {describe(exc)}")
                        failed.__cause__ = exc
            await self.on_closed(self.calls.expire(time.monotonic()))
            if self.calls.progressed:  # e.g. answered through an OriginateResponse
                self._writer_wake.set()
            if failed is not None:
                # The pass failed: the supervisor counts it and backs off (a campaign that
                # fails every tick stops the engine past the limit, named in the error).
                raise failed
            self.supervisor.beat("ticks")
            await asyncio.sleep(max(0.0, self.config.tick_s - (time.monotonic() - started)))

    async def _event_loop(self, events: Any) -> None:
        while True:
            await self._settle_closed()  # calls a failed pass could not record, first
            self.supervisor.beat("events")  # after the work: a loop failing at once never beats
            try:
                async with asyncio.timeout(2.0):
                    batch = await events.get_many(2000)
            except TimeoutError:
                continue  # idle: no event, still healthy
            now = time.monotonic()
            closed: list[ClosedCall] = []
            for event in batch:
                try:
                    self.agents.on_event(event, now)
                    self.membership.on_event(event)
                    closed.extend(self.calls.on_event(event, now))
                except Exception:
                    log.exception("could not track event %s", event.name)
            self._observe_wraps()
            if closed:
                await self.on_closed(closed)
            if self.agents.changes or self.agents.wrap_ended or self.calls.progressed:
                self._writer_wake.set()

    def _observe_wraps(self) -> None:
        """Wrap-up times to the estimators of the campaigns whose queue the agent is in:
        predictive forecasts when agents in wrap-up will be free from them."""
        wraps, self.agents.wrap_times = self.agents.wrap_times, []
        for queues, seconds in wraps:
            for runner in self.runners.values():
                if runner.queue in queues:
                    runner.estimators.observe_wrap(seconds)

    async def on_closed(self, closed: list[ClosedCall]) -> None:
        """Ended calls: record them, decide what follows, feed pacing and the ledger.

        The calls wait in the inbox until settled: if a query fails this raises, and the
        next pass of the event or tick loop settles them (none is lost or settled twice).
        """
        self._closed_inbox.extend(closed)
        await self._settle_closed()

    async def _settle_closed(self) -> None:
        async with self._settle_lock:
            batch = list(self._closed_inbox)
            if not batch:
                return
            now = datetime.now(UTC)
            # Every query first: a failure here leaves the whole batch in the inbox.
            undecided = [c for c in batch if c.outcome is not Outcome.ANSWERED]
            histories = (await self.store.contact_histories([c.call.contact_id for c in undecided])
                         if undecided else {})
            rules = {c.call.campaign_id: await self.rules_for(c.call.campaign_id) for c in undecided}
            del self._closed_inbox[:len(batch)]
            for item in batch:
                call = item.call
                self._pending_closes.append(_close_row(item))
                runner = self.runners.get(call.campaign_id)
                if runner is not None:
                    runner.observe(item, now)
                self.observer.closed(item)
                campaign_rules = rules.get(call.campaign_id)
                if item.outcome is Outcome.ANSWERED or campaign_rules is None:
                    continue  # an answered call is decided when the agent's disposition arrives
                self._pending_decisions.append(campaign_rules.decide(
                    attempt_id=call.attempt_id, campaign_id=call.campaign_id, contact_id=call.contact_id,
                    number=call.number, contact_zone=None, outcome=item.outcome,
                    history=histories.get(call.contact_id, []),
                    number_history=NumberHistory(last_attempt_at=now), now=now,
                ))
            self._writer_wake.set()

    async def _writer_loop(self) -> None:
        self._writer_wake.set()  # after a restart: what a failed flush kept is written first
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await self._writer_wake.wait()
            self._writer_wake.clear()
            await asyncio.sleep(self.config.writer_interval_s)  # let a batch gather
            await self._flush()  # on failure the batch is kept and the supervisor retries
            self.supervisor.beat("writer")

    async def _flush(self) -> None:
        closes, decisions = self._pending_closes, self._pending_decisions
        progressed, self.calls.progressed = self.calls.progressed, set()
        # Ended calls are written by their close; the rest with what is known now.
        progress = [_progress_row(call) for a in progressed if (call := self.calls.calls.get(a))]
        changes = self.agents.drain_changes()
        wraps, self.agents.wrap_ended = self.agents.wrap_ended, []
        if not (closes or decisions or changes or wraps or progress):
            return
        self._pending_closes, self._pending_decisions = [], []
        try:
            await self.store.write_closes(closes, decisions, progress)
        except BaseException:
            self._pending_closes[:0] = closes
            self._pending_decisions[:0] = decisions
            self.calls.progressed |= progressed
            self.agents.changes[:0] = changes
            self.agents.wrap_ended[:0] = wraps
            raise
        if changes:
            self.observer.agent_changes(changes)
        try:
            await self.store.agent_changes(
                [(c.agent_id, c.state.value, c.reason, c.at, c.previous.value) for c in changes]
            )
            for attempt_id, at in wraps:
                await self.store.set_wrapup_ended(attempt_id, at)
        except Exception as exc:  # noqa: BLE001 - agent history is not worth blocking calls
            log.warning("could not record agent state changes: %s", exc)

    async def _heartbeat_loop(self) -> None:
        last_recovery = 0.0
        while True:
            status = self.status()
            self.observer.status(status)
            await self.store.heartbeat(status)
            if time.monotonic() - last_recovery >= self.config.stale_engine_s / 2:
                last_recovery = time.monotonic()
                claims, attempts = await self.store.recover_stale(
                    self.config.stale_engine_s, self.config.stale_retry_after_s
                )
                if claims or attempts:
                    log.warning("recovered from stalled engines: %d claims released, %d attempts"
                                " closed as unknown", claims, attempts)
            self.supervisor.beat("heartbeat")
            await asyncio.sleep(self.config.heartbeat_s)

    async def _dispositions_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await self._dispositions_wake.wait()
            self._dispositions_wake.clear()
            await self.apply_dispositions()
            self.supervisor.beat("dispositions")

    async def apply_dispositions(self) -> int:
        """Apply agents' dispositions (or a system one, when overdue) to their contacts, for
        calls placed by any engine: a restarted engine may have another id."""
        return await self.store.settle_undecided(
            self.config.disposition_timeout_s, self._decide_dispositions, SYSTEM_DISPOSITION
        )

    async def _decide_dispositions(
        self, rows: list[Any], histories: dict[int, list[AttemptRecord]]
    ) -> list[ContactDecision]:
        decisions = []
        for row in rows:
            try:
                rules = await self.rules_for(row["campaign_id"])
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
                callback_agent=row["callback_agent"],
            ))
        return decisions

    # --- AMI connection ----------------------------------------------------------------

    def _on_ami_state(self, state: ConnectionState, exc: BaseException | None) -> None:
        if state is ConnectionState.SYNCING:
            log.info("AMI logged in: reconciling calls before dialling")
        elif state is ConnectionState.CONNECTED:
            log.info("AMI connected")
        elif state in (ConnectionState.DISCONNECTED, ConnectionState.SHUTTING_DOWN):
            log.error("AMI connection lost (%s): no calls are placed until it is back", exc or state.value)
            for runner in self.runners.values():
                runner.forget_members()
        elif state is ConnectionState.AUTH_FAILED:
            log.error("AMI login refused: check DIALER_AMI_USERNAME / DIALER_AMI_SECRET")
        # Up only once resynced (SYNCING counts as down: nothing is dialled yet).
        self.observer.ami_state(
            state is ConnectionState.CONNECTED,
            reconnected=state is ConnectionState.CONNECTED and self.ami is not None and self.ami.connections > 1,
        )

    async def _resync(self, snap: ResyncSnapshot) -> None:
        """After every (re)connect: reconcile attempts and agents with what Asterisk has."""
        now = time.monotonic()
        picture = ChannelPicture(snap.channels)
        lost: list[ClosedCall] = []
        if not self._first_resync.is_set():
            await self._recover_open_attempts(picture, now, lost)
        else:
            for attempt_id, call in list(self.calls.calls.items()):
                if call.ended_at is not None:
                    continue
                facts = picture.facts(attempt_id)
                if facts is not None:
                    self.calls.learn(call, facts, now)  # what happened while AMI was down
                elif call.placed_at < snap.requested_at - SNAPSHOT_SETTLE_S:
                    lost.append(self._close_unobserved(call, now, "ended while AMI was down"))
                else:
                    # Placed after (or just before) the snapshot: it may simply not be in it yet.
                    self.check_later(attempt_id)
            if lost:
                log.warning("%d calls ended while AMI was down", len(lost))
        for member in snap.queue_members:
            agent_id = dialplan.agent_from_interface(member.get("Location") or member.get("StateInterface") or "")
            if agent_id is None:
                continue
            status = member.get("Status")
            self.agents.resync_member(
                agent_id, member.get("Queue") or "", int(status) if status and status.isdigit() else None,
                (member.get("Paused") or "0") == "1", member.get("PausedReason"), now,
            )
        if lost:
            await self.on_closed(lost)
        await self.membership.refresh()  # who is logged in: only they join the queues
        if not self._first_resync.is_set():
            try:  # stored before the campaigns start (they read the ledger from the database)
                await self._flush()
            except Exception as exc:  # noqa: BLE001 - kept; the writer retries
                log.error("could not write the reconciled attempts yet (kept, retrying): %s", exc)
        self._first_resync.set()
        for runner in self.runners.values():
            self.spawn(runner.add_members())

    async def _recover_open_attempts(self, picture: ChannelPicture, now: float, lost: list[ClosedCall]) -> None:
        """Engine start: re-track each attempt a previous run left open whose call is still
        up, with what the database and the channel list know; close the others with what
        is known (never a guessed failure)."""
        wall_now = datetime.now(UTC)

        def mono(at: datetime | None) -> float | None:
            return None if at is None else now - max(0.0, (wall_now - at).total_seconds())

        adopted = 0
        for row in await self.store.open_attempts():
            attempt_id = str(row["id"])
            if attempt_id in self.calls.calls:
                continue
            rules = await self.rules_for(row["campaign_id"])
            call = Call(
                attempt_id, row["campaign_id"], row["contact_id"], row["number"],
                rules.definition.queue_name if rules else "", mono(row["originated_at"]) or now,
                campaign=row["campaign"], attempt_no=row["attempt_no"], recovered=True,
                fields=row["fields"] or {}, script=rules.definition.script if rules else "",  # screen pop
                answered_at=mono(row["answered_at"]), queued_at=mono(row["queued_at"]),
                connected_at=mono(row["connected_at"]), agent_id=row["agent_id"], amd_status=row["amd_result"],
            )
            for step in ("answered", "queued", "connected"):
                if row[f"{step}_at"] is not None:
                    call.wall[step] = row[f"{step}_at"]
            if call.connected_at is not None:
                call.phase = Phase.CONNECTED
                if call.agent_id:
                    call.member = (call.queue, dialplan.agent_interface(call.agent_id))
            elif call.queued_at is not None:
                call.phase = Phase.QUEUED
            elif call.answered_at is not None:
                call.phase = Phase.ANSWERED
            facts = picture.facts(attempt_id)
            if facts is None:
                lost.append(self._close_unobserved(call, now, "its call was gone when the engine started"))
                continue
            self.calls.adopt(call)
            self.calls.learn(call, facts, now, notify=False)
            adopted += 1
        if adopted or lost:
            log.warning("engine start: %d calls of the previous run still up and followed, %d had ended"
                        " unobserved", adopted, len(lost))

    def _close_unobserved(self, call: Call, now: float, why: str) -> ClosedCall:
        self.calls.end(call, now)
        outcome, note = classify_unobserved(call, why)
        return ClosedCall(call, outcome, note)

    def check_later(self, attempt_id: str, delays: tuple[float, ...] = CHECK_DELAYS_S) -> None:
        """An Originate whose outcome is unknown: ask Asterisk whether its call exists,
        retrying with back-off; after the last try it is closed with what is known."""

        async def check() -> None:
            for delay in delays:
                await asyncio.sleep(delay)
                call = self.calls.calls.get(attempt_id)
                if call is None:
                    return  # its events or a resync settled it
                if self.ami is None or not self.ami.connected:
                    continue
                try:
                    picture = ChannelPicture(await self.ami.core_show_channels())
                except Exception as exc:  # noqa: BLE001 - asked again after the back-off
                    log.warning("could not list channels to check a lost originate: %s", exc)
                    continue
                if picture.live(attempt_id):
                    return  # up: its events follow it to the end
                if self.calls.calls.get(attempt_id) is call:
                    await self.on_closed([self._close_unobserved(call, time.monotonic(), "originate outcome lost")])
                return
            call = self.calls.calls.get(attempt_id)
            if call is not None:
                log.warning("gave up checking a call whose originate outcome was lost")
                await self.on_closed([self._close_unobserved(
                    call, time.monotonic(), f"originate outcome lost; Asterisk could not be asked ({len(delays)} tries)")])

        self.spawn(check())

    # --- status ----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        campaigns = {}
        now = datetime.now(UTC)
        for runner in self.runners.values():
            phases = self.calls.by_phase(runner.id)
            decision = runner.stats.last_decision
            ledger = runner.ledger.snapshot(now)
            campaigns[runner.name] = {
                "state": runner.state,
                "hopper": len(runner.hopper),
                "calls": {phase.value: len(calls) for phase, calls in phases.items()},
                "dial_mode": runner.definition.dial_mode,
                "dial_level": round(decision.dial_level, 3) if decision else 0.0,
                "pacing_reason": decision.reason if decision else None,
                "pacing_details": dict(decision.details) if decision else {},
                "profile": runner.rules.profile.name,
                "abandon_rate": round(ledger.rate, 5),
                "abandon_window_h": runner.rules.profile.abandonment.window.total_seconds() / 3600,
                "abandon_cap": runner.rules.profile.abandon_cap,
                "abandon_target": runner.definition.pacing.abandon_target,
                # The ledger as the profile counts it: live answers, abandons, and the
                # abandons the window can still take at the cap.
                "abandon_answers": round(ledger.denominator, 2),
                "abandons": round(ledger.numerator, 2),
                "abandon_headroom": ledger.headroom,
                "originated": runner.stats.originated,
                "refused": dict(runner.stats.refused or {}),
                "dialable_left": runner.dialable_left,
                "agents": {s.value: n for s, n in self.agents.counts(runner.queue).items()},
            }
        return {
            "at": now.isoformat(),
            "ami_connected": bool(self.ami and self.ami.connected),
            "calls": len(self.calls),
            "agents": {s.value: n for s, n in self.agents.counts().items()},
            "campaigns": campaigns,
            "health": self.supervisor.health(),
        }


def _progress_row(call: Call) -> AttemptProgress:
    wall = call.wall
    return AttemptProgress(call.attempt_id, wall.get("answered"), wall.get("queued"), wall.get("connected"),
                           call.agent_id, call.amd_status)


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
        amd_result=call.amd_status,
        agent_id=call.agent_id,
        recording_path=None,
        note=item.note,
    )
