"""Agent states from AMI events, in the orders a real Asterisk sends them."""

from __future__ import annotations

from ami.events import to_event
from ami.protocol import Message
from dialer.engine.agents import AgentState, AgentTracker

MEMBER = {"Queue": "sales", "MemberName": "Agent/1001", "Interface": "Local/1001@agent-request",
          "StateInterface": "Agent:1001"}


def feed(tracker: AgentTracker, *events: dict[str, str]) -> AgentState:
    for n, headers in enumerate(events):
        tracker.on_event(to_event(Message(list(headers.items()))), float(n))
    return tracker.agents["1001"].state


def member(event: str, status: int, **more: str) -> dict[str, str]:
    return {"Event": event, **MEMBER, "Status": str(status), "Paused": "0", **more}


def logged_in_on_a_call(tracker: AgentTracker) -> None:
    state = feed(
        tracker,
        {"Event": "AgentLogin", "Agent": "1001", "Channel": "PJSIP/1001-00000001"},
        member("QueueMemberAdded", 1),
        {"Event": "AgentConnect", **MEMBER, "Uniqueid": "a1", "Linkedid": "a1"},
        member("QueueMemberStatus", 2),
    )
    assert state is AgentState.ON_CALL


def test_hanging_up_the_phone_mid_call_logs_the_agent_out_whatever_the_member_said_last() -> None:
    # The engine removes the member on AgentLogoff; when its QueueRemove wins the race with
    # the device-state change, no "Status: 5" ever follows and the last status seen is 2.
    tracker = AgentTracker()
    logged_in_on_a_call(tracker)
    state = feed(
        tracker,
        {"Event": "AgentLogoff", "Agent": "1001", "Logintime": "60"},
        {"Event": "AgentComplete", **MEMBER, "Uniqueid": "a1", "Reason": "agent", "TalkTime": "30"},
        member("QueueMemberRemoved", 2),
    )
    assert state is AgentState.LOGGED_OUT


def test_logoff_then_a_late_status_of_the_removed_member_keeps_him_logged_out() -> None:
    tracker = AgentTracker()
    logged_in_on_a_call(tracker)
    state = feed(
        tracker,
        {"Event": "AgentLogoff", "Agent": "1001", "Logintime": "60"},
        member("QueueMemberStatus", 5),
        member("QueueMemberRemoved", 5),
    )
    assert state is AgentState.LOGGED_OUT


def test_an_agent_seen_only_as_a_member_is_ready_and_logs_in_again_after_a_logoff() -> None:
    tracker = AgentTracker()
    # An engine started after the login knows him only from his member status.
    assert feed(tracker, member("QueueMemberStatus", 1)) is AgentState.READY
    tracker2 = AgentTracker()
    logged_in_on_a_call(tracker2)
    feed(tracker2, {"Event": "AgentLogoff", "Agent": "1001"}, member("QueueMemberRemoved", 2))
    state = feed(
        tracker2,
        {"Event": "AgentLogin", "Agent": "1001", "Channel": "PJSIP/1001-00000002"},
        member("QueueMemberAdded", 1),
    )
    assert state is AgentState.READY
