"""The AMI client's event subscribers: bounded per-consumer queues and the fan-out to them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

from ami.events import Event

log = logging.getLogger("ami.client")

EventCallback = Callable[[Event], Awaitable[None] | None]


class Subscription:
    """A consumer's bounded event queue. Iterate with ``async for`` or ``await get()``."""

    def __init__(self, fanout: EventFanout, names: frozenset[str] | None, maxsize: int) -> None:
        self._fanout = fanout
        self.names = names
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.dropped = 0
        # Events queued so far: a consumer that counts the events it has handled knows when
        # it has caught up with a moment (e.g. an action's response, which can overtake the
        # events received before it on their way through the queue).
        self.received = 0
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
        self._fanout.unsubscribe(self)
        if self._task is not None:
            self._task.cancel()


class EventFanout:
    """Every subscription, and the union of the event names they want (read on the hot path).

    A full queue drops (and counts) for that subscriber only; a callback that raises is
    logged: no consumer can stall or break the reader.
    """

    def __init__(self) -> None:
        self.subs: list[Subscription] = []
        self.want_all = False
        self.wanted: frozenset[str] = frozenset()

    def subscribe(self, names: Iterable[str] | None, maxsize: int,
                  callback: EventCallback | None) -> Subscription:
        sub = Subscription(self, frozenset(names) if names is not None else None, maxsize)
        self.subs.append(sub)
        self._recompute_wanted()
        if callback is not None:
            sub._task = asyncio.create_task(self._drain(sub, callback), name="ami-subscriber")
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with contextlib.suppress(ValueError):
            self.subs.remove(sub)
        self._recompute_wanted()

    def close_all(self) -> None:
        for sub in list(self.subs):
            sub.close()

    def _recompute_wanted(self) -> None:
        self.want_all = any(s.names is None for s in self.subs)
        self.wanted = frozenset().union(*(s.names for s in self.subs if s.names is not None))

    def dispatch(self, name: str, ev: Event) -> None:
        for sub in self.subs:
            if sub.names is not None and name not in sub.names:
                continue
            try:
                sub.queue.put_nowait(ev)
                sub.received += 1
            except asyncio.QueueFull:
                sub.dropped += 1
                if sub.dropped == 1 or sub.dropped % 1000 == 0:
                    log.warning("AMI subscriber queue full: %d events dropped", sub.dropped)

    @staticmethod
    async def _drain(sub: Subscription, callback: EventCallback) -> None:
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
