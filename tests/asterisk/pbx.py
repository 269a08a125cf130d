"""Working a real Asterisk from a test: the imitation PSTN's knobs, agents logged in over
AMI, an event recorder, and the engine and campaign wiring for the rig."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ami import actions
from ami.client import AMIClient, ClientConfig
from ami.events import Event
from dialer.engine.engine import Engine, EngineConfig
from tests.asterisk.rig import AMI_SECRET, AMI_USER, AsteriskRig
from tests.engine.harness import make_campaign

# Static queues of asterisk-conf/queues.conf a test campaign may use.
QUEUE = "campaign1"


def client_config(rig: AsteriskRig, **extra: Any) -> ClientConfig:
    return ClientConfig(port=rig.ami_port, username=AMI_USER, secret=AMI_SECRET,
                        ping_interval=extra.pop("ping_interval", 1.0),
                        reconnect_min=extra.pop("reconnect_min", 0.2),
                        reconnect_max=extra.pop("reconnect_max", 1.0), **extra)


@contextlib.asynccontextmanager
async def ami_client(rig: AsteriskRig) -> AsyncIterator[AMIClient]:
    client = AMIClient(client_config(rig), id_prefix=f"t{uuid.uuid4().hex[:4]}")
    await client.connect(retry=False)
    try:
        yield client
    finally:
        await client.close()


def engine_on(url: str, rig: AsteriskRig, engine_id: str = "e1", **extra: Any) -> Engine:
    config = EngineConfig(
        engine_id=engine_id, database_url=url, ami=client_config(rig),
        tick_s=0.2, heartbeat_s=0.5, drain_timeout_s=extra.pop("drain_timeout_s", 30.0),
        disposition_timeout_s=extra.pop("disposition_timeout_s", 2.0), **extra,
    )
    return Engine(config)


async def rig_campaign(url: str, tmp: Path, numbers: list[str], *, agents: int, **extra: Any) -> str:
    """A running campaign dialling `Local/{number}@sim-pstn` into the static queue
    `campaign1`, with agents 1001.. assigned."""
    extra.setdefault("ring_timeout_s", 10)
    return await make_campaign(url, tmp, numbers, queue=QUEUE, agents=agents, **extra)


def rig_numbers(last_digits: str, start: int = 0) -> list[str]:
    """Valid fictional NANP numbers whose last digit picks the imitation customer."""
    return [f"+1212555{(start + i) % 1000:03d}{d}" for i, d in enumerate(last_digits)]


async def set_pstn(client: AMIClient, *, ring: float | None = None, talk: float | None = None,
                   press: str | None = None) -> None:
    """The imitation PSTN's global knobs (extensions.conf [globals]); None = the default."""
    for name, value in (("SIM_RING", ring), ("SIM_TALK", talk), ("SIM_PRESS", press)):
        text = "" if value is None else (f"{value:g}" if isinstance(value, float | int) else str(value))
        await client.send(actions.Action("Setvar", (("Variable", name), ("Value", text))))


@dataclass
class Recorder:
    """Every event the rig sends, in order, for assertions after the fact."""

    events: list[Event] = field(default_factory=list)

    def named(self, name: str) -> list[Event]:
        return [e for e in self.events if e.name == name]

    def user_events(self, name: str) -> list[Event]:
        return [e for e in self.events if e.name == "UserEvent" and e.get("UserEvent") == name]

    async def wait(self, predicate: Callable[[Event], bool], within: float, what: str) -> Event:
        deadline = time.monotonic() + within
        seen = 0
        while time.monotonic() < deadline:
            for event in self.events[seen:]:
                if predicate(event):
                    return event
            seen = len(self.events)
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out after {within:g}s waiting for {what}")


@contextlib.asynccontextmanager
async def recording(client: AMIClient) -> AsyncIterator[Recorder]:
    recorder = Recorder()
    sub = client.subscribe(callback=recorder.events.append, maxsize=100_000)
    try:
        yield recorder
    finally:
        sub.close()


async def login_agents(client: AMIClient, recorder: Recorder, agent_ids: list[str]) -> dict[str, str]:
    """Log agents in the way a rig without phones does: `Local/<id>@agent-login` runs
    AgentLogin() and the other half waits. Returns agent id -> the Originate's channel id."""
    channels = {}
    for agent_id in agent_ids:
        channel_id = f"agent-{agent_id}-{uuid.uuid4().hex[:12]}"
        handle = await client.originate(actions.OriginateRequest(
            channel=f"Local/{agent_id}@agent-login", channel_id=channel_id,
            application="Wait", data="36000", timeout_ms=10_000,
        ))
        response = await handle.outcome()
        assert response.success, f"agent {agent_id} login originate failed: {response}"
        channels[agent_id] = channel_id
    for agent_id, channel_id in channels.items():
        # This login's own event (the `;2` half runs AgentLogin), not an earlier login's.
        await recorder.wait(_login_of(agent_id, f"{channel_id}-2"), 10, f"AgentLogin of {agent_id}")
    return channels


def _login_of(agent_id: str, uniqueid: str) -> Callable[[Event], bool]:
    return lambda e: e.name == "AgentLogin" and e.get("Agent") == agent_id and e.get("Uniqueid") == uniqueid


async def hang_up_everything(rig: AsteriskRig, client: AMIClient) -> None:
    """Between tests: no call, no logged-in agent, no dynamic queue member, default knobs."""
    await asyncio.to_thread(rig.cli, "channel request hangup all")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if not await client.core_show_channels():
            break
        await asyncio.sleep(0.1)
    for member in await client.queue_status(QUEUE):
        location = member.get("Location") or ""
        if member.get("Event") == "QueueMember" and location:
            with contextlib.suppress(Exception):
                await client.queue_remove(QUEUE, location)
    await set_pstn(client)


@contextlib.asynccontextmanager
async def running_engine(url: str, rig: AsteriskRig, **extra: Any) -> AsyncIterator[Engine]:
    """The real engine against the rig for the length of the block, stopped cleanly after."""
    engine = engine_on(url, rig, **extra)
    task = asyncio.create_task(engine.run())
    try:
        yield engine
    finally:
        engine.request_stop()
        await asyncio.wait_for(task, 60)


async def agent_hangs_up(client: AMIClient, recorder: Recorder, agent_id: str) -> None:
    """End an AMI-logged-in agent's line, as if he put the phone down: hang up the channel
    that ran AgentLogin (the Local `;2` half named in his AgentLogin event)."""
    login = [e for e in recorder.named("AgentLogin") if e.get("Agent") == agent_id]
    assert login, f"agent {agent_id} never logged in"
    await client.hangup(login[-1].get("Channel") or "")


async def member(client: AMIClient, agent_id: str, queue: str = QUEUE) -> dict[str, str] | None:
    """The agent's QueueStatus member entry in `queue` (None when he is not a member)."""
    for item in await client.queue_status(queue):
        if item.get("Event") == "QueueMember" and item.get("Location") == f"Local/{agent_id}@agent-request":
            return dict(reversed(item.headers))
    return None
