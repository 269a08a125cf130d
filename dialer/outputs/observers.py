"""What the engine tells the outside world: Prometheus metrics and MQTT events.

`EngineEvents` forwards the engine's observer calls to `DialerMetrics` and `MqttBus`
(either may be absent). `DatabaseDispositionSink` lets agent desktops disposition calls
over MQTT through the same checks as `dialer disposition`; `DatabasePreviewSink` answer
preview offers through the same checks as `dialer preview`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from dialer.agents.dispositions import DispositionError, record_disposition
from dialer.agents.offers import OfferError, decide_offer
from dialer.db.database import Database
from dialer.engine.agents import AgentStateChange
from dialer.engine.call_life import Call, ClosedCall
from dialer.engine.engine import Engine
from dialer.engine.ports import EngineObserver
from dialer.outputs.bus import DispositionRejected, DispositionRequest, MqttBus, ScreenPop
from dialer.outputs.bus_preview import PreviewAnswer, PreviewRejected
from dialer.outputs.metrics import DialerMetrics
from dialer.settings import Settings

log = logging.getLogger(__name__)


class EngineEvents(EngineObserver):
    def __init__(self, metrics: DialerMetrics | None, bus: MqttBus | None) -> None:
        self.metrics = metrics
        self.bus = bus
        self._campaign_states: dict[str, str] = {}

    def originated(self, call: Call) -> None:
        if self.metrics:
            self.metrics.attempt_originated(call.campaign)
        if self.bus:
            self.bus.call_originated(call.campaign, call.attempt_id, call.contact_id, attempt_no=call.attempt_no)

    def originate_roundtrip(self, seconds: float) -> None:
        if self.metrics:
            self.metrics.originate_roundtrip(seconds)

    def answered(self, call: Call) -> None:
        ring = None if call.answered_at is None else call.answered_at - call.placed_at
        if self.metrics:
            self.metrics.call_answered(call.campaign, ring_seconds=ring)
        if self.bus:
            self.bus.call_answered(call.campaign, call.attempt_id, call.contact_id)

    def connected(self, call: Call) -> None:
        start = call.queued_at if call.queued_at is not None else call.answered_at
        wait = None if call.connected_at is None or start is None else call.connected_at - start
        if self.metrics:
            self.metrics.agent_connected(call.campaign, time_to_agent_seconds=wait)
        if self.bus and call.agent_id:
            self.bus.call_connected(call.campaign, call.attempt_id, call.contact_id, call.agent_id)
            self.bus.screen_pop(call.agent_id, ScreenPop(
                attempt_id=call.attempt_id, campaign=call.campaign, contact_id=call.contact_id,
                number=call.number, fields=call.fields, script=call.script,
                attempt_no=call.attempt_no, recording_path=call.recording_path,
                number_index=call.number_index,
            ))

    def closed(self, closed: ClosedCall) -> None:
        call = closed.call
        if self.metrics:
            human = closed.outcome.value in ("answered", "abandoned", "queue_hangup", "opt_out")
            if human:
                self.metrics.human_answered(call.campaign)
            self.metrics.attempt_ended(call.campaign, closed.outcome.value, talk_seconds=closed.talk_s)
        if self.bus:
            self.bus.call_ended(call.campaign, call.attempt_id, call.contact_id, closed.outcome.value,
                                agent_id=call.agent_id, recording_path=call.recording_path,
                                recording_seconds=_rounded(closed.recording_s))

    def agent_changes(self, changes: list[AgentStateChange]) -> None:
        if self.bus:
            for change in changes:
                self.bus.agent_event(change.agent_id, "state", change.state.value, reason=change.reason,
                                     previous=change.previous.value)

    def ami_state(self, up: bool, *, reconnected: bool) -> None:
        if self.metrics:
            self.metrics.set_ami_up(up)
            if reconnected:
                self.metrics.ami_reconnected()

    def offer(self, agent_id: str, offer: dict[str, Any]) -> None:
        if self.bus:
            self.bus.offer(agent_id, offer)

    def status(self, status: dict[str, Any]) -> None:
        if self.metrics:
            self.metrics.set_agents(status.get("agents", {}))
        for name, info in status.get("campaigns", {}).items():
            if self.metrics:
                self.metrics.set_dial_level(name, info.get("dial_level", 0.0))
                self.metrics.set_hopper_depth(name, info.get("hopper", 0))
                if info.get("dialable_left") is not None:
                    self.metrics.set_dialable_contacts(name, info["dialable_left"])
                self.metrics.set_calls(name, info.get("calls", {}))
                window = timedelta(hours=info.get("abandon_window_h", 0))  # labelled "30d", "24h"
                self.metrics.set_abandon(name, window, info.get("abandon_rate", 0.0), info.get("abandon_cap", 0.0))
            if self.bus and self._campaign_states.get(name) != info.get("state"):
                self._campaign_states[name] = info.get("state", "")
                self.bus.campaign_state(name, info.get("state", ""), dial_level=info.get("dial_level"))


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


class DatabaseDispositionSink:
    """MQTT dispositions through the same checks as the CLI, on a `Database` of their own
    (the engine's asyncpg pool is for its hot path); the caller closes it."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def apply(self, agent_id: str, request: DispositionRequest) -> None:
        try:
            async with self.db.transaction() as tx:
                await record_disposition(
                    tx, request.attempt_id, request.code, agent_id=agent_id,
                    callback_at=request.callback_at, note=request.note, by=f"agent {agent_id}",
                )
        except DispositionError as exc:
            raise DispositionRejected(exc.code, str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - the database is down: the desktop retries
            raise DispositionRejected("unavailable", f"could not record the disposition: {exc}") from None


class DatabasePreviewSink:
    """MQTT preview answers through the same checks as `dialer preview` (own `Database`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def apply(self, agent_id: str, answer: PreviewAnswer) -> None:
        try:
            async with self.db.transaction() as tx:
                await decide_offer(tx, agent_id, answer.action, offer_id=answer.offer_id, by=f"agent {agent_id}")
        except OfferError as exc:
            raise PreviewRejected(exc.code, str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - the database is down: the desktop retries
            raise PreviewRejected("unavailable", f"could not record the answer: {exc}") from None


@asynccontextmanager
async def start_observers(engine: Engine, settings: Settings) -> AsyncIterator[EngineEvents]:
    """Start the metrics endpoint and the MQTT bus the settings ask for, for one engine run."""
    metrics = DialerMetrics() if settings.metrics_port else None
    bus = None
    sink_db = None
    if settings.mqtt_url:
        sink_db = Database(engine.config.database_url, pool_size=1)  # connects at the first disposition
        bus = MqttBus(settings.mqtt_url, settings.engine_id, sink=DatabaseDispositionSink(sink_db),
                      preview_sink=DatabasePreviewSink(sink_db))
    events = EngineEvents(metrics, bus)
    engine.observer = events
    try:
        if metrics is not None:
            db = Database(engine.config.database_url, pool_size=1)
            try:
                await metrics.recompute_from_database(db)
            except Exception as exc:  # noqa: BLE001 - figures refill as calls happen
                log.warning("could not restore metrics from the database: %s", exc)
            finally:
                await db.close()
            port = await metrics.start(settings.metrics_port)
            log.info("metrics on http://0.0.0.0:%d/metrics", port)
        if bus is not None:
            await bus.start()
            log.info("MQTT bus started (%s)", bus.settings.redacted())
        yield events
    finally:
        if bus is not None:
            with contextlib.suppress(Exception):
                await bus.stop()
        if metrics is not None:
            with contextlib.suppress(Exception):
                await metrics.stop()
        if sink_db is not None:
            with contextlib.suppress(Exception):
                await sink_db.close()
