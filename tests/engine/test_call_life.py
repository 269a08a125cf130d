"""The call's life as `dialer.engine.call_life` writes it down is the one the tracker runs."""

from __future__ import annotations

import itertools
import textwrap

from ami import dialplan
from ami.events import to_event
from ami.protocol import Message
from compliance.outcomes import Outcome
from dialer.engine import call_life
from dialer.engine.call_life import (
    AMI_MOVES,
    ENDINGS,
    Call,
    Ending,
    Move,
    Phase,
    classify,
    next_phase,
)
from dialer.engine.calls import CallTracker

LIVE = [p for p in Phase if p is not Phase.ENDED]


def ev(**headers: str) -> object:
    return to_event(Message(list(headers.items())))


# One or more events of each kind the tracker handles, for the call "a1".
EVENTS: dict[str, list[object]] = {
    "Newstate": [ev(Event="Newstate", Uniqueid="a1", ChannelState=s) for s in ("4", "5", "6")],
    "DialEnd": [ev(Event="DialEnd", DestUniqueid="a1", DialStatus=s) for s in ("ANSWER", "BUSY")],
    "OriginateResponse": [ev(Event="OriginateResponse", Uniqueid="a1", ActionID="x", Response=r, Reason=n)
                          for r, n in (("Success", "4"), ("Failure", "5"))],
    "QueueCallerJoin": [ev(Event="QueueCallerJoin", Uniqueid="a1", Queue="q")],
    "AgentConnect": [ev(Event="AgentConnect", Uniqueid="a1", Queue="q", Interface="Agent/1001", MemberName="1001")],
    "Hangup": [ev(Event="Hangup", Uniqueid="a1", Cause=c) for c in ("16", "17")],
    "UserEvent": [ev(Event="UserEvent", UserEvent=dialplan.USEREVENT_AMD, AttemptId="a1", Status="MACHINE"),
                  ev(Event="UserEvent", UserEvent=dialplan.USEREVENT_AGENT_REQUEST, AttemptId="a1", Agent="1001")],
    # Agent-direct calls: the customer enters AgentRequest's bridge, then the agent's line.
    "BridgeEnter": [ev(Event="BridgeEnter", Uniqueid="a1", BridgeUniqueid="b1", BridgeNumChannels="1"),
                    ev(Event="BridgeEnter", Uniqueid="a1", BridgeUniqueid="b1", BridgeNumChannels="2")],
    "QueueCallerAbandon": [ev(Event="QueueCallerAbandon", Uniqueid="a1", Queue="q")],
    "AgentComplete": [ev(Event="AgentComplete", Queue="q", Interface="Agent/1001")],
}


def test_the_docstring_shows_the_transition_table_the_code_runs() -> None:
    assert textwrap.indent(call_life.render_transitions(), "    ") in (call_life.__doc__ or "")
    for (phase, move), to in call_life.TRANSITIONS.items():
        assert phase is not Phase.ENDED, "nothing leaves ENDED"
        assert next_phase(phase, move) is to
    assert all(next_phase(Phase.ENDED, m) is Phase.ENDED for m in Move)


def _reachable(phase: Phase, moves: tuple[Move, ...]) -> set[Phase]:
    """The phases the moves (any of them, in order) can lead to from `phase`."""
    out = {phase}
    for move in moves:
        out |= {next_phase(p, move) for p in out}
    return out


def test_every_ami_event_moves_a_call_only_as_the_table_says() -> None:
    assert set(EVENTS) == set(AMI_MOVES)
    seen: set[tuple[Phase, Phase]] = set()
    for name, events in EVENTS.items():
        for event, phase, hung_up in itertools.product(events, LIVE, (False, True)):
            tracker = CallTracker()
            answered = 0.5 if phase not in (Phase.DIALLING, Phase.RINGING) else None
            call = Call("a1", 1, 10, "+12125550100", "q", 0.0, phase=phase, answered_at=answered,
                        ended_at=1.0 if hung_up else None, direct_agent="1001" if name == "BridgeEnter" else None)
            tracker.add(call)
            tracker.on_event(event, 2.0)  # type: ignore[arg-type]
            assert call.phase in _reachable(phase, AMI_MOVES[name]), (name, event, phase, call.phase)
            seen.add((phase, call.phase))
    # Every row of the table but the one only a resync makes is made by some AMI event.
    made = {(p, to) for (p, m), to in call_life.TRANSITIONS.items() if m is not Move.SEEN_QUEUED}
    assert made - seen <= {(Phase.DIALLING, Phase.QUEUED), (Phase.RINGING, Phase.QUEUED)}  # answer comes first


def test_each_ending_gives_exactly_the_outcomes_its_row_lists() -> None:
    given: dict[Ending, set[Outcome]] = {e: set() for e in Ending}
    grid = itertools.product(
        (None, 1.0), (None, 2.0), (None, 3.0),  # answered, queued, connected
        (None, 0, 1, 5, 8), (None, 0, 16, 17, 19, 34, 1),  # originate reason, hangup cause
        (None, "BUSY", "NOANSWER", "CONGESTION"), (None, "MACHINE"), (None, "TIMEOUT"),
        (None, dialplan.OPT_OUT_DIGIT),
    )
    for answered, queued, connected, reason, cause, status, amd, queue_status, digit in grid:
        call = Call("a1", 1, 10, "+1", "q", 0.0, answered_at=answered, queued_at=queued, connected_at=connected,
                    originate_reason=reason, hangup_cause=cause, dial_status=status, amd_status=amd,
                    queue_status=queue_status, opt_out_digit=digit)
        for ending in (Ending.ORIGINATE_REFUSED, Ending.UNOBSERVED, call_life.ending_of(call)):
            given[ending].add(classify(ending, call, "why")[0])
    assert given == {e: set(outcomes) for e, outcomes in ENDINGS.items()}
