"""One pacing pass over a shared floor, event by event: each campaign decides on the floor as
it is when its turn comes, not as it was when the pass began.

Asterisk picks which free agent takes an answered call (leastrecent), whatever agent the
floor's share assumed. Here the share at the start of the pass has agent 1001 covering the
survey call still ringing and gives the free 1002 to sales; sales dials for 1002, and while
it writes its attempt the survey call is answered and goes to 1002. Survey, deciding on the
old share, would see 1001 free and its own call gone, and dial a second call for the one free
agent: an answered call with no agent, an abandon, on a progressive floor.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from itertools import count

from ami.client import ClientConfig
from ami.events import to_event
from ami.protocol import Message
from dialer.engine.agents import AgentState
from dialer.engine.call_life import Phase
from dialer.engine.engine import Engine, EngineConfig
from dialer.engine.queue_setup import QueueReadiness
from dialer.engine.runner import CampaignRunner
from dialer.engine.store import ClaimedContact, NewAttempt
from tests.engine.harness import definition

AGENTS = ("1001", "1002")
_contact_ids = count(1)


class DecidingRunner(CampaignRunner):
    """A campaign runner whose tick decides and tracks its calls as the real one does, with
    the database writes (claims, attempts) left out: `while_writing` plays the events that
    arrive meanwhile."""

    def __init__(self, engine: Engine, campaign_id: int, name: str) -> None:
        settings = definition(name, agents=list(AGENTS)).model_dump(mode="json")
        super().__init__(engine, campaign_id, name, "running", settings)
        self.placed: list[str] = []
        self.while_writing: Callable[[], None] | None = None

    async def tick(self, now_mono: float) -> None:
        decision = self.policy.decide(self.snapshot(now_mono))
        for _ in range(decision.calls):
            self.placed.append(self.place())
        if self.while_writing is not None:
            self.while_writing()

    def place(self) -> str:
        contact = ClaimedContact(next(_contact_ids), "+12125550100", None, 0, {})
        attempt = NewAttempt(uuid.uuid4(), contact)
        self.track(attempt)
        return str(attempt.attempt_id)


def arrive(engine: Engine, *events: dict[str, str]) -> None:
    """AMI events as the engine's event loop takes them."""
    for headers in events:
        event = to_event(Message(list(headers.items())))
        engine.agents.on_event(event, 0.0)
        engine.calls.on_event(event, 0.0)


def member(agent: str, queue: str, event: str = "QueueMemberStatus", status: int = 1) -> dict[str, str]:
    return {"Event": event, "Queue": queue, "MemberName": f"Agent/{agent}",
            "Interface": f"Local/{agent}@agent-request", "StateInterface": f"Agent:{agent}",
            "Status": str(status), "Paused": "0"}


def answered_to(engine: Engine, attempt_id: str, queue: str, agent: str) -> None:
    """The call is answered, joins its queue and Asterisk gives it to `agent`."""
    arrive(
        engine,
        {"Event": "QueueCallerJoin", "Queue": queue, "Uniqueid": attempt_id, "Linkedid": attempt_id,
         "Position": "1", "Count": "1"},
        *(member(agent, q.queue, status=2) for q in engine.queue_setup.queues.values()),
        {**member(agent, queue), "Event": "AgentConnect", "Uniqueid": attempt_id, "Linkedid": attempt_id,
         "HoldTime": "0", "RingTime": "0"},
    )


def floor_of(*names: str) -> tuple[Engine, list[DecidingRunner]]:
    engine = Engine(EngineConfig("pass", "postgresql://127.0.0.1:1/none",
                                 ClientConfig(port=1, username="dialer", secret="dialer")))
    runners = [DecidingRunner(engine, n, name) for n, name in enumerate(names, start=1)]
    for runner in runners:
        engine.runners[runner.id] = runner
        engine.queue_setup.queues[runner.queue] = QueueReadiness(runner.queue, 0, ready=True)
    for agent in AGENTS:
        arrive(engine, {"Event": "AgentLogin", "Agent": agent, "Channel": f"PJSIP/{agent}-0000000{agent[-1]}"},
               *(member(agent, r.queue, "QueueMemberAdded") for r in runners))
    return engine, runners


def waiting_for_an_agent(engine: Engine) -> int:
    return sum(1 for c in engine.calls.calls.values()
               if c.phase in (Phase.DIALLING, Phase.RINGING, Phase.ANSWERED, Phase.QUEUED))


async def test_a_campaign_decides_on_the_floor_as_it_is_when_its_turn_comes() -> None:
    engine, (sales, survey) = floor_of("sales", "survey")
    ringing = survey.place()  # survey's call, ringing; both agents free
    assert waiting_for_an_agent(engine) == 1

    def survey_call_answered_to_1002() -> None:
        answered_to(engine, ringing, survey.queue, "1002")

    sales.while_writing = survey_call_answered_to_1002
    failed = await engine.pace_campaigns(0.0)

    assert failed is None
    assert len(sales.placed) == 1, "sales dials for the agent left free"
    free = [a for a in AGENTS if engine.agents.agents[a].state is AgentState.READY]
    assert free == ["1001"]
    assert not survey.placed, "survey dialled on the share of the start of the pass"
    assert waiting_for_an_agent(engine) <= len(free)


async def test_calls_placed_earlier_in_the_pass_count_for_the_next_campaign() -> None:
    engine, runners = floor_of("north", "south", "east")
    await engine.pace_campaigns(0.0)
    placed = [len(r.placed) for r in runners]
    assert sum(placed) == len(AGENTS), f"{placed} calls for {len(AGENTS)} free agents"
    # A second pass, nothing having changed: nobody dials again.
    await engine.pace_campaigns(0.1)
    assert sum(len(r.placed) for r in runners) == len(AGENTS)
    assert waiting_for_an_agent(engine) == len(AGENTS)


