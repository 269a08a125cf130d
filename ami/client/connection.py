"""The AMI client's connection: login, reconnect with back-off, keep-alive, resync, the reader."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ami import actions as A
from ami.client.config import ClientConfig, ConnectionState
from ami.client.correlation import Correlator
from ami.client.errors import (
    ActionTimeout,
    AMIError,
    AuthenticationError,
    ConnectionLost,
    raise_login,
)
from ami.client.subscriptions import EventFanout
from ami.events import OriginateResponse, to_event
from ami.protocol import TERMINATOR, MalformedMessage, Message, MessageReader, parse_message

log = logging.getLogger("ami.client")


@dataclass(slots=True)
class ResyncSnapshot:
    """Passed to the resync hook after every successful (re)connect."""

    channels: list[Message]  # CoreShowChannel items
    queue_status: list[Message]  # QueueParams / QueueMember / QueueEntry items
    reconnect: bool  # False on the first connect of this client
    # time.monotonic() when CoreShowChannels was sent: a call placed after it may be
    # missing from `channels` without having ended.
    requested_at: float = 0.0

    @property
    def queue_members(self) -> list[Message]:
        return [m for m in self.queue_status if m.get("Event") == "QueueMember"]

    @property
    def queue_entries(self) -> list[Message]:
        return [m for m in self.queue_status if m.get("Event") == "QueueEntry"]


StateCallback = Callable[[ConnectionState, BaseException | None], None]
ResyncHook = Callable[[ResyncSnapshot], Awaitable[None]]


class Connection:
    """One task that keeps the client connected: open, log in, read, resync, reconnect.

    Until the resync hook has finished the state is SYNCING; a failed login is
    AUTH_FAILED and never retried in a loop.
    """

    def __init__(self, config: ClientConfig, requests: Correlator, fanout: EventFanout) -> None:
        self.config = config
        self._requests = requests
        self._fanout = fanout
        self.state = ConnectionState.DISCONNECTED
        self.banner: str | None = None
        self.connections = 0  # successful logins so far
        self.skipped_messages = 0
        self.state_cbs: list[StateCallback] = []
        self.resync_hook: ResyncHook | None = None
        self._msg_reader: MessageReader | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._ping_task: asyncio.Task[None] | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._closing = False
        self._first: asyncio.Future[None] | None = None
        self._retry = True

    # ------------------------------------------------------------------ lifecycle
    async def start(self, *, retry: bool) -> None:
        if self._run_task is not None:
            raise RuntimeError("connect() called twice")
        loop = asyncio.get_running_loop()
        self._first = loop.create_future()
        self._retry = retry
        self._closing = False
        self._run_task = asyncio.create_task(self._run(), name="ami-client")
        await self._first

    async def stop(self) -> None:
        """Log off (best effort), stop reconnecting and fail whatever is pending."""
        requests = self._requests
        self._closing = True
        if self._first is not None and not self._first.done():
            self._first.set_exception(ConnectionLost("client closed while connecting"))
            self._first.exception()  # retrieved: connect() may not be awaited any more
        if (self.state in (ConnectionState.CONNECTED, ConnectionState.SYNCING)
                and requests.writer is not None):
            with contextlib.suppress(Exception):
                await requests.send(A.logoff(), deadline=1.0)
        if requests.writer is not None:
            requests.writer.close()
        if self._run_task is not None:
            self._run_task.cancel()
            with contextlib.suppress(BaseException):
                await self._run_task
        requests.fail_all(ConnectionLost("client closed"))

    def set_state(self, state: ConnectionState, exc: BaseException | None) -> None:
        if state is self.state and exc is None:
            return
        self.state = state
        for cb in list(self.state_cbs):
            try:
                cb(state, exc)
            except Exception:  # noqa: BLE001
                log.exception("AMI state callback failed")

    # ------------------------------------------------------------------ connecting
    async def _run(self) -> None:
        delay = self.config.reconnect_min
        first = True
        while not self._closing:
            self.set_state(ConnectionState.CONNECTING, None)
            try:
                await self._open()
            except AuthenticationError as exc:
                self.set_state(ConnectionState.AUTH_FAILED, exc)
                self._teardown(exc)
                if self._first is not None and not self._first.done():
                    self._first.set_exception(exc)
                return
            except (OSError, AMIError, TimeoutError, asyncio.IncompleteReadError) as exc:
                self._teardown(exc)
                self.set_state(ConnectionState.DISCONNECTED, exc)
                if first and not self._retry:
                    if self._first is not None and not self._first.done():
                        self._first.set_exception(exc)
                    return
                log.info("AMI connect failed (%s); retry in %.1fs", exc, delay)
                await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
                delay = min(delay * 2, self.config.reconnect_max)
                continue
            delay = self.config.reconnect_min
            self.connections += 1
            reconnect = not first
            first = False
            self.set_state(ConnectionState.SYNCING, None)
            self._ping_task = asyncio.create_task(self._pinger(), name="ami-ping")
            resync = asyncio.create_task(self._resync(reconnect), name="ami-resync")
            assert self._reader_task is not None
            reason: BaseException | None = None
            try:
                await self._reader_task
            except asyncio.CancelledError:
                if self._closing:
                    resync.cancel()
                    raise
                reason = ConnectionLost("connection closed")
            except BaseException as exc:  # noqa: BLE001 - reported through state callbacks
                reason = exc
            resync.cancel()
            self._teardown(reason or ConnectionLost("connection closed by Asterisk"))
            if not self._closing:
                self.set_state(ConnectionState.DISCONNECTED, reason)
                await asyncio.sleep(self.config.reconnect_min * (0.5 + random.random()))

    async def _open(self) -> None:
        cfg = self.config
        requests = self._requests
        async with asyncio.timeout(cfg.connect_timeout):
            reader, writer = await asyncio.open_connection(cfg.host, cfg.port,
                                                           limit=cfg.reader_limit)
        requests.writer = writer
        self._msg_reader = MessageReader(reader)
        async with asyncio.timeout(cfg.connect_timeout):
            self.banner = await self._msg_reader.read_banner()
        self._reader_task = asyncio.create_task(self._read_loop(self._msg_reader),
                                                name="ami-reader")
        try:
            if cfg.auth == "md5":
                resp = await requests.send(A.challenge(), deadline=cfg.connect_timeout,
                                           raise_on_error=False)
                if resp.get("Response") != "Success":
                    raise_login(resp)
                act = A.login_md5(cfg.username, cfg.secret, resp.get("Challenge") or "",
                                  cfg.events)
            else:
                act = A.login(cfg.username, cfg.secret, cfg.events)
            resp = await requests.send(act, deadline=cfg.connect_timeout, raise_on_error=False)
            if resp.get("Response") != "Success":
                raise_login(resp)
        except BaseException:
            self._reader_task.cancel()
            raise

    def _teardown(self, reason: BaseException) -> None:
        if self._ping_task is not None:
            self._ping_task.cancel()
            self._ping_task = None
        if self._reader_task is not None and not self._reader_task.done():
            self._reader_task.cancel()
        self._reader_task = None
        if self._requests.writer is not None:
            self._requests.writer.close()
            self._requests.writer = None
        self._requests.fail_all(reason)

    async def _pinger(self) -> None:
        cfg = self.config
        while True:
            await asyncio.sleep(cfg.ping_interval)
            try:
                await self._requests.send(A.ping(), deadline=cfg.ping_timeout,
                                          raise_on_error=False)
            except ActionTimeout:
                log.warning("AMI ping timed out after %.1fs: closing the connection",
                            cfg.ping_timeout)
                if self._reader_task is not None:
                    self._reader_task.cancel()
                return
            except AMIError:
                return

    async def _resync(self, reconnect: bool) -> None:
        """Run the resync hook (retried with back-off until it succeeds), then CONNECTED."""
        delay = self.config.reconnect_min
        requests = self._requests
        while self.resync_hook is not None:
            hook = self.resync_hook
            try:
                t = self.config.resync_timeout
                requested_at = time.monotonic()
                channels = (await requests.send_list(A.core_show_channels(), deadline=t)).items
                queues = (await requests.send_list(A.queue_status(), deadline=t)).items
                await hook(ResyncSnapshot(channels, queues, reconnect, requested_at))
                break
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - e.g. Asterisk shutting down, or the database
                log.exception("AMI resync failed; retrying in %.1fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.config.resync_retry_max)
        if self.state is ConnectionState.SYNCING:  # not after a Shutdown event meanwhile
            self.set_state(ConnectionState.CONNECTED, None)
        if self._first is not None and not self._first.done():
            self._first.set_result(None)

    # ------------------------------------------------------------------ reading
    async def _read_loop(self, reader: MessageReader) -> None:
        requests = self._requests
        fanout = self._fanout
        pending = requests.pending
        lists = requests.lists
        readuntil = reader._reader.readuntil
        burst = 0
        try:
            while True:
                # readuntil does not yield while data is buffered: let consumers run now and
                # then, so their queues stay short (latency, memory, GC) under a flood.
                burst += 1
                if burst >= 128:
                    burst = 0
                    await asyncio.sleep(0)
                # Hot path inlined (MessageReader.next does the same, one call deeper).
                try:
                    raw = await readuntil(TERMINATOR)
                except asyncio.LimitOverrunError as exc:
                    self.skipped_messages += 1
                    log.warning("AMI message over the reader limit: skipped")
                    await reader._discard_until_terminator(exc.consumed)
                    continue
                try:
                    msg = parse_message(raw)
                except MalformedMessage as exc:
                    self.skipped_messages += 1
                    log.warning("malformed AMI message skipped: %s", exc)
                    continue
                k0, name = msg.headers[0]
                if k0 != "Event":
                    event_name = msg.get("Event")
                    if event_name is None:
                        aid = msg.get("ActionID")
                        if aid is None:
                            continue
                        p = pending.get(aid)
                        if p is not None:
                            if not p[1].done():
                                p[1].set_result(msg)
                            continue
                        pl = lists.get(aid)
                        if pl is not None:
                            requests.list_response(aid, pl, msg)
                        continue
                    name = event_name
                if lists:
                    aid = msg.get("ActionID")
                    if aid is not None:
                        pl = lists.get(aid)
                        if pl is not None:
                            requests.list_item(aid, pl, name, msg)
                            continue
                if name == "OriginateResponse":
                    self._originate_response(msg)
                    continue
                if name == "Shutdown":
                    self.set_state(ConnectionState.SHUTTING_DOWN, None)
                if fanout.subs and (fanout.want_all or name in fanout.wanted):
                    fanout.dispatch(name, to_event(msg))
        except asyncio.IncompleteReadError:
            raise ConnectionLost("EOF from Asterisk") from None
        except (ConnectionError, OSError) as exc:
            raise ConnectionLost(str(exc)) from exc

    def _originate_response(self, msg: Message) -> None:
        ev = to_event(msg)
        assert isinstance(ev, OriginateResponse)
        self._requests.originate_outcome(ev)
        fanout = self._fanout
        if fanout.subs and (fanout.want_all or "OriginateResponse" in fanout.wanted):
            fanout.dispatch("OriginateResponse", ev)
