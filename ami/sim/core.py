"""The state every part of the simulated PBX shares: settings, clock, counters, channels, calls."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Coroutine
from typing import Any

from ami.sim.calls import SimCall
from ami.sim.channels import CAUSE_TXT, Chan
from ami.sim.config import SimConfig
from ami.sim.stats import SimStats
from ami.sim.transport import AmiTransport

log = logging.getLogger("ami.simulator")


class PbxCore:
    """One simulated PBX's shared state and the primitives the other parts build on.

    Everything runs on one event loop; simulated durations are divided by
    ``config.time_scale``. Events go out through ``out`` (the AMI sessions).
    """

    def __init__(self, config: SimConfig, stats: SimStats, out: AmiTransport) -> None:
        self.config = config
        self.stats = stats
        self.out = out
        self.channels: dict[str, Chan] = {}  # by name
        self.calls: dict[str, SimCall] = {}  # by attempt id
        #: one stream for what belongs to no call (Challenge strings, sampled wrap-up times)
        self.rng = random.Random(config.seed)
        self.shutting_down = False
        self.start_epoch = int(time.time())
        self.started_loop = 0.0
        self._chan_seq = 0
        self._uid_seq = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def reset(self) -> None:
        """No channels, no calls, names counted from 0 (a restart)."""
        self.channels.clear()
        self.calls.clear()
        self._chan_seq = 0
        self._uid_seq = 0

    # ------------------------------------------------------------------ time
    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def sim_elapsed(self, since_loop: float) -> float:
        return (self.now() - since_loop) * self.config.time_scale

    async def sleep(self, sim_seconds: float) -> None:
        await asyncio.sleep(max(sim_seconds, 0.0) / self.config.time_scale)

    # ------------------------------------------------------------------ tasks
    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("simulator task %s failed", task.get_name(), exc_info=task.exception())

    async def cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    # ------------------------------------------------------------------ events
    def emit(self, name: str, privilege: str, body: str, *, timestamp: bool = True) -> None:
        self.out.emit(name, privilege, body, timestamp=timestamp)

    def emit_chan(self, name: str, ch: Chan, extra: str = "", privilege: str = "call,all"
                  ) -> None:
        self.out.emit(name, privilege, ch.block() + extra)

    # ------------------------------------------------------------------ channels
    def next_chan_suffix(self) -> str:
        n = self._chan_seq
        self._chan_seq += 1
        return f"{n:08x}"

    def auto_uid(self) -> str:
        n = self._uid_seq
        self._uid_seq += 1
        return f"{self.start_epoch}.{n}"

    def new_chan(self, name: str, uid: str, linkedid: str, context: str, exten: str,
                 state: int) -> Chan:
        ch = Chan(name, uid, linkedid, context, exten, state, self.now())
        self.channels[name] = ch
        return ch

    def uid_in_use(self, uid: str) -> Chan | None:
        """Asterisk's check: a live Uniqueid that starts with ``uid`` (case-insensitive)."""
        low = uid.lower()
        for ch in self.channels.values():
            if ch.uniqueid.lower().startswith(low):
                return ch
        return None

    def call_of(self, ch: Chan) -> SimCall | None:
        """The live call ``ch`` is a leg of, if any."""
        return self.calls.get(ch.attempt_id) if ch.attempt_id is not None else None

    def hangup_chan(self, ch: Chan, cause: int) -> None:
        if self.channels.pop(ch.name, None) is None:
            return
        self.emit_chan("Hangup", ch,
                       f"Cause: {cause}\r\nCause-txt: {CAUSE_TXT.get(cause, 'Unknown')}\r\n")

    def newstate(self, ch: Chan, state: int) -> None:
        ch.state = state
        self.emit_chan("Newstate", ch)

    def end_both(self, call: SimCall, cause: int) -> None:
        """Hang up the customer's legs (ch1, then the Local ;2)."""
        if call.ch1 is not None:
            self.hangup_chan(call.ch1, cause)
        if call.ch2 is not None:
            self.hangup_chan(call.ch2, cause)
