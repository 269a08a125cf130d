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
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from ami.client import AMIClient, ClientConfig, ConnectionState, ResyncSnapshot, Subscription
from dialer.db.connection import DatabaseUnavailable
from dialer.db.migrate import SchemaOutOfDate, head_revision
from dialer.engine.agents import AgentTracker
from dialer.engine.call_life import Call, ClosedCall
from dialer.engine.calls import CallTracker
from dialer.engine.closing import Closing, RulesByCampaign
from dialer.engine.control import Control
from dialer.engine.floor import Floor
from dialer.engine.membership import Membership
from dialer.engine.personal import PersonalCallbacks
from dialer.engine.ports import EngineObserver
from dialer.engine.queue_setup import QueueSetup, QueueSetupMode
from dialer.engine.recovery import CHECK_DELAYS_S, Recovery
from dialer.engine.reservation import on_call_ended, release_all
from dialer.engine.runner import CampaignRunner
from dialer.engine.store import EngineStore
from dialer.engine.supervisor import Supervisor, cancel_and_wait, describe
from pacing.floor import FloorShare

log = logging.getLogger("dialer.engine")


class TickFailed(Exception):
    """A campaign's pacing tick failed (the message names the campaign and the error)."""


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
    # "create": campaign queues are written to queues_dialer.conf over AMI; "check": only
    # checked (queues managed outside the dialer). See dialer/engine/queue_setup.py.
    queue_setup: QueueSetupMode = "create"


class Engine:
    """The process: its parts, the named loops it supervises, start and stop.

    Its parts: `calls` and `agents` (trackers fed by AMI events), `membership` (queue
    membership follows agent login), `floor` (the agents shared among the campaigns), `runners` (one `CampaignRunner` per dialling
    campaign, each using the engine only through `ports.RunnerHost`), `closing` (ended
    calls, dispositions, the writer), `recovery` (reconciling with Asterisk) and
    `control` (LISTEN/NOTIFY from the operator commands).
    """

    def __init__(self, config: EngineConfig, observer: EngineObserver | None = None) -> None:
        self.config = config
        self.store = EngineStore(config.database_url, config.engine_id)
        self.ami: AMIClient | None = None
        self.calls = CallTracker()
        self.agents = AgentTracker()
        self.runners: dict[int, CampaignRunner] = {}
        self.membership = Membership(self, self.runners)
        self.queue_setup = QueueSetup(lambda: self.ami, config.queue_setup)
        self.floor = Floor(self.agents, self.calls, self.runners)
        self.rules = RulesByCampaign(self.store)
        self.observer: EngineObserver = observer or EngineObserver()
        self.calls.on_answered = lambda call: self.observer.answered(call)
        self.calls.on_connected = self._on_connected
        self.calls.on_queued = self._on_queued
        self.calls.on_ended = lambda call: on_call_ended(self, call)
        self.personal = PersonalCallbacks(self)
        self.stopping = False
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._events: Subscription | None = None
        self._events_applied = 0  # events of `_events` applied to the trackers
        self._applied_wake = asyncio.Event()
        self.supervisor = Supervisor(
            stall_after_s=config.loop_stall_s, give_up_after_s=config.loop_failure_limit_s,
        )
        self.closing = Closing(
            self, self.runners, self.rules, self.supervisor,
            disposition_timeout_s=config.disposition_timeout_s, writer_interval_s=config.writer_interval_s,
        )
        self.recovery = Recovery(self, self.runners, self.rules, self.membership, self.closing)
        self.control = Control(self, self.runners, self.rules, self.membership, self.closing, self.supervisor,
                               self.queue_setup)

    # --- plumbing ------------------------------------------------------------------------

    def floor_share(self, campaign_id: int) -> FloorShare | None:
        return self.floor.share(campaign_id)

    async def events_applied(self) -> None:
        while self._events is not None and self._events_applied < self._events.received:
            self._applied_wake.clear()
            await self._applied_wake.wait()

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

    def _on_connected(self, call: Call) -> None:
        if call.direct_agent is not None:  # no AgentConnect tells the agent tracker
            self.agents.direct_call(call.direct_agent, call.attempt_id, time.monotonic())
        runner = self.runners.get(call.campaign_id)
        if runner is not None:
            runner.observe_connected(call)
        self.observer.connected(call)

    def _on_queued(self, call: Call) -> None:
        runner = self.runners.get(call.campaign_id)
        if runner is not None:
            runner.observe_queued(call)

    async def on_closed(self, closed: list[ClosedCall]) -> None:
        """Ended calls: recorded, decided, fed to pacing (`closing.Closing.on_closed`)."""
        await self.closing.on_closed(closed)

    def check_later(self, attempt_id: str, delays: tuple[float, ...] = CHECK_DELAYS_S) -> None:
        """An Originate whose outcome is unknown: checked with back-off (`recovery.Recovery`)."""
        self.recovery.check_later(attempt_id, delays)

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
            await self.control.listen()
            self.ami = AMIClient(self.config.ami)
            self.ami.on_state(self._on_ami_state)
            self.ami.set_resync_hook(self._resync)
            events = self._events = self.ami.subscribe(maxsize=200_000)
            log.info("connecting to AMI at %s:%d", self.config.ami.host, self.config.ami.port)
            # Asterisk may be down at start: keep trying, but a stop request still stops.
            if not await self._until_stopped(self.ami.connect()):
                return
            if not await self._until_stopped(
                asyncio.wait_for(self.recovery.first_resync.wait(), self.config.ami.resync_timeout + 5)
            ):
                return
            await self.control.load_campaigns()
            supervisor = self.supervisor
            supervisor.add("events", lambda: self._event_loop(events))
            supervisor.add("ticks", self._tick_loop)
            supervisor.add("writer", self.closing.writer_loop)
            supervisor.add("heartbeat", self._heartbeat_loop)
            supervisor.add("dispositions", self.closing.dispositions_loop)
            supervisor.add("reload", self.control.reload_loop)
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
        current = await self.store.schema_version()
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
        await release_all(self)
        await self.closing.flush()

    async def _shutdown(self) -> None:
        await cancel_and_wait(list(self._tasks))
        if self.store.pool is not None:
            try:
                await self.closing.settle()  # ended calls a failing loop could not record
                await self.closing.flush()
                await self.store.close_agent_sessions()
            except Exception as exc:  # noqa: BLE001 - best effort on the way out
                log.error("final flush failed: %s", exc)
        if self.ami is not None:
            await self.ami.close()
        await self.store.close()

    # --- loops ---------------------------------------------------------------------------

    async def _tick_loop(self) -> None:
        while True:
            started = time.monotonic()
            failed = await self.pace_campaigns(started)
            await self.on_closed(self.calls.expire(time.monotonic()))
            if self.calls.progressed:  # e.g. answered through an OriginateResponse
                self.closing.writer_wake.set()
            if failed is not None:
                # The pass failed: the supervisor counts it and backs off (a campaign that
                # fails every tick stops the engine past the limit, named in the error).
                raise failed
            self.supervisor.beat("ticks")
            await asyncio.sleep(max(0.0, self.config.tick_s - (time.monotonic() - started)))

    async def pace_campaigns(self, started: float) -> TickFailed | None:
        """One pacing pass: every campaign decides and dials in turn; the first failure, if
        any (the other campaigns still tick)."""
        failed: TickFailed | None = None
        for runner in list(self.runners.values()):
            if not self.queue_setup.ready(runner.queue):
                continue  # never a call into a missing queue (the status says why)
            # The floor shared out again just before each campaign decides, on the agents
            # and calls as they are now (the calls placed earlier in this pass included):
            # a share taken at the start of the pass goes stale within it when Asterisk
            # gives a call to another agent than the share assumed, and two campaigns
            # then dial for one free agent. (A campaign not dialling decides nothing.)
            if runner.dialling:
                self.floor.refresh(time.monotonic())
            try:
                await runner.tick(started)
                await self.personal.tick(runner, started)  # callbacks booked for one agent
            except Exception as exc:  # noqa: BLE001 - the other campaigns still tick
                log.warning("campaign %s: pacing tick failed: %s", runner.name, describe(exc))
                if failed is None:
                    failed = TickFailed(f"campaign {runner.name}: {describe(exc)}")
                    failed.__cause__ = exc
        return failed

    async def _event_loop(self, events: Subscription) -> None:
        while True:
            await self.closing.settle()  # calls a failed pass could not record, first
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
            self._events_applied += len(batch)
            self._applied_wake.set()
            self._observe_wraps()
            if closed:
                await self.on_closed(closed)
            if self.agents.changes or self.agents.wrap_ended or self.calls.progressed:
                self.closing.writer_wake.set()

    def _observe_wraps(self) -> None:
        """Wrap-up times to the estimators of the campaigns whose queue the agent is in:
        predictive forecasts when agents in wrap-up will be free from them."""
        wraps, self.agents.wrap_times = self.agents.wrap_times, []
        for queues, seconds in wraps:
            for runner in self.runners.values():
                if runner.queue in queues:
                    runner.estimators.observe_wrap(seconds)

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
                                " closed (unknown, or answered where the call had reached its"
                                " agent)", claims, attempts)
            self.supervisor.beat("heartbeat")
            await asyncio.sleep(self.config.heartbeat_s)

    # --- AMI connection ----------------------------------------------------------------

    async def _resync(self, snap: ResyncSnapshot) -> None:
        """After every (re)connect: the campaign queues first (Asterisk may have restarted,
        or be another box), so the members the reconciliation re-adds have a queue to join."""
        self.queue_setup.mark_unchecked()
        await self.control.ensure_queues()
        await self.recovery.resync(snap)

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
                "queue": self.queue_setup.view(runner.queue),
            }
        return {
            "at": now.isoformat(),
            "ami_connected": bool(self.ami and self.ami.connected),
            "calls": len(self.calls),
            "agents": {s.value: n for s, n in self.agents.counts().items()},
            "campaigns": campaigns,
            "health": self.supervisor.health(),
        }
