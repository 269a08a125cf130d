"""The MQTT bus: call, agent and campaign events and preview offers out; agent dispositions
and preview answers in (aiomqtt).

Topics and payloads: dialer/outputs/bus_topics.py and README. The rules that shape this module:

* Publishing never blocks the engine. Every `publish_*` method is a plain (not async)
  call that appends to a bounded buffer and returns; one background task drains it.
  When the broker is down the buffer fills; when full the OLDEST event is dropped and
  counted (`dropped`): fresh state matters more to a wallboard than stale history.
  A message leaves the buffer only after the broker acknowledged it (QoS 1), so a
  connection lost mid-publish re-sends it after reconnect (at least once).
* Reconnect with exponential back-off (0.5 s doubling to 30 s), forever, until `stop()`.
* Dispositions are validated by the engine through `DispositionSink.apply`; the bus holds
  no database code. Malformed JSON, unknown attempt, wrong agent, unknown code: the sink
  (or the parser here) raises `DispositionRejected`, the bus answers on
  `dialer/agents/<agent_id>/errors` and nothing is applied.
* Preview answers (accept, skip, more time) likewise go through a `PreviewSink`
  (dialer/outputs/bus_preview.py): the agent in the topic must be the one the offer was
  made to; a refusal is answered on `dialer/agents/<agent_id>/errors`.
* Payloads can hold phone numbers and names (screen pops); they are never logged at INFO.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import ssl
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import aiomqtt

from dialer.outputs import bus_topics as topics
from dialer.outputs.bus_preview import PreviewAnswer, PreviewRejected, PreviewSink, json_object

log = logging.getLogger(__name__)

DEFAULT_BUFFER = 10_000
MAX_DISPOSITION_BYTES = 16 * 1024
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_NOTE_MAX = 2000

CALL_EVENTS = ("originated", "answered", "connected", "ended")


# ---------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class MqttSettings:
    """Where the broker is, from `DIALER_MQTT_URL` (mqtt:// or mqtts://user:pass@host:port).

    mqtts uses TLS with the system's CA store; `?ca=/path/ca.pem` names a private CA.
    """

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: str | None = None

    @classmethod
    def from_url(cls, url: str) -> MqttSettings:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError("MQTT URL must start with mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError("MQTT URL has no host")
        tls = parts.scheme == "mqtts"
        query = dict(pair.split("=", 1) for pair in parts.query.split("&") if "=" in pair)
        return cls(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
            ca_file=unquote(query["ca"]) if "ca" in query else None,
        )

    def redacted(self) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}:***@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"

    def client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"hostname": self.host, "port": self.port}
        if self.username:
            kwargs["username"] = self.username
            kwargs["password"] = self.password
        if self.tls:
            kwargs["tls_context"] = ssl.create_default_context(cafile=self.ca_file)
        return kwargs


# ---------------------------------------------------------------------------------------
# Dispositions in


class DispositionRejected(Exception):
    """A disposition that must not be applied; `code` is machine-readable, `message` for people.

    Codes: malformed, unknown_attempt, wrong_agent, unknown_code, already_disposed,
    not_allowed (e.g. callback outside calling hours), unavailable (engine could not
    check: try again).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class DispositionRequest:
    """What an agent desktop sent on dialer/agents/<agent_id>/disposition."""

    attempt_id: uuid.UUID
    code: str
    callback_at: datetime | None = None
    note: str | None = None

    @classmethod
    def parse(cls, payload: bytes) -> DispositionRequest:
        """Validate the shape (not the meaning: that is the sink's job)."""
        try:
            data = json_object(payload, MAX_DISPOSITION_BYTES, {"attempt_id", "code", "callback_at", "note"})
        except ValueError as exc:
            raise DispositionRejected("malformed", str(exc)) from None
        try:
            attempt_id = uuid.UUID(str(data["attempt_id"]))
        except (KeyError, ValueError):
            raise DispositionRejected("malformed", "attempt_id must be the attempt's UUID") from None
        code = data.get("code")
        if not isinstance(code, str) or not _CODE.match(code):
            raise DispositionRejected("malformed", "code must be a disposition code such as 'success'")
        callback_at = None
        if data.get("callback_at") is not None:
            try:
                callback_at = datetime.fromisoformat(str(data["callback_at"]))
            except ValueError:
                raise DispositionRejected("malformed", "callback_at must be an ISO 8601 date-time") from None
            if callback_at.tzinfo is None:
                # a wall-clock time without a zone is ambiguous: the agent's or the contact's?
                raise DispositionRejected("malformed", "callback_at needs a UTC offset (e.g. +01:00 or Z)")
        note = data.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > _NOTE_MAX):
            raise DispositionRejected("malformed", f"note must be text of at most {_NOTE_MAX} characters")
        return cls(attempt_id, code, callback_at, note)


class DispositionSink(Protocol):
    """The engine's side: check and apply a disposition, or raise DispositionRejected.

    Must reject (never apply) an unknown attempt, an attempt another agent handled, and a
    code not in the campaign's disposition set.
    """

    async def apply(self, agent_id: str, request: DispositionRequest) -> None: ...


# ---------------------------------------------------------------------------------------
# Screen pop


@dataclass(frozen=True)
class ScreenPop:
    """What the agent's desktop shows when a call is connected to him."""

    attempt_id: uuid.UUID | str
    campaign: str
    contact_id: int
    number: str
    fields: Mapping[str, Any]
    script: str = ""
    attempt_no: int | None = None
    recording_path: str | None = None  # the file Asterisk is recording the call to; None: not recorded
    number_index: int = 0  # the number dialled: 0 the contact's main one, i its i-th alternate

    def payload(self) -> dict[str, Any]:
        return {
            "attempt_id": str(self.attempt_id),
            "campaign": self.campaign,
            "contact": {"id": self.contact_id, "number": self.number, "number_index": self.number_index,
                        "fields": dict(self.fields)},
            "script": self.script,
            "attempt_no": self.attempt_no,
            "recording_path": self.recording_path,
        }


# ---------------------------------------------------------------------------------------


@dataclass
class _Pending:
    topic: str
    payload: bytes
    retain: bool


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, default=str, separators=(",", ":"), ensure_ascii=False).encode()


class MqttBus:
    """One engine's connection to the broker. `await start()`, publish freely, `await stop()`."""

    def __init__(
        self,
        url: str | MqttSettings,
        engine_id: str,
        *,
        sink: DispositionSink | None = None,
        preview_sink: PreviewSink | None = None,
        buffer_size: int = DEFAULT_BUFFER,
        share_group: str | None = "dialer",
        backoff_min: float = 0.5,
        backoff_max: float = 30.0,
        keepalive: int = 30,
        persistent_session: bool = True,
    ) -> None:
        self.settings = url if isinstance(url, MqttSettings) else MqttSettings.from_url(url)
        self.engine_id = topics.segment(engine_id)
        self.sink = sink
        self.preview_sink = preview_sink
        self.share_group = share_group
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.keepalive = keepalive
        self.persistent_session = persistent_session
        self._buffer: deque[_Pending] = deque()
        self._buffer_size = buffer_size
        self._wake = asyncio.Event()
        self._connected = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._disconnected.set()
        self._flushed = asyncio.Event()  # set while the buffer is empty
        self._flushed.set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.dropped = 0
        self.published = 0
        self.connects = 0
        self.rejected = 0
        self.applied = 0

    # --- state ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def wait_disconnected(self) -> None:
        await self._disconnected.wait()

    async def wait_flushed(self) -> None:
        """Until every buffered event has been acknowledged by the broker (tests, shutdown)."""
        await self._flushed.wait()

    # --- life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=f"mqtt-bus-{self.engine_id}")

    async def stop(self, flush_timeout: float = 2.0) -> None:
        """Try to deliver what is buffered (up to `flush_timeout` s), then disconnect."""
        if self._task is None:
            return
        if self.connected and self._buffer:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wait_flushed(), flush_timeout)
        self._stopping = True
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        self._set_disconnected()
        if self._buffer:
            log.warning("mqtt: stopped with %d events undelivered", len(self._buffer))

    # --- publishing (never blocks) ----------------------------------------------------

    def publish(self, topic: str, payload: Mapping[str, Any], *, retain: bool = False) -> None:
        """Queue one JSON event; drops the oldest queued event when the buffer is full."""
        if len(self._buffer) >= self._buffer_size:
            self._buffer.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("mqtt: buffer full (%d), %d oldest events dropped so far", self._buffer_size, self.dropped)
        self._buffer.append(_Pending(topic, _json(payload), retain))
        self._flushed.clear()
        self._wake.set()

    def call_event(
        self,
        event: str,
        campaign: str,
        attempt_id: uuid.UUID | str,
        *,
        contact_id: int | None = None,
        agent_id: str | None = None,
        outcome: str | None = None,
        at: datetime | None = None,
        **extra: Any,
    ) -> None:
        """A call event on dialer/<engine>/calls/<campaign>. No phone number: CRMs join on ids."""
        if event not in CALL_EVENTS:
            raise ValueError(f"call event must be one of {', '.join(CALL_EVENTS)}")
        payload: dict[str, Any] = {
            "event": event,
            "engine_id": self.engine_id,
            "campaign": campaign,
            "attempt_id": str(attempt_id),
            "contact_id": contact_id,
            "at": at.isoformat() if at else _now(),
        }
        if agent_id is not None:
            payload["agent_id"] = agent_id
        if outcome is not None:
            payload["outcome"] = outcome
        payload.update(extra)
        self.publish(topics.calls(self.engine_id, campaign), payload)

    def call_originated(self, campaign: str, attempt_id: uuid.UUID | str, contact_id: int, **extra: Any) -> None:
        self.call_event("originated", campaign, attempt_id, contact_id=contact_id, **extra)

    def call_answered(self, campaign: str, attempt_id: uuid.UUID | str, contact_id: int, **extra: Any) -> None:
        self.call_event("answered", campaign, attempt_id, contact_id=contact_id, **extra)

    def call_connected(
        self, campaign: str, attempt_id: uuid.UUID | str, contact_id: int, agent_id: str, **extra: Any
    ) -> None:
        self.call_event("connected", campaign, attempt_id, contact_id=contact_id, agent_id=agent_id, **extra)

    def call_ended(
        self, campaign: str, attempt_id: uuid.UUID | str, contact_id: int, outcome: str,
        *, agent_id: str | None = None, **extra: Any,
    ) -> None:
        self.call_event("ended", campaign, attempt_id, contact_id=contact_id, agent_id=agent_id, outcome=outcome, **extra)

    def agent_event(self, agent_id: str, event: str, state: str, *, reason: str | None = None, **extra: Any) -> None:
        """Agent logged in / changed state / logged out; retained, so a wallboard sees the latest."""
        payload: dict[str, Any] = {
            "event": event, "engine_id": self.engine_id, "agent_id": agent_id, "state": state, "at": _now(),
        }
        if reason is not None:
            payload["reason"] = reason
        payload.update(extra)
        self.publish(topics.agent_events(self.engine_id, agent_id), payload, retain=True)

    def campaign_state(self, campaign: str, state: str, **figures: Any) -> None:
        """Campaign state (running, paused...) with any figures; retained."""
        payload = {"engine_id": self.engine_id, "campaign": campaign, "state": state, "at": _now(), **figures}
        self.publish(topics.campaign_state(self.engine_id, campaign), payload, retain=True)

    def offer(self, agent_id: str, offer: Mapping[str, Any]) -> None:
        """A preview offer (or its change) to its agent (never retained: personal data)."""
        self.publish(topics.offer(agent_id), {**offer, "at": _now()})

    def screen_pop(self, agent_id: str, pop: ScreenPop) -> None:
        """The contact and script to the agent who got the call (never retained: personal data)."""
        self.publish(topics.screenpop(agent_id), {**pop.payload(), "agent_id": agent_id, "at": _now()})

    # --- the connection ---------------------------------------------------------------

    async def _run(self) -> None:
        delay = self.backoff_min
        while not self._stopping:
            try:
                async with aiomqtt.Client(
                    **self.settings.client_kwargs(),
                    # a stable id + persistent session: the broker keeps our subscription and
                    # queues dispositions (QoS 1) while the engine is briefly away
                    identifier=f"dialer-{self.engine_id}",
                    clean_session=not self.persistent_session,
                    keepalive=self.keepalive,
                    timeout=10,
                ) as client:
                    self.connects += 1
                    log.info("mqtt: connected to %s", self.settings.redacted())
                    if self.sink is not None:
                        await client.subscribe(topics.shared(topics.DISPOSITION_FILTER, self.share_group), qos=1)
                    if self.preview_sink is not None:
                        await client.subscribe(topics.shared(topics.PREVIEW_FILTER, self.share_group), qos=1)
                    self._connected.set()
                    self._disconnected.clear()
                    delay = self.backoff_min
                    async with asyncio.TaskGroup() as group:
                        group.create_task(self._drain(client))
                        group.create_task(self._receive(client))
            except* (aiomqtt.MqttError, OSError) as errors:
                self._set_disconnected()
                first = errors.exceptions[0]
                log.warning(
                    "mqtt: broker %s unavailable (%s); %d events buffered; retrying in %.1f s",
                    self.settings.redacted(), first, len(self._buffer), delay,
                )
            except* Exception:
                # a bug must not silently end event delivery: log it and reconnect
                self._set_disconnected()
                log.exception("mqtt: unexpected error in the bus; reconnecting in %.1f s", delay)
            self._set_disconnected()
            await asyncio.sleep(delay)
            delay = min(self.backoff_max, delay * 2)

    def _set_disconnected(self) -> None:
        self._connected.clear()
        self._disconnected.set()

    async def _drain(self, client: aiomqtt.Client) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._buffer:
                pending = self._buffer[0]
                await client.publish(pending.topic, pending.payload, qos=1, retain=pending.retain, timeout=10)
                # the buffer may have dropped this very event while we awaited the broker
                if self._buffer and self._buffer[0] is pending:
                    self._buffer.popleft()
                self.published += 1
            self._flushed.set()

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            agent_id = topics.agent_of_preview(str(message.topic))
            if agent_id is not None and self.preview_sink is not None:
                await self._preview(agent_id, payload)
                continue
            agent_id = topics.agent_of_disposition(str(message.topic))
            if agent_id is None or self.sink is None:
                continue
            await self._disposition(agent_id, payload)

    async def _preview(self, agent_id: str, payload: bytes) -> None:
        answer: PreviewAnswer | None = None
        try:
            answer = PreviewAnswer.parse(payload)
            assert self.preview_sink is not None
            await self.preview_sink.apply(agent_id, answer)
        except Exception as exc:  # noqa: BLE001 - a refusal, or the check failed: say so, apply nothing
            self.rejected += 1
            code, message = (exc.code, exc.message) if isinstance(exc, PreviewRejected) else (
                "unavailable", "the dialer could not check it; try again")
            log.info("mqtt: preview answer from agent %s rejected: %s", agent_id, code)
            reply: dict[str, Any] = {"error": code, "message": message, "at": _now()}
            if answer is not None:
                reply.update(offer_id=answer.offer_id, action=answer.action)
            self.publish(topics.errors(agent_id), reply)
            return
        self.applied += 1
        self.publish(topics.acks(agent_id), {"offer_id": answer.offer_id, "action": answer.action,
                                             "status": "applied", "at": _now()})

    async def _disposition(self, agent_id: str, payload: bytes) -> None:
        request: DispositionRequest | None = None
        try:
            request = DispositionRequest.parse(payload)
            assert self.sink is not None
            await self.sink.apply(agent_id, request)
        except DispositionRejected as rejected:
            self.rejected += 1
            log.info("mqtt: disposition from agent %s rejected: %s", agent_id, rejected.code)
            self._reply_error(agent_id, request, payload, rejected.code, rejected.message)
            return
        except Exception:
            # the engine failed to check (database down...): say so, apply nothing
            self.rejected += 1
            log.exception("mqtt: disposition from agent %s could not be checked", agent_id)
            self._reply_error(agent_id, request, payload, "unavailable", "the dialer could not check it; try again")
            return
        self.applied += 1
        log.debug("mqtt: disposition %s applied to attempt %s by agent %s", request.code, request.attempt_id, agent_id)
        self.publish(
            topics.acks(agent_id),
            {"attempt_id": str(request.attempt_id), "code": request.code, "status": "applied", "at": _now()},
        )

    def _reply_error(
        self, agent_id: str, request: DispositionRequest | None, payload: bytes, code: str, message: str
    ) -> None:
        reply: dict[str, Any] = {"error": code, "message": message, "at": _now()}
        if request is not None:
            reply["attempt_id"] = str(request.attempt_id)
            reply["code"] = request.code
        else:
            # echo what we could read so the desktop can match the reply to its request
            with contextlib.suppress(Exception):
                data = json.loads(payload)
                if isinstance(data, dict):
                    for key in ("attempt_id", "code"):
                        if isinstance(data.get(key), str):
                            reply[key] = data[key][:64]
        self.publish(topics.errors(agent_id), reply)
