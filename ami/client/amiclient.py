"""`AMIClient`, the engine's handle on Asterisk: lifecycle, actions and event subscriptions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from ami import actions as A
from ami.client.config import ClientConfig, ConnectionState
from ami.client.connection import Connection, ResyncHook, StateCallback
from ami.client.correlation import Correlator, ListResult, OriginateHandle
from ami.client.subscriptions import EventFanout, Subscription
from ami.events import Event
from ami.ids import ActionIdGenerator
from ami.protocol import Message


class AMIClient:
    """An AMI connection that keeps itself up; see `ami.client` for usage and guarantees."""

    def __init__(self, config: ClientConfig, *, id_prefix: str | None = None) -> None:
        self.config = config
        self.ids = ActionIdGenerator(id_prefix)
        self._requests = Correlator(config, self.ids)
        self._fanout = EventFanout()
        self._conn = Connection(config, self._requests, self._fanout)

    # -- public: lifecycle --------------------------------------------------------
    async def connect(self, *, retry: bool = True) -> None:
        """Connect, log in and resync; returns once CONNECTED the first time.

        With ``retry`` (default) connection errors are retried with back-off forever;
        without it the first error is raised. AuthenticationError is always raised.
        The client then stays connected, reconnecting by itself, until `close()`.
        """
        await self._conn.start(retry=retry)

    async def close(self) -> None:
        """Log off (best effort), stop reconnecting and fail whatever is pending."""
        await self._conn.stop()
        self._fanout.close_all()
        self._conn.set_state(ConnectionState.CLOSED, None)

    async def __aenter__(self) -> AMIClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def on_state(self, callback: StateCallback) -> None:
        """Call ``callback(state, exception_or_None)`` on every state change."""
        self._conn.state_cbs.append(callback)

    def set_resync_hook(self, hook: ResyncHook | None) -> None:
        """``await hook(snapshot)`` after every successful login (see ResyncSnapshot)."""
        self._conn.resync_hook = hook

    def subscribe(self, names: Iterable[str] | None = None, *, maxsize: int = 10_000,
                  callback: Callable[[Event], Awaitable[None] | None] | None = None
                  ) -> Subscription:
        """A bounded event queue for the events named (all when None).

        With ``callback`` a task drains the queue and calls it (sync or async); an
        exception in the callback is logged and the next event is delivered.
        """
        return self._fanout.subscribe(names, maxsize, callback)

    @property
    def state(self) -> ConnectionState:
        return self._conn.state

    @property
    def banner(self) -> str | None:
        """The server greeting, e.g. ``Asterisk Call Manager/11.0.0``."""
        return self._conn.banner

    @property
    def connections(self) -> int:
        """Successful logins so far."""
        return self._conn.connections

    @property
    def skipped_messages(self) -> int:
        """Malformed or oversized messages the reader skipped."""
        return self._conn.skipped_messages

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
        return len(self._requests.pending) + len(self._requests.lists)

    @property
    def pending_originates(self) -> int:
        return len(self._requests.originates)

    # -- public: actions ------------------------------------------------------------
    async def send(self, action: A.Action, *, deadline: float | None = None,
                   raise_on_error: bool = True) -> Message:
        """Send one action and return its Response (ActionFailed on ``Response: Error``)."""
        return await self._requests.send(action, deadline=deadline,
                                         raise_on_error=raise_on_error)

    async def send_list(self, action: A.Action, *, deadline: float | None = None) -> ListResult:
        """Send a list action and collect its items up to the ``…Complete`` event."""
        return await self._requests.send_list(action, deadline=deadline)

    async def originate(self, req: A.OriginateRequest, *, deadline: float | None = None,
                        outcome_margin: float | None = None) -> OriginateHandle:
        """Send an async Originate; return when Asterisk has queued it.

        Raises ActionFailed (e.g. "Extension does not exist.", no outcome follows), or
        OriginateOutcomeUnknown if the connection dropped / timed out after sending.
        The handle's outcome fails with OriginateOutcomeUnknown if no OriginateResponse
        arrives within ``req.timeout_ms`` plus the margin, or the connection drops.
        """
        return await self._requests.originate(req, deadline=deadline,
                                              outcome_margin=outcome_margin)

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
