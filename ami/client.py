"""The project's own asyncio AMI client (uvloop-safe; no third-party AMI library).

Usage (the engine's side)::

    from ami import actions
    from ami.client import AMIClient, ClientConfig, ConnectionState, ResyncSnapshot
    from ami.ids import new_channel_id

    client = AMIClient(ClientConfig(host="127.0.0.1", port=5038,
                                    username="dialer", secret="s3cret"))
    client.on_state(lambda state, exc: print("AMI", state, exc))
    async def resync(snap: ResyncSnapshot) -> None: ...   # reconcile live calls/members
    client.set_resync_hook(resync)
    events = client.subscribe({"Hangup", "UserEvent", "OriginateResponse"}, maxsize=50_000)
    await client.connect()                 # raises AuthenticationError on a bad login

    handle = await client.originate(actions.OriginateRequest(
        channel="PJSIP/5551234@carrier", channel_id=new_channel_id(),
        context="dialer-connect", exten="campaign1", timeout_ms=25_000,
        variables={"DIALER_ATTEMPT": "..."}))        # returns once "queued"
    outcome = await handle.outcome()       # OriginateResponse, or OriginateOutcomeUnknown

    async for ev in events: ...            # typed events (ami.events), per subscriber

Guarantees:
- One reader task per connection (``readuntil(b"\\r\\n\\r\\n")``); malformed messages are
  logged and skipped. Events go to each subscriber's bounded queue with ``put_nowait``; a
  full queue drops (and counts) for that subscriber only, and a callback that raises is
  logged, so no consumer can stall or break the reader.
- ActionIDs are ``<random per-process prefix>-<n>``: unique across sessions and restarts.
  Each action has a deadline (`ActionTimeout`). An ``Error`` reply raises `ActionFailed`
  (`AsteriskShuttingDown` for "Asterisk is shutting down").
- List actions collect ``EventList: start`` .. ``<X>Complete`` and check ``ListItems``.
- Nothing is ever re-sent after a reconnect: pending actions fail with `ConnectionLost`,
  pending originate outcomes with `OriginateOutcomeUnknown`; the engine decides. After
  every (re)connect the resync hook gets CoreShowChannels + QueueStatus results. Until the
  hook has finished the state is SYNCING (``connected`` is False), so nothing new is
  placed on a picture the engine has not reconciled yet; a failed resync is retried with
  back-off. `connect()` returns once the first resync has finished.
- OriginateResponse is broadcast to all sessions: only our own ActionIDs resolve handles
  (`OriginateResponse.ours` tells subscribers which is which).
- Keep-alive Ping every ``ping_interval`` with ``ping_timeout``: a silent connection is
  closed and reopened with exponential back-off. A failed login raises
  `AuthenticationError` and is never retried in a loop (state AUTH_FAILED).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from ami import actions as A
from ami.events import Event, OriginateResponse, Shutdown, to_event
from ami.ids import ActionIdGenerator
from ami.protocol import (
    TERMINATOR,
    MalformedMessage,
    Message,
    MessageReader,
    encode_action,
    parse_message,
)

log = logging.getLogger("ami.client")

SHUTTING_DOWN_TEXT = "Asterisk is shutting down"


# --------------------------------------------------------------------------- errors
class AMIError(Exception):
    """Base of every client error."""


class ActionFailed(AMIError):
    """Asterisk answered ``Response: Error``; ``.response`` is the message."""

    def __init__(self, action: str, response: Message) -> None:
        self.action = action
        self.response = response
        self.message = response.get("Message") or ""
        super().__init__(f"{action}: {self.message}")


class AsteriskShuttingDown(ActionFailed):
    """``Message: Asterisk is shutting down`` (every action during a graceful restart)."""


class ActionTimeout(AMIError):
    """No response within the action's deadline (the action may or may not have run)."""


class ConnectionLost(AMIError):
    """The connection dropped before the response; the action is NOT re-sent."""


class NotConnected(AMIError):
    """No AMI connection right now."""


class AuthenticationError(AMIError):
    """Login refused (wrong user or secret). Not retried."""


class ListIncomplete(AMIError):
    """A list action's ``ListItems`` did not match the items received."""


class OriginateOutcomeUnknown(AMIError):
    """We cannot know whether/how the call went: connection lost or no OriginateResponse
    within the ring timeout plus margin. Reconcile from events/resync, never re-dial blindly."""


# --------------------------------------------------------------------------- data
class ConnectionState(str, enum.Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    SYNCING = "syncing"  # logged in; the resync hook runs: not usable for new calls yet
    CONNECTED = "connected"
    SHUTTING_DOWN = "shutting_down"  # Event: Shutdown received
    AUTH_FAILED = "auth_failed"
    CLOSED = "closed"


@dataclass(slots=True)
class ClientConfig:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "dialer"
    secret: str = ""
    auth: str = "md5"  # "md5" (Challenge) or "plain"
    events: str = "on"
    connect_timeout: float = 5.0
    action_timeout: float = 10.0
    ping_interval: float = 5.0
    ping_timeout: float = 3.0
    reconnect_min: float = 0.2
    reconnect_max: float = 30.0
    originate_margin: float = 15.0  # outcome deadline = ring timeout + this
    resync_timeout: float = 30.0
    resync_retry_max: float = 5.0  # back-off cap between failed resync attempts
    reader_limit: int = 1 << 20


@dataclass(slots=True)
class ListResult:
    """A list action's reply: the Response and its item events (Complete excluded)."""

    response: Message
    items: list[Message]
    complete: Message | None


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


class OriginateHandle:
    """One originate: ``queued`` response now, ``await outcome()`` later."""

    __slots__ = ("action_id", "channel_id", "queued", "_future")

    def __init__(self, action_id: str, channel_id: str, future: asyncio.Future[OriginateResponse]):
        self.action_id = action_id
        self.channel_id = channel_id
        self.queued: Message | None = None
        self._future = future

    async def outcome(self) -> OriginateResponse:
        """The OriginateResponse; raises OriginateOutcomeUnknown on drop or deadline."""
        return await asyncio.shield(self._future)

    def done(self) -> bool:
        return self._future.done()

    @property
    def future(self) -> asyncio.Future[OriginateResponse]:
        return self._future


class Subscription:
    """A consumer's bounded event queue. Iterate with ``async for`` or ``await get()``."""

    def __init__(self, client: AMIClient, names: frozenset[str] | None, maxsize: int) -> None:
        self._client = client
        self.names = names
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None

    async def get(self) -> Event:
        return await self.queue.get()

    async def get_many(self, limit: int = 1000) -> list[Event]:
        """Wait for at least one event, then return up to ``limit`` without waiting."""
        q = self.queue
        out = [await q.get()]
        while len(out) < limit and not q.empty():
            out.append(q.get_nowait())
        return out

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[Event]:
        while True:
            yield await self.queue.get()

    def close(self) -> None:
        self._client._unsubscribe(self)
        if self._task is not None:
            self._task.cancel()


StateCallback = Callable[[ConnectionState, BaseException | None], None]
ResyncHook = Callable[[ResyncSnapshot], Awaitable[None]]


@dataclass(slots=True)
class _PendingList:
    action: A.Action
    future: asyncio.Future[ListResult]
    response: Message | None = None
    items: list[Message] = field(default_factory=list)


# --------------------------------------------------------------------------- client
class AMIClient:
    def __init__(self, config: ClientConfig, *, id_prefix: str | None = None) -> None:
        self.config = config
        self.ids = ActionIdGenerator(id_prefix)
        self.state = ConnectionState.DISCONNECTED
        self.banner: str | None = None
        self.connections = 0  # successful logins so far
        self.skipped_messages = 0
        self._writer: asyncio.StreamWriter | None = None
        self._msg_reader: MessageReader | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._ping_task: asyncio.Task[None] | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._pending: dict[str, tuple[str, asyncio.Future[Message]]] = {}
        self._lists: dict[str, _PendingList] = {}
        self._originates: dict[str, OriginateHandle] = {}
        self._subs: list[Subscription] = []
        self._want_all = False
        self._wanted: frozenset[str] = frozenset()
        self._state_cbs: list[StateCallback] = []
        self._resync_hook: ResyncHook | None = None
        self._closing = False
        self._first: asyncio.Future[None] | None = None
        self._retry = True

    # -- public: lifecycle --------------------------------------------------------
    async def connect(self, *, retry: bool = True) -> None:
        """Connect, log in and resync; returns once CONNECTED the first time.

        With ``retry`` (default) connection errors are retried with back-off forever;
        without it the first error is raised. AuthenticationError is always raised.
        The client then stays connected, reconnecting by itself, until `close()`.
        """
        if self._run_task is not None:
            raise RuntimeError("connect() called twice")
        loop = asyncio.get_running_loop()
        self._first = loop.create_future()
        self._retry = retry
        self._closing = False
        self._run_task = asyncio.create_task(self._run(), name="ami-client")
        await self._first

    async def close(self) -> None:
        """Log off (best effort), stop reconnecting and fail whatever is pending."""
        self._closing = True
        if self._first is not None and not self._first.done():
            self._first.set_exception(ConnectionLost("client closed while connecting"))
            self._first.exception()  # retrieved: connect() may not be awaited any more
        if self.state in (ConnectionState.CONNECTED, ConnectionState.SYNCING) and self._writer is not None:
            with contextlib.suppress(Exception):
                await self.send(A.logoff(), deadline=1.0)
        if self._writer is not None:
            self._writer.close()
        if self._run_task is not None:
            self._run_task.cancel()
            with contextlib.suppress(BaseException):
                await self._run_task
        self._fail_pending(ConnectionLost("client closed"))
        for sub in list(self._subs):
            sub.close()
        self._set_state(ConnectionState.CLOSED, None)

    async def __aenter__(self) -> AMIClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def on_state(self, callback: StateCallback) -> None:
        """Call ``callback(state, exception_or_None)`` on every state change."""
        self._state_cbs.append(callback)

    def set_resync_hook(self, hook: ResyncHook | None) -> None:
        """``await hook(snapshot)`` after every successful login (see ResyncSnapshot)."""
        self._resync_hook = hook

    def subscribe(self, names: Iterable[str] | None = None, *, maxsize: int = 10_000,
                  callback: Callable[[Event], Awaitable[None] | None] | None = None
                  ) -> Subscription:
        """A bounded event queue for the events named (all when None).

        With ``callback`` a task drains the queue and calls it (sync or async); an
        exception in the callback is logged and the next event is delivered.
        """
        sub = Subscription(self, frozenset(names) if names is not None else None, maxsize)
        self._subs.append(sub)
        self._recompute_wanted()
        if callback is not None:
            sub._task = asyncio.create_task(self._drain(sub, callback), name="ami-subscriber")
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with contextlib.suppress(ValueError):
            self._subs.remove(sub)
        self._recompute_wanted()

    def _recompute_wanted(self) -> None:
        self._want_all = any(s.names is None for s in self._subs)
        self._wanted = frozenset().union(*(s.names for s in self._subs if s.names is not None))

    @property
    def connected(self) -> bool:
        """Logged in and reconciled: new calls may be placed."""
        return self.state is ConnectionState.CONNECTED

    @property
    def logged_in(self) -> bool:
        """Actions can be sent (also while the resync hook runs, which may need them)."""
        return self.state in (ConnectionState.SYNCING, ConnectionState.CONNECTED)

    @property
    def pending_actions(self) -> int:
        return len(self._pending) + len(self._lists)

    @property
    def pending_originates(self) -> int:
        return len(self._originates)

    # -- public: actions ------------------------------------------------------------
    async def send(self, action: A.Action, *, deadline: float | None = None,
                   raise_on_error: bool = True) -> Message:
        """Send one action and return its Response (ActionFailed on ``Response: Error``)."""
        if action.complete_event is not None:
            return (await self.send_list(action, deadline=deadline)).response
        action_id = self.ids()
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = (action.name, fut)
        try:
            self._write(action.pairs(action_id))
            async with asyncio.timeout(deadline or self.config.action_timeout):
                resp = await fut
        except TimeoutError:
            raise ActionTimeout(f"{action.name} {action_id}: no response in time") from None
        finally:
            self._pending.pop(action_id, None)
        if raise_on_error and resp.get("Response") == "Error":
            raise _error(action.name, resp)
        return resp

    async def send_list(self, action: A.Action, *, deadline: float | None = None) -> ListResult:
        """Send a list action and collect its items up to the ``…Complete`` event."""
        action_id = self.ids()
        fut: asyncio.Future[ListResult] = asyncio.get_running_loop().create_future()
        self._lists[action_id] = _PendingList(action, fut)
        try:
            self._write(action.pairs(action_id))
            async with asyncio.timeout(deadline or self.config.action_timeout):
                return await fut
        except TimeoutError:
            raise ActionTimeout(f"{action.name} {action_id}: list not complete in time") from None
        finally:
            self._lists.pop(action_id, None)

    async def originate(self, req: A.OriginateRequest, *, deadline: float | None = None,
                        outcome_margin: float | None = None) -> OriginateHandle:
        """Send an async Originate; return when Asterisk has queued it.

        Raises ActionFailed (e.g. "Extension does not exist.", no outcome follows), or
        OriginateOutcomeUnknown if the connection dropped / timed out after sending.
        The handle's outcome fails with OriginateOutcomeUnknown if no OriginateResponse
        arrives within ``req.timeout_ms`` plus the margin, or the connection drops.
        """
        action = A.originate(req)
        action_id = self.ids()
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[OriginateResponse] = loop.create_future()
        outcome.add_done_callback(_consume_exception)
        handle = OriginateHandle(action_id, req.channel_id, outcome)
        fut: asyncio.Future[Message] = loop.create_future()
        # Register the outcome before sending: the event may race the response.
        self._originates[action_id] = handle
        self._pending[action_id] = (action.name, fut)
        try:
            self._write(action.pairs(action_id))
        except BaseException:  # not sent (not connected, a value AMI cannot carry)
            self._pending.pop(action_id, None)
            self._originates.pop(action_id, None)
            raise
        try:
            async with asyncio.timeout(deadline or self.config.action_timeout):
                resp = await fut
        except (TimeoutError, ConnectionLost) as exc:
            self._pending.pop(action_id, None)
            self._fail_originate(action_id, OriginateOutcomeUnknown(
                f"originate {req.channel_id}: {type(exc).__name__} before queued"))
            raise OriginateOutcomeUnknown(
                f"originate {req.channel_id}: no queued response ({type(exc).__name__})"
            ) from exc
        finally:
            self._pending.pop(action_id, None)
        if resp.get("Response") == "Error":
            self._originates.pop(action_id, None)
            outcome.cancel()
            raise _error(action.name, resp)
        handle.queued = resp
        if not outcome.done():
            margin = self.config.originate_margin if outcome_margin is None else outcome_margin
            deadline = req.timeout_ms / 1000.0 + margin
            loop.call_later(deadline, self._fail_originate, action_id, OriginateOutcomeUnknown(
                f"originate {req.channel_id}: no OriginateResponse within {deadline:.1f}s"))
        return handle

    async def ping(self, *, deadline: float | None = None) -> Message:
        return await self.send(A.ping(), deadline=deadline)

    async def hangup(self, channel: str, cause: int | None = None) -> Message:
        return await self.send(A.hangup(channel, cause))

    async def redirect(self, channel: str, context: str, exten: str, priority: str = "1"
                       ) -> Message:
        return await self.send(A.redirect(channel, context, exten, priority))

    async def queue_add(self, queue: str, interface: str, *, member_name: str | None = None,
                        state_interface: str | None = None, penalty: int = 0,
                        paused: bool = False, reason: str | None = None) -> Message:
        return await self.send(A.queue_add(queue, interface, member_name, state_interface,
                                           penalty, paused, reason))

    async def queue_remove(self, queue: str, interface: str) -> Message:
        return await self.send(A.queue_remove(queue, interface))

    async def queue_pause(self, interface: str, paused: bool, *, queue: str | None = None,
                          reason: str | None = None) -> Message:
        return await self.send(A.queue_pause(interface, paused, queue, reason))

    async def core_show_channels(self) -> list[Message]:
        return (await self.send_list(A.core_show_channels())).items

    async def queue_status(self, queue: str | None = None) -> list[Message]:
        return (await self.send_list(A.queue_status(queue))).items

    async def queue_summary(self, queue: str | None = None) -> list[Message]:
        return (await self.send_list(A.queue_summary(queue))).items

    async def agents(self) -> list[Message]:
        """``Agents`` items (AGENT_LOGGEDOFF / AGENT_IDLE / AGENT_ONCALL). Note: it says
        AGENT_IDLE during wrap-up; take availability from QueueStatus/QueueMemberStatus."""
        return (await self.send_list(A.agents())).items

    async def agent_logoff(self, agent: str, soft: bool = False) -> Message:
        return await self.send(A.agent_logoff(agent, soft))

    async def user_event(self, name: str, headers: Iterable[tuple[str, str]] = ()) -> Message:
        return await self.send(A.user_event(name, headers))

    # -- internals: connection ----------------------------------------------------------
    async def _run(self) -> None:
        delay = self.config.reconnect_min
        first = True
        while not self._closing:
            self._set_state(ConnectionState.CONNECTING, None)
            try:
                await self._open()
            except AuthenticationError as exc:
                self._set_state(ConnectionState.AUTH_FAILED, exc)
                self._teardown(exc)
                if self._first is not None and not self._first.done():
                    self._first.set_exception(exc)
                return
            except (OSError, AMIError, TimeoutError, asyncio.IncompleteReadError) as exc:
                self._teardown(exc)
                self._set_state(ConnectionState.DISCONNECTED, exc)
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
            self._set_state(ConnectionState.SYNCING, None)
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
                self._set_state(ConnectionState.DISCONNECTED, reason)
                await asyncio.sleep(self.config.reconnect_min * (0.5 + random.random()))

    async def _open(self) -> None:
        cfg = self.config
        async with asyncio.timeout(cfg.connect_timeout):
            reader, writer = await asyncio.open_connection(cfg.host, cfg.port, limit=cfg.reader_limit)
        self._writer = writer
        self._msg_reader = MessageReader(reader)
        async with asyncio.timeout(cfg.connect_timeout):
            self.banner = await self._msg_reader.read_banner()
        self._reader_task = asyncio.create_task(self._read_loop(self._msg_reader),
                                                name="ami-reader")
        try:
            if cfg.auth == "md5":
                resp = await self.send(A.challenge(), deadline=cfg.connect_timeout,
                                       raise_on_error=False)
                if resp.get("Response") != "Success":
                    _raise_login(resp)
                act = A.login_md5(cfg.username, cfg.secret, resp.get("Challenge") or "",
                                  cfg.events)
            else:
                act = A.login(cfg.username, cfg.secret, cfg.events)
            resp = await self.send(act, deadline=cfg.connect_timeout, raise_on_error=False)
            if resp.get("Response") != "Success":
                _raise_login(resp)
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
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._fail_pending(reason)

    def _fail_pending(self, reason: BaseException) -> None:
        lost = reason if isinstance(reason, ConnectionLost) else ConnectionLost(str(reason))
        for _name, fut in list(self._pending.values()):
            if not fut.done():
                fut.set_exception(lost)
        self._pending.clear()
        for pl in list(self._lists.values()):
            if not pl.future.done():
                pl.future.set_exception(lost)
        self._lists.clear()
        for action_id in list(self._originates):
            self._fail_originate(action_id, OriginateOutcomeUnknown(
                f"connection lost while the call was in progress ({reason})"))

    def _fail_originate(self, action_id: str, exc: BaseException) -> None:
        handle = self._originates.pop(action_id, None)
        if handle is not None and not handle._future.done():
            handle._future.set_exception(exc)

    def _set_state(self, state: ConnectionState, exc: BaseException | None) -> None:
        if state is self.state and exc is None:
            return
        self.state = state
        for cb in list(self._state_cbs):
            try:
                cb(state, exc)
            except Exception:  # noqa: BLE001
                log.exception("AMI state callback failed")

    def _write(self, pairs: list[tuple[str, str]]) -> None:
        w = self._writer
        if w is None or w.is_closing():
            raise NotConnected("not connected to Asterisk")
        w.write(encode_action(pairs))

    async def _pinger(self) -> None:
        cfg = self.config
        while True:
            await asyncio.sleep(cfg.ping_interval)
            try:
                await self.send(A.ping(), deadline=cfg.ping_timeout, raise_on_error=False)
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
        while self._resync_hook is not None:
            hook = self._resync_hook
            try:
                t = self.config.resync_timeout
                requested_at = time.monotonic()
                channels = (await self.send_list(A.core_show_channels(), deadline=t)).items
                queues = (await self.send_list(A.queue_status(), deadline=t)).items
                await hook(ResyncSnapshot(channels, queues, reconnect, requested_at))
                break
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - e.g. Asterisk shutting down, or the database
                log.exception("AMI resync failed; retrying in %.1fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.config.resync_retry_max)
        if self.state is ConnectionState.SYNCING:  # not after a Shutdown event meanwhile
            self._set_state(ConnectionState.CONNECTED, None)
        if self._first is not None and not self._first.done():
            self._first.set_result(None)

    # -- internals: reading -------------------------------------------------------------
    async def _read_loop(self, reader: MessageReader) -> None:
        pending = self._pending
        lists = self._lists
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
                            self._list_response(aid, pl, msg)
                        continue
                    name = event_name
                if lists:
                    aid = msg.get("ActionID")
                    if aid is not None:
                        pl = lists.get(aid)
                        if pl is not None:
                            self._list_item(aid, pl, name, msg)
                            continue
                if name == "OriginateResponse":
                    self._originate_response(msg)
                    continue
                if name == "Shutdown":
                    self._set_state(ConnectionState.SHUTTING_DOWN, None)
                if self._subs and (self._want_all or name in self._wanted):
                    self._dispatch(name, to_event(msg))
        except asyncio.IncompleteReadError:
            raise ConnectionLost("EOF from Asterisk") from None
        except (ConnectionError, OSError) as exc:
            raise ConnectionLost(str(exc)) from exc

    def _list_response(self, aid: str, pl: _PendingList, msg: Message) -> None:
        if msg.get("Response") == "Error":
            if not pl.future.done():
                pl.future.set_exception(_error(pl.action.name, msg))
            return
        pl.response = msg
        if msg.get("EventList") != "start" and not pl.future.done():
            pl.future.set_result(ListResult(msg, [], None))

    def _list_item(self, aid: str, pl: _PendingList, name: str, msg: Message) -> None:
        if name == pl.action.complete_event or msg.get("EventList") == "Complete":
            if pl.future.done():
                return
            n = msg.get("ListItems")
            if n is not None and n.isdigit() and int(n) != len(pl.items):
                pl.future.set_exception(ListIncomplete(
                    f"{pl.action.name}: ListItems {n}, received {len(pl.items)}"))
                return
            resp = pl.response or msg
            pl.future.set_result(ListResult(resp, pl.items, msg))
        else:
            pl.items.append(msg)

    def _originate_response(self, msg: Message) -> None:
        ev = to_event(msg)
        assert isinstance(ev, OriginateResponse)
        aid = ev.action_id
        ours = self.ids.owns(aid)
        ev.ours = ours
        if ours and aid is not None:
            handle = self._originates.pop(aid, None)
            if handle is not None and not handle._future.done():
                handle._future.set_result(ev)
        if self._subs and (self._want_all or "OriginateResponse" in self._wanted):
            self._dispatch("OriginateResponse", ev)

    def _dispatch(self, name: str, ev: Event) -> None:
        for sub in self._subs:
            if sub.names is not None and name not in sub.names:
                continue
            try:
                sub.queue.put_nowait(ev)
            except asyncio.QueueFull:
                sub.dropped += 1
                if sub.dropped == 1 or sub.dropped % 1000 == 0:
                    log.warning("AMI subscriber queue full: %d events dropped", sub.dropped)

    @staticmethod
    async def _drain(sub: Subscription,
                     callback: Callable[[Event], Awaitable[None] | None]) -> None:
        while True:
            ev = await sub.queue.get()
            try:
                res = callback(ev)
                if res is not None:
                    await res
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001
                log.exception("AMI event consumer raised on %s; continuing", ev.name)


def _error(action: str, resp: Message) -> ActionFailed:
    if resp.get("Message") == SHUTTING_DOWN_TEXT:
        return AsteriskShuttingDown(action, resp)
    return ActionFailed(action, resp)


def _raise_login(resp: Message) -> None:
    text = resp.get("Message") or ""
    if text == SHUTTING_DOWN_TEXT:
        raise AsteriskShuttingDown("Login", resp)
    raise AuthenticationError(f"AMI login refused: {text or resp.get('Response')}")


def _consume_exception(fut: asyncio.Future[OriginateResponse]) -> None:
    if not fut.cancelled():
        fut.exception()


__all__ = [
    "AMIClient", "ClientConfig", "ConnectionState", "ResyncSnapshot", "ListResult",
    "OriginateHandle", "Subscription", "AMIError", "ActionFailed", "AsteriskShuttingDown",
    "ActionTimeout", "ConnectionLost", "NotConnected", "AuthenticationError",
    "ListIncomplete", "OriginateOutcomeUnknown", "Shutdown",
]
