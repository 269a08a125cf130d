"""One originated call in the simulated PBX (state only; callflow.py and connect.py play it)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

from ami.sim.channels import Chan, Member
from pacing.world import LineResult

# Stages of a call, used to pick the right tear-down when it is hung up from outside.
DIALING = "dialing"
CONNECT = "connect"  # answered, in the connect context (AMD, before the queue)
QUEUED = "queued"
TALKING = "talking"
SAFE_HARBOUR = "safe_harbour"
APP = "app"  # Originate with Application: up until talk time ends
ENDED = "ended"


@dataclass
class SimCall:
    """An Originate being played out: its legs, stage and what the world drew for it."""

    attempt_id: str  # ChannelId (or an auto id): Uniqueid of ch1 and Linkedid of all legs
    action_id: str
    dial_string: str
    tech: str  # "Local" or "PJSIP"
    number: str
    context: str | None
    exten: str | None
    priority: str
    application: str | None
    app_data: str | None
    timeout_ms: int
    caller_num: str
    caller_name: str
    account: str
    variables: dict[str, str]
    rng: random.Random
    ch1: Chan | None = None
    ch2: Chan | None = None  # Local ;2 (None for PJSIP)
    stage: str = DIALING
    result: LineResult | None = None
    task: asyncio.Task[None] | None = None
    queue: str | None = None
    joined_at: float = 0.0  # loop time of QueueCallerJoin
    position: int = 0
    agent_future: asyncio.Future[Member] | None = None
    member: Member | None = None
    agent_req1: Chan | None = None
    agent_req2: Chan | None = None
    connected_at: float = 0.0
    hold_time: int = 0
    bridge_id: str = ""
    hangup_cause: int | None = None  # set when hung up from outside (AMI, agent, shutdown)
    end_reason: str = "caller"  # AgentComplete Reason when hung up from outside
    redirect_to: tuple[str, str] | None = None
    outcome_sent: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def channels(self) -> list[Chan]:
        return [c for c in (self.ch1, self.ch2, self.agent_req1, self.agent_req2) if c]

    def float_variable(self, name: str) -> float | None:
        """A channel variable as a number (SIM_TALK, DIALER_QUEUE_TIMEOUT...), None if unset or bad."""
        val = self.variables.get(name)
        if val is None or val == "":
            return None
        try:
            return float(val)
        except ValueError:
            return None
