"""The AMI client's actions in flight: sent, then matched to responses, list items, outcomes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ami import actions as A
from ami.client.config import ClientConfig
from ami.client.errors import (
    ActionTimeout,
    ConnectionLost,
    ListIncomplete,
    NotConnected,
    OriginateOutcomeUnknown,
    error_for,
)
from ami.events import OriginateResponse
from ami.ids import ActionIdGenerator
from ami.protocol import Message, encode_action


@dataclass(slots=True)
class ListResult:
    """A list action's reply: the Response and its item events (Complete excluded)."""

    response: Message
    items: list[Message]
    complete: Message | None


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


@dataclass(slots=True)
class PendingList:
    """A list action waiting for its ``…Complete`` event."""

    action: A.Action
    future: asyncio.Future[ListResult]
    response: Message | None = None
    items: list[Message] = field(default_factory=list)


class Correlator:
    """Writes actions to the current connection and resolves what waits for an answer.

    ``pending`` (plain actions), ``lists`` and ``originates`` are keyed by ActionID; the
    connection's reader looks them up directly (hot path). Nothing is ever re-sent: on a
    drop `fail_all` fails every waiter.
    """

    def __init__(self, config: ClientConfig, ids: ActionIdGenerator) -> None:
        self.config = config
        self.ids = ids
        self.writer: asyncio.StreamWriter | None = None  # the connection's, while open
        self.pending: dict[str, tuple[str, asyncio.Future[Message]]] = {}
        self.lists: dict[str, PendingList] = {}
        self.originates: dict[str, OriginateHandle] = {}

    def write(self, pairs: list[tuple[str, str]]) -> None:
        w = self.writer
        if w is None or w.is_closing():
            raise NotConnected("not connected to Asterisk")
        w.write(encode_action(pairs))

    # ------------------------------------------------------------------ sending
    async def send(self, action: A.Action, *, deadline: float | None = None,
                   raise_on_error: bool = True) -> Message:
        if action.complete_event is not None:
            return (await self.send_list(action, deadline=deadline)).response
        action_id = self.ids()
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self.pending[action_id] = (action.name, fut)
        try:
            self.write(action.pairs(action_id))
            async with asyncio.timeout(deadline or self.config.action_timeout):
                resp = await fut
        except TimeoutError:
            raise ActionTimeout(f"{action.name} {action_id}: no response in time") from None
        finally:
            self.pending.pop(action_id, None)
        if raise_on_error and resp.get("Response") == "Error":
            raise error_for(action.name, resp)
        return resp

    async def send_list(self, action: A.Action, *, deadline: float | None = None) -> ListResult:
        action_id = self.ids()
        fut: asyncio.Future[ListResult] = asyncio.get_running_loop().create_future()
        self.lists[action_id] = PendingList(action, fut)
        try:
            self.write(action.pairs(action_id))
            async with asyncio.timeout(deadline or self.config.action_timeout):
                return await fut
        except TimeoutError:
            raise ActionTimeout(f"{action.name} {action_id}: list not complete in time") from None
        finally:
            self.lists.pop(action_id, None)

    async def originate(self, req: A.OriginateRequest, *, deadline: float | None = None,
                        outcome_margin: float | None = None) -> OriginateHandle:
        action = A.originate(req)
        action_id = self.ids()
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[OriginateResponse] = loop.create_future()
        outcome.add_done_callback(_consume_exception)
        handle = OriginateHandle(action_id, req.channel_id, outcome)
        fut: asyncio.Future[Message] = loop.create_future()
        # Register the outcome before sending: the event may race the response.
        self.originates[action_id] = handle
        self.pending[action_id] = (action.name, fut)
        try:
            self.write(action.pairs(action_id))
        except BaseException:  # not sent (not connected, a value AMI cannot carry)
            self.pending.pop(action_id, None)
            self.originates.pop(action_id, None)
            raise
        try:
            async with asyncio.timeout(deadline or self.config.action_timeout):
                resp = await fut
        except (TimeoutError, ConnectionLost) as exc:
            self.pending.pop(action_id, None)
            self.fail_originate(action_id, OriginateOutcomeUnknown(
                f"originate {req.channel_id}: {type(exc).__name__} before queued"))
            raise OriginateOutcomeUnknown(
                f"originate {req.channel_id}: no queued response ({type(exc).__name__})"
            ) from exc
        finally:
            self.pending.pop(action_id, None)
        if resp.get("Response") == "Error":
            self.originates.pop(action_id, None)
            outcome.cancel()
            raise error_for(action.name, resp)
        handle.queued = resp
        if not outcome.done():
            margin = self.config.originate_margin if outcome_margin is None else outcome_margin
            deadline = req.timeout_ms / 1000.0 + margin
            loop.call_later(deadline, self.fail_originate, action_id, OriginateOutcomeUnknown(
                f"originate {req.channel_id}: no OriginateResponse within {deadline:.1f}s"))
        return handle

    # ------------------------------------------------------------------ what comes back
    def list_response(self, aid: str, pl: PendingList, msg: Message) -> None:
        if msg.get("Response") == "Error":
            if not pl.future.done():
                pl.future.set_exception(error_for(pl.action.name, msg))
            return
        pl.response = msg
        if msg.get("EventList") != "start" and not pl.future.done():
            pl.future.set_result(ListResult(msg, [], None))

    def list_item(self, aid: str, pl: PendingList, name: str, msg: Message) -> None:
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

    def originate_outcome(self, ev: OriginateResponse) -> None:
        """Mark ``ev.ours`` and resolve our handle (OriginateResponse goes to every session)."""
        aid = ev.action_id
        ours = self.ids.owns(aid)
        ev.ours = ours
        if ours and aid is not None:
            handle = self.originates.pop(aid, None)
            if handle is not None and not handle._future.done():
                handle._future.set_result(ev)

    # ------------------------------------------------------------------ failing
    def fail_all(self, reason: BaseException) -> None:
        lost = reason if isinstance(reason, ConnectionLost) else ConnectionLost(str(reason))
        for _name, fut in list(self.pending.values()):
            if not fut.done():
                fut.set_exception(lost)
        self.pending.clear()
        for pl in list(self.lists.values()):
            if not pl.future.done():
                pl.future.set_exception(lost)
        self.lists.clear()
        for action_id in list(self.originates):
            self.fail_originate(action_id, OriginateOutcomeUnknown(
                f"connection lost while the call was in progress ({reason})"))

    def fail_originate(self, action_id: str, exc: BaseException) -> None:
        handle = self.originates.pop(action_id, None)
        if handle is not None and not handle._future.done():
            handle._future.set_exception(exc)


def _consume_exception(fut: asyncio.Future[OriginateResponse]) -> None:
    if not fut.cancelled():
        fut.exception()
