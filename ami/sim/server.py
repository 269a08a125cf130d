"""The PBX simulator: an asyncio TCP server that speaks AMI like Asterisk 22.10.1.

See ami/simulator.py for the public summary. `PbxSimulator` puts the parts together
(ami/sim/__init__.py lists them) and is what tests, the demo and the CLI drive.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable

from ami.sim.actions import ActionRouter, SystemActions
from ami.sim.actions_calls import CallActions
from ami.sim.actions_config import ConfigActions
from ami.sim.actions_queues import QueueActions
from ami.sim.callflow import CallFlow
from ami.sim.calls import SimCall
from ami.sim.channels import Chan
from ami.sim.conffile import ConfFiles
from ami.sim.config import SimConfig
from ami.sim.connect import ConnectFlow
from ami.sim.core import PbxCore
from ami.sim.queues import Agent, AgentPool, Queue
from ami.sim.stats import SimStats
from ami.sim.transport import AmiTransport, Session

__all__ = ["PbxSimulator", "SimStats"]


class PbxSimulator:
    """Simulated Asterisk. ``async with PbxSimulator(SimConfig(...)) as sim: sim.port``.

    Failure injection: `drop_connections()`, ``response_delay`` (seconds, real time),
    ``silent`` (read actions, answer nothing: a half-dead connection), `send_garbled()`,
    ``refuse_actions``, `shutdown()` (graceful, optionally restarting).
    """

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.stats = SimStats()
        self._out = AmiTransport(self.stats)
        self._core = PbxCore(self.config, self.stats, self._out)
        self._pool = AgentPool(self._core)
        connect = ConnectFlow(self._core, self._pool)
        self._flow = CallFlow(self._core, self._pool, connect)
        handlers = {
            **SystemActions(self._core).handlers(),
            **CallActions(self._core, self._pool, self._flow).handlers(),
            **QueueActions(self._core, self._pool, self._flow).handlers(),
            **ConfigActions(self._core, self._pool).handlers(),
        }
        self._router = ActionRouter(self._core, handlers)
        self._server: asyncio.Server | None = None
        self._reset_state()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._core.started_loop = loop.time()
        serve = functools.partial(self._out.serve, dispatch=self._router.on_action)
        self._server = await asyncio.start_server(serve, self.config.host, self.config.port,
                                                  limit=1 << 20)
        self._pool.login_all()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self._out.close_all()
        await self._core.cancel_tasks()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    async def __aenter__(self) -> PbxSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _reset_state(self) -> None:
        self._core.reset()
        self._pool.reset()

    # ------------------------------------------------------------------ what tests read
    @property
    def port(self) -> int:
        assert self._server is not None, "simulator not started"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def live_channels(self) -> int:
        return len(self._core.channels)

    @property
    def active_calls(self) -> int:
        return len(self._core.calls)

    @property
    def channels(self) -> dict[str, Chan]:
        """Live channels by name."""
        return self._core.channels

    @property
    def calls(self) -> dict[str, SimCall]:
        """Live calls by attempt id (ChannelId)."""
        return self._core.calls

    @property
    def agents(self) -> dict[str, Agent]:
        return self._pool.agents

    @property
    def queues(self) -> dict[str, Queue]:
        return self._pool.queues

    @property
    def queue_files(self) -> ConfFiles:
        """queues_dialer.conf and queues.conf as UpdateConfig left them."""
        return self._pool.conf

    @property
    def sessions(self) -> set[Session]:
        return self._out.sessions

    @property
    def shutting_down(self) -> bool:
        return self._core.shutting_down

    def on_event_bytes(self, listener: Callable[[bytes], None]) -> None:
        """Tap every emitted event (as bytes), e.g. for recording a run."""
        self._out.on_event_bytes(listener)

    # ------------------------------------------------------------------ failure injection
    @property
    def response_delay(self) -> float:
        return self._out.response_delay

    @response_delay.setter
    def response_delay(self, seconds: float) -> None:
        self._out.response_delay = seconds

    @property
    def silent(self) -> bool:
        return self._out.silent

    @silent.setter
    def silent(self, value: bool) -> None:
        self._out.silent = value

    @property
    def refuse_actions(self) -> dict[str, str]:
        """Action name (lower case) -> the Error Message it is refused with."""
        return self._router.refuse_actions

    @refuse_actions.setter
    def refuse_actions(self, value: dict[str, str]) -> None:
        self._router.refuse_actions = value

    def drop_connections(self) -> None:
        """Abort every AMI connection at once (calls go on, like a network drop)."""
        self._out.drop_connections()

    def send_garbled(self) -> None:
        """Write a malformed message to every logged-in session."""
        self._out.send_garbled()

    async def shutdown(self, *, restart: bool = False, grace: float = 0.0) -> None:
        """Graceful shutdown like ``core restart|stop gracefully``.

        Every action gets ``Asterisk is shutting down``; calls may run on for ``grace``
        simulated seconds, then the rest are hung up and agents logged off; then
        ``Event: Shutdown`` and EOF on every session. With ``restart`` the simulator
        comes back with no calls, no dynamic members and fresh counters (its simulated
        agents log in again); without it the listener is closed.
        """
        core = self._core
        core.shutting_down = True
        if grace > 0:
            tasks = [c.task for c in core.calls.values() if c.task is not None]
            if tasks:
                await asyncio.wait(tasks, timeout=grace / self.config.time_scale)
        for call in list(core.calls.values()):
            self._flow.hangup_call(call, 16, reason="caller")
        await asyncio.sleep(0)
        for call in list(core.calls.values()):
            if call.task is not None:
                with contextlib.suppress(BaseException):
                    await call.task
        for agent in self._pool.agents.values():
            if agent.logged_in:
                self._flow.agent_logoff(agent)
        core.emit("Shutdown", "system,all",
                  f"Shutdown: Cleanly\r\nRestart: {'True' if restart else 'False'}\r\n")
        self._out.hang_up_all()
        if restart:
            self._reset_state()
            core.start_epoch = int(time.time())
            core.shutting_down = False
            self._pool.login_all()
        elif self._server is not None:
            self._server.close()

    # ------------------------------------------------------------------ agents
    def agent_login(self, agent_id: str) -> None:
        """Log a simulated agent in to the pool (softphone channels + AgentLogin)."""
        self._pool.agent_login(agent_id)

    def agent_logoff_by_id(self, agent_id: str) -> bool:
        agent = self._pool.agents.get(agent_id)
        if agent is None or not agent.logged_in:
            return False
        self._flow.agent_logoff(agent)
        return True
