"""Supervised engine loops: restart on failure, report health, give up past a limit.

Each named loop is a coroutine factory run as its own task (procrastinate's worker runs
its side tasks the same way). A loop calls `beat(name)` once per iteration, after the
work of that iteration is done (never before it: a loop restarted into the same failure
must not look healthy); an idle loop waits with a timeout so it still beats.

- A loop that raises is restarted after a back-off: 0.5 s doubling to 30 s. The back-off
  resets once the loop has run `healthy_after_s` without failing.
- A loop is *failing* from its first failure until its next beat, and *stalled* when it
  has not beaten for `stall_after_s` (a query that never returns, a deadlock).
- A critical loop failing or stalled for longer than `give_up_after_s` stops the engine:
  `run()` raises `LoopFailed`, naming the loop and its last error, and `dialer run`
  exits non-zero, so a process manager restarts it.
- `health()` is written with every heartbeat. An engine with a critical loop failing or
  stalled is *unhealthy*, with `unhealthy_since`; other engines treat an engine unhealthy
  for longer than `stale_engine_s` like one whose heartbeat stopped (its claims are
  released and its open attempts closed as unknown), because a live heartbeat alone no
  longer says that its calls are followed.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dialer.errors import UserError

log = logging.getLogger("dialer.engine.supervisor")

LoopFactory = Callable[[], Coroutine[Any, Any, Any]]


class LoopFailed(UserError):
    """A critical engine loop kept failing past the limit: the engine stops (exit code 1)."""

    def __init__(self, loop: str, error: str, seconds: float) -> None:
        super().__init__(f"engine loop {loop!r} failing for {seconds:.0f} s, stopping the engine: {error}")
        self.loop = loop
        self.error = error


@dataclass
class LoopHealth:
    name: str
    critical: bool
    last_beat: float
    failures: int = 0  # consecutive, since the last healthy period
    last_error: str | None = None
    failing_since: float | None = None  # engine clock; None once the loop beats again
    last_failure: float | None = None
    restarts: int = 0
    beats: int = 0

    def state(self, now: float, stall_after_s: float) -> str:
        if self.failing_since is not None:
            return "failing"
        if now - self.last_beat > stall_after_s:
            return "stalled"
        return "ok"

    def trouble_since(self, now: float, stall_after_s: float) -> float | None:
        """Since when this loop has been failing or stalled (engine clock), or None."""
        if self.failing_since is not None:
            return self.failing_since
        if now - self.last_beat > stall_after_s:
            return self.last_beat + stall_after_s
        return None


@dataclass
class Supervisor:
    backoff_min_s: float = 0.5
    backoff_max_s: float = 30.0
    healthy_after_s: float = 30.0
    stall_after_s: float = 30.0
    give_up_after_s: float = 60.0
    loops: dict[str, LoopHealth] = field(default_factory=dict)
    _factories: dict[str, LoopFactory] = field(default_factory=dict)
    _tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _fatal: asyncio.Future[LoopFailed] | None = None

    def add(self, name: str, factory: LoopFactory, *, critical: bool = True) -> None:
        self._factories[name] = factory
        self.loops[name] = LoopHealth(name, critical, time.monotonic())

    def beat(self, name: str) -> None:
        """One iteration of `name` done: it makes progress."""
        loop = self.loops.get(name)
        if loop is None:
            return
        now = time.monotonic()
        loop.last_beat = now
        loop.beats += 1
        if loop.failing_since is not None:
            log.info("engine loop %s recovered after %d failures", name, loop.failures)
            loop.failing_since = None
        if loop.failures and loop.last_failure is not None and now - loop.last_failure >= self.healthy_after_s:
            loop.failures = 0  # a healthy period: the next failure starts the back-off again

    def failed(self, name: str, exc: BaseException) -> float:
        """Record a failure of `name`; returns the back-off before it runs again."""
        loop = self.loops[name]
        now = time.monotonic()
        loop.failures += 1
        loop.last_failure = now
        loop.last_error = describe(exc)
        if loop.failing_since is None:
            loop.failing_since = now
        return min(self.backoff_max_s, self.backoff_min_s * 2 ** (loop.failures - 1))

    async def run(self) -> None:
        """Run every loop until cancelled; raise LoopFailed when a critical one gives out."""
        self._fatal = asyncio.get_running_loop().create_future()
        for name in self._factories:
            self._tasks[name] = asyncio.create_task(self._supervise(name), name=f"engine-{name}")
        watch = asyncio.create_task(self._watch())
        try:
            raise await self._fatal
        finally:
            await cancel_and_wait([watch, *self._tasks.values()])

    async def _supervise(self, name: str) -> None:
        while True:
            try:
                await self._factories[name]()
                error: BaseException = RuntimeError("the loop returned")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: restart after a back-off
                error = exc
            delay = self.failed(name, error)
            self.loops[name].restarts += 1
            log.error("engine loop %s failed (%d in a row), restarting in %.1f s: %s",
                      name, self.loops[name].failures, delay, self.loops[name].last_error,
                      exc_info=error if self.loops[name].failures == 1 else None)
            await asyncio.sleep(delay)

    async def _watch(self) -> None:
        """Give up on a critical loop failing or stalled past the limit."""
        assert self._fatal is not None
        while True:
            await asyncio.sleep(min(1.0, self.give_up_after_s / 4))
            now = time.monotonic()
            for loop in self.loops.values():
                since = loop.trouble_since(now, self.stall_after_s)
                if loop.critical and since is not None and now - since >= self.give_up_after_s:
                    error = loop.last_error if loop.failing_since is not None else "no progress (stalled)"
                    failed = LoopFailed(loop.name, error or "unknown error", now - since)
                    log.critical("%s", failed)
                    if not self._fatal.done():
                        self._fatal.set_result(failed)
                    return

    # --- what the heartbeat reports ------------------------------------------------------

    def unhealthy_since(self) -> float | None:
        now = time.monotonic()
        times = [s for loop in self.loops.values() if loop.critical
                 if (s := loop.trouble_since(now, self.stall_after_s)) is not None]
        return min(times) if times else None

    def health(self) -> dict[str, Any]:
        now = time.monotonic()
        since = self.unhealthy_since()
        return {
            "healthy": since is None,
            "unhealthy_since": (
                None if since is None else (datetime.now(UTC) - timedelta(seconds=now - since)).isoformat()
            ),
            "loops": {
                loop.name: {
                    "state": loop.state(now, self.stall_after_s),
                    "failures": loop.failures,
                    "restarts": loop.restarts,
                    "last_error": loop.last_error,
                    "since_beat_s": round(now - loop.last_beat, 1),
                }
                for loop in self.loops.values()
            },
        }


async def cancel_and_wait(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel `tasks` and wait for them. A task that swallowed its cancellation (Python
    3.11's `asyncio.wait_for` does when the awaited thing completes at the same moment)
    is cancelled again rather than waited on for ever."""
    for task in tasks:
        task.cancel()
    while tasks:
        _, pending = await asyncio.wait(tasks, timeout=1.0)
        if not pending:
            break
        log.warning("engine tasks still running after cancel, cancelling again: %s",
                    ", ".join(sorted(t.get_name() for t in pending)))
        for task in pending:
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


_DIGITS = re.compile(r"\+?\d[\d ()-]{5,}\d")


def describe(exc: BaseException) -> str:
    """An error for the heartbeat and the logs: its type and first line, kept short, with
    any run of digits long enough to be a phone number masked."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    text = _DIGITS.sub("#", text)
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__
