"""Call classification from AMI events, as the real transcripts show them."""

from __future__ import annotations

from ami.events import to_event
from ami.protocol import Message
from compliance.outcomes import Outcome
from dialer.engine.calls import Call, CallTracker, classify_failure


def ev(**headers: str) -> object:
    return to_event(Message(list(headers.items())))


def tracked(attempt: str = "a1") -> tuple[CallTracker, Call]:
    tracker = CallTracker()
    call = Call(attempt, 1, 10, "+12125550100", "q", placed_at=0.0)
    tracker.add(call)
    return tracker, call


def response(attempt: str, ok: bool, reason: int) -> object:
    return ev(Event="OriginateResponse", Response="Success" if ok else "Failure", Reason=str(reason),
              Uniqueid=attempt, ActionID="x")


def test_busy_over_local_and_over_a_sip_trunk() -> None:
    # Local channel: Failure Reason 5 first, then Hangup Cause 0 on ;1 (17 on ;2)
    tracker, _ = tracked()
    assert tracker.on_originate_response("a1", response("a1", False, 5), 1.0) == []  # type: ignore[arg-type]
    tracker.on_event(ev(Event="Hangup", Uniqueid="a1-2", Cause="17"), 1.1)  # type: ignore[arg-type]
    closed = tracker.on_event(ev(Event="Hangup", Uniqueid="a1", Cause="0"), 1.2)  # type: ignore[arg-type]
    assert [c.outcome for c in closed] == [Outcome.BUSY]
    # PJSIP trunk: Reason 0, and the cause on the originated channel is 17
    tracker, _ = tracked("b1")
    tracker.on_event(ev(Event="Hangup", Uniqueid="b1", Cause="17"), 1.0)  # type: ignore[arg-type]
    closed = tracker.on_originate_response("b1", response("b1", False, 0), 1.1)  # type: ignore[arg-type]
    assert [c.outcome for c in closed] == [Outcome.BUSY]


def test_failure_without_hangup_closes_after_grace() -> None:
    tracker, _ = tracked()
    tracker.on_originate_response("a1", response("a1", False, 0), 1.0)  # type: ignore[arg-type]
    assert tracker.expire(1.5) == []
    closed = tracker.expire(3.5)
    assert [c.outcome for c in closed] == [Outcome.FAILED]
    assert len(tracker) == 0


def test_failure_classification_table() -> None:
    def outcome(reason: int | None, cause: int | None = None, status: str | None = None) -> Outcome:
        call = Call("x", 1, 1, "+1", "q", 0.0, originate_reason=reason, hangup_cause=cause, dial_status=status)
        return classify_failure(call)[0]

    assert outcome(3, 19) is Outcome.NO_ANSWER  # ring timeout
    assert outcome(0, 19, "NOANSWER") is Outcome.NO_ANSWER  # network gave up
    assert outcome(8, 0) is Outcome.CONGESTION
    assert outcome(0, 34) is Outcome.CONGESTION  # SIP 503
    assert outcome(0, 1, "CHANUNAVAIL") is Outcome.CONGESTION  # invalid number
    assert outcome(0) is Outcome.FAILED


def test_answered_paths() -> None:
    # connected to an agent, then hung up
    tracker, call = tracked()
    tracker.on_originate_response("a1", response("a1", True, 4), 1.0)  # type: ignore[arg-type]
    tracker.on_event(ev(Event="QueueCallerJoin", Uniqueid="a1", Queue="q"), 1.1)  # type: ignore[arg-type]
    tracker.on_event(ev(Event="AgentConnect", Uniqueid="a1", Linkedid="a1", Queue="q",  # type: ignore[arg-type]
                        Interface="Local/1002@agent-request", MemberName="Agent/1002"), 1.6)
    closed = tracker.on_event(ev(Event="Hangup", Uniqueid="a1", Cause="16"), 9.0)  # type: ignore[arg-type]
    assert [c.outcome for c in closed] == [Outcome.ANSWERED]
    assert call.agent_id == "1002"
    assert closed[0].time_to_agent_s == 0.5 and closed[0].talk_s == 7.4
    # queue timeout -> abandoned; the opt-out key -> opt_out
    for digit, expected in (("", Outcome.ABANDONED), ("9", Outcome.OPT_OUT)):
        tracker, _ = tracked()
        tracker.on_originate_response("a1", response("a1", True, 4), 1.0)  # type: ignore[arg-type]
        tracker.on_event(ev(Event="QueueCallerJoin", Uniqueid="a1", Queue="q"), 1.1)  # type: ignore[arg-type]
        tracker.on_event(ev(Event="UserEvent", UserEvent="DialerQueueResult", Uniqueid="a1",  # type: ignore[arg-type]
                            AttemptId="a1", QueueStatus="TIMEOUT"), 3.1)
        tracker.on_event(ev(Event="UserEvent", UserEvent="DialerOptOut", Uniqueid="a1",  # type: ignore[arg-type]
                            AttemptId="a1", Digit=digit), 9.0)
        closed = tracker.on_event(ev(Event="Hangup", Uniqueid="a1", Cause="16"), 9.1)  # type: ignore[arg-type]
        assert [c.outcome for c in closed] == [expected]
    # AMD machine
    tracker, _ = tracked()
    tracker.on_originate_response("a1", response("a1", True, 4), 1.0)  # type: ignore[arg-type]
    tracker.on_event(ev(Event="UserEvent", UserEvent="DialerAMD", Uniqueid="a1", AttemptId="a1",  # type: ignore[arg-type]
                        Status="MACHINE", Cause="LONGGREETING"), 3.0)
    closed = tracker.on_event(ev(Event="Hangup", Uniqueid="a1", Cause="16"), 3.1)  # type: ignore[arg-type]
    assert [c.outcome for c in closed] == [Outcome.MACHINE]
    # caller hung up while queued
    tracker, _ = tracked()
    tracker.on_originate_response("a1", response("a1", True, 4), 1.0)  # type: ignore[arg-type]
    tracker.on_event(ev(Event="QueueCallerJoin", Uniqueid="a1", Queue="q"), 1.1)  # type: ignore[arg-type]
    tracker.on_event(ev(Event="QueueCallerAbandon", Uniqueid="a1", Queue="q"), 1.5)  # type: ignore[arg-type]
    closed = tracker.on_event(ev(Event="Hangup", Uniqueid="a1", Cause="16"), 1.6)  # type: ignore[arg-type]
    assert [c.outcome for c in closed] == [Outcome.QUEUE_HANGUP]


def test_unrelated_events_are_ignored() -> None:
    tracker, _ = tracked()
    assert tracker.on_event(ev(Event="Hangup", Uniqueid="someone-else", Cause="16"), 1.0) == []  # type: ignore[arg-type]
    assert len(tracker) == 1
