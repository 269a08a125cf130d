"""The engine's interfaces: what observers hear of it, and what its parts may use of it.

`RunnerHost` is all a campaign runner (and the queue membership) uses of the engine:
the AMI client, the store, the call and agent trackers, the membership view, the
observer, `stopping`, its share of the floor, a wait for the events received so far to be
applied, and three actions (spawn a side task, close ended calls, check later on an
Originate whose outcome was lost). `dialer.engine.engine.Engine` is one;
the runner never imports the engine, so the two can be read (and tested) apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from typing import Any, Protocol

from ami.client import AMIClient
from dialer.engine.agents import AgentStateChange, AgentTracker
from dialer.engine.call_life import Call, ClosedCall
from dialer.engine.calls import CallTracker
from dialer.engine.store import EngineStore
from pacing.floor import FloorShare


class EngineObserver:
    """What metrics and the MQTT bus hear of the engine; every method must be cheap and
    must not raise (the default does nothing)."""

    def originated(self, call: Call) -> None: ...
    def originate_roundtrip(self, seconds: float) -> None: ...
    def answered(self, call: Call) -> None: ...
    def connected(self, call: Call) -> None: ...
    def closed(self, closed: ClosedCall) -> None: ...
    def agent_changes(self, changes: list[AgentStateChange]) -> None: ...
    def ami_state(self, up: bool, *, reconnected: bool) -> None: ...
    def status(self, status: dict[str, Any]) -> None: ...
    def offer(self, agent_id: str, offer: dict[str, Any]) -> None:
        """A preview offer made to the agent, or changed (more time, decided)."""


class MembershipView(Protocol):
    """Who may join a queue now, and the pauses asked for (agent -> reason)."""

    @property
    def paused(self) -> Mapping[str, str | None]: ...

    @property
    def reserved(self) -> dict[str, str | None]:
        """Agents reserved for an agent-direct call -> its attempt id (None until placed)."""

    @property
    def unrestored(self) -> set[str]:
        """Released agents whose own pause state is still to be given back (AMI was down)."""

    def may_join(self, agent_id: str) -> bool: ...


class RunnerHost(Protocol):
    """What a campaign runner uses of its engine."""

    @property
    def store(self) -> EngineStore: ...

    @property
    def ami(self) -> AMIClient | None:
        """None until the engine has created its client (connected or not)."""

    @property
    def calls(self) -> CallTracker: ...

    @property
    def agents(self) -> AgentTracker: ...

    @property
    def membership(self) -> MembershipView: ...

    @property
    def observer(self) -> EngineObserver: ...

    @property
    def stopping(self) -> bool:
        """True once a stop was asked for: no new calls."""

    def floor_share(self, campaign_id: int) -> FloorShare | None:
        """The agents the campaign may count on this tick (the floor is shared with the
        engine's other campaigns), or None before the first share: every queue member."""

    async def events_applied(self) -> None:
        """Return once every AMI event received so far is applied to the trackers. An
        action's response is read as it comes, while the events before it wait in the
        engine's queue: after a QueuePause, this is when the trackers show what app_queue
        did before the pause (e.g. offered the agent a call)."""

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `coro` as a side task the engine cancels when it stops."""

    async def on_closed(self, closed: list[ClosedCall]) -> None:
        """Record ended calls, decide their contacts, feed pacing."""

    def check_later(self, attempt_id: str) -> None:
        """An Originate whose outcome was lost: ask Asterisk about its call with back-off."""
