"""Call classification from AMI events, as the real transcripts show them."""

from __future__ import annotations

from ami.events import to_event
from ami.protocol import Message
from compliance.outcomes import Outcome
from dialer.engine.call_life import Call, classify_failure
from dialer.engine.calls import CallTracker


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


# --- recovery: what the channel list says, and calls whose end was not seen -------------

def _list_items(capture: str, action_id: str) -> list[Message]:
    from tests.ami.transcripts import transcript

    return [Message(m.headers) for m in transcript(capture)
            if m.kind == "CoreShowChannel" and m.get("ActionID") == action_id]


def test_channel_picture_reads_a_real_asterisk_channel_list() -> None:
    from dialer.engine.channels import ChannelPicture

    # 03-04: att-l talks to Agent 1001 (the agent-request pair already optimised away),
    # att-w1/att-w2 wait in the queue, idle agents share the holding bridge.
    picture = ChannelPicture(_list_items("03-04-list-actions-resync.txt", "a-19"))
    talking = picture.facts("att-l")
    assert talking is not None and talking.answered and talking.queued and talking.agent_id == "1001"
    for waiting in ("att-w1", "att-w2"):
        facts = picture.facts(waiting)
        assert facts is not None and facts.answered and facts.queued and facts.agent_id is None
    assert picture.facts("att-gone") is None and not picture.live("att-gone")
    # 03-06: after a reconnect, two calls talking to 1002 and 1001, one waiting
    picture = ChannelPicture(_list_items("03-06-connection-restart-shutdown.txt", "b2-2"))
    got = {a: picture.facts(a) for a in ("att-c1", "att-c2", "att-c3")}
    assert {a: f.agent_id for a, f in got.items() if f} == {"att-c1": "1002", "att-c2": "1001", "att-c3": None}


def test_channel_picture_before_the_agent_request_pair_optimises_away() -> None:
    from dialer.engine.channels import ChannelPicture

    def chan(**h: str) -> Message:
        return Message(list(h.items()))

    picture = ChannelPicture([
        chan(Channel="Local/5551231@sim-pstn-00000005;1", ChannelState="6", Context="dialer-connect",
             Uniqueid="a1", Linkedid="a1", Application="Queue", ApplicationData="c1,,,,30", BridgeId="b1"),
        chan(Channel="Local/1003@agent-request-00000009;1", ChannelState="6", Context="agent-request",
             Uniqueid="17.9", Linkedid="a1", Application="AppDial", ApplicationData="(Outgoing Line)",
             BridgeId="b1"),
        chan(Channel="Local/5551232@sim-pstn-00000007;1", ChannelState="5", Uniqueid="a2", Linkedid="a2",
             Application="", BridgeId=""),
        chan(Channel="Local/5551233@sim-pstn-00000008;1", ChannelState="6", Context="dialer-connect",
             Uniqueid="a3", Linkedid="a3", Application="Read", ApplicationData="DIGIT,beep,1,,1,4", BridgeId=""),
    ])
    one, two, three = picture.facts("a1"), picture.facts("a2"), picture.facts("a3")
    assert one is not None and one.agent_id == "1003"
    assert two is not None and two.ringing and not two.answered
    assert three is not None and three.safe_harbour and three.answered


def test_a_retracked_call_hung_up_without_originate_response_is_not_guessed() -> None:
    # The bug: a call re-tracked at start with nothing known, then Hangup Cause 16 and
    # no OriginateResponse, was classified "failed".
    tracker, call = tracked()
    call.recovered = True
    tracker.on_event(ev(Event="Hangup", Uniqueid="a1", Cause="16"), 1.0)  # type: ignore[arg-type]
    closed = tracker.expire(5.0)
    assert [(c.outcome, bool(c.note)) for c in closed] == [(Outcome.UNKNOWN, True)]
    # ... but a cause that names the result is enough (busy over a SIP trunk)
    tracker, call = tracked("b1")
    tracker.on_event(ev(Event="Hangup", Uniqueid="b1", Cause="17"), 1.0)  # type: ignore[arg-type]
    assert [c.outcome for c in tracker.expire(5.0)] == [Outcome.BUSY]


def test_a_retracked_answered_call_is_classified_as_answered() -> None:
    from dialer.engine.channels import ChannelFacts

    tracker, call = tracked()
    call.recovered = True
    tracker.learn(call, ChannelFacts(answered=True, queued=True, agent_id="1001"), 0.5, notify=False)
    assert call.connected_at is not None and call.agent_id == "1001"
    assert call.member == ("q", "Local/1001@agent-request")
    assert tracker.progressed == {"a1"}  # the facts learned are written to the database
    closed = tracker.on_event(ev(Event="Hangup", Uniqueid="a1", Cause="16"), 1.0)  # type: ignore[arg-type]
    assert [(c.outcome, c.call.agent_id) for c in closed] == [(Outcome.ANSWERED, "1001")]


def test_the_broadcast_originate_response_reaches_a_retracked_call() -> None:
    tracker, call = tracked()
    call.recovered = True
    tracker.on_event(ev(Event="Hangup", Uniqueid="a1", Cause="19"), 1.0)  # type: ignore[arg-type]
    closed = tracker.on_event(response("a1", False, 3), 1.1)  # type: ignore[arg-type]
    assert [c.outcome for c in closed] == [Outcome.NO_ANSWER]


def test_unobserved_end_is_classified_from_what_is_known() -> None:
    from dialer.engine.call_life import classify_unobserved

    _, call = tracked()
    assert classify_unobserved(call, "x")[0] is Outcome.UNKNOWN
    call.answered_at, call.queued_at = 1.0, 1.5
    outcome, note = classify_unobserved(call, "ended while AMI was down")
    assert outcome is Outcome.UNKNOWN and "waiting for an agent" in note
    call.connected_at, call.agent_id = 2.0, "1002"
    outcome, note = classify_unobserved(call, "ended while AMI was down")
    assert outcome is Outcome.ANSWERED and "1002" in note
    _, call = tracked()
    call.answered_at, call.amd_status = 1.0, "MACHINE"
    assert classify_unobserved(call, "x")[0] is Outcome.MACHINE


def test_progress_is_noted_for_the_writer() -> None:
    tracker, _ = tracked()
    tracker.on_event(ev(Event="Newstate", Uniqueid="a1", ChannelState="6"), 1.0)  # type: ignore[arg-type]
    tracker.on_event(ev(Event="QueueCallerJoin", Uniqueid="a1", Queue="q"), 1.1)  # type: ignore[arg-type]
    assert tracker.progressed == {"a1"}
    tracker.progressed.clear()
    tracker.on_event(ev(Event="AgentConnect", Uniqueid="a1", Queue="q",  # type: ignore[arg-type]
                        Interface="Local/1001@agent-request", MemberName="Agent/1001"), 1.2)
    assert tracker.progressed == {"a1"}


def _recorded(tracker: CallTracker, path: str, at: float) -> None:
    tracker.on_event(ev(Event="UserEvent", UserEvent="DialerRecording", Uniqueid="a1",  # type: ignore[arg-type]
                        AttemptId="a1", Path=path), at)


def test_recording_path_and_seconds() -> None:
    # MixMonitor started at 1.2, the customer hung up at 9.0: 7.8 recorded seconds
    tracker, call = tracked()
    tracker.on_originate_response("a1", response("a1", True, 4), 1.0)  # type: ignore[arg-type]
    _recorded(tracker, "/var/spool/asterisk/monitor/dialer/a1.wav", 1.2)
    assert call.recording_path == "/var/spool/asterisk/monitor/dialer/a1.wav"
    assert "a1" in tracker.progressed  # stored while the call is up, for a restarted engine
    _recorded(tracker, "/elsewhere/a1.wav", 1.3)  # the first report stands
    tracker.on_event(ev(Event="QueueCallerJoin", Uniqueid="a1", Queue="q"), 1.4)  # type: ignore[arg-type]
    [closed] = tracker.on_event(ev(Event="Hangup", Uniqueid="a1", Cause="16"), 9.0)  # type: ignore[arg-type]
    assert closed.call.recording_path == "/var/spool/asterisk/monitor/dialer/a1.wav"
    assert closed.recording_s is not None and abs(closed.recording_s - 7.8) < 1e-9
    # MixMonitor could not start: an empty Path is no recording
    tracker, call = tracked()
    tracker.on_originate_response("a1", response("a1", True, 4), 1.0)  # type: ignore[arg-type]
    _recorded(tracker, " ", 1.2)
    [closed] = tracker.on_event(ev(Event="Hangup", Uniqueid="a1", Cause="16"), 5.0)  # type: ignore[arg-type]
    assert (closed.call.recording_path, closed.recording_s) == (None, None)
    # the end not seen (AMI down): the path stays, the length is not guessed
    tracker, call = tracked()
    tracker.on_originate_response("a1", response("a1", True, 4), 1.0)  # type: ignore[arg-type]
    _recorded(tracker, "/r/a1.wav", 1.2)
    closed = tracker.close_unobserved(call, 30.0, "AMI was down")
    assert (closed.call.recording_path, closed.recording_s) == ("/r/a1.wav", None)
