"""Channels and queue members of the simulated PBX, and their AMI text blocks.

Field names and their order are those of the real Asterisk 22.10.1 captures in
ami-transcripts/ (see tests/ami/test_replay.py, which checks them).
"""

from __future__ import annotations

from dataclasses import dataclass

STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}
CAUSE_TXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    19: "User alerting, no answer",
    34: "Circuit/channel congestion",
}
UNKNOWN = "<unknown>"


class Chan:
    """One live channel."""

    __slots__ = ("name", "state", "cid_num", "cid_name", "conn_num", "conn_name", "account",
                 "context", "exten", "priority", "uniqueid", "linkedid", "app", "appdata",
                 "created", "bridge", "attempt_id", "agent_id")

    def __init__(self, name: str, uniqueid: str, linkedid: str, context: str, exten: str,
                 state: int, created: float) -> None:
        self.name = name
        self.state = state
        self.cid_num = UNKNOWN
        self.cid_name = UNKNOWN
        self.conn_num = UNKNOWN
        self.conn_name = UNKNOWN
        self.account = ""
        self.context = context
        self.exten = exten
        self.priority = "1"
        self.uniqueid = uniqueid
        self.linkedid = linkedid
        self.app = ""
        self.appdata = ""
        self.created = created
        self.bridge = ""
        # The call this channel is a leg of (a key of PbxCore.calls); the id rather than
        # the object keeps this module below ami.sim.calls.
        self.attempt_id: str | None = None
        self.agent_id: str | None = None

    def block(self, p: str = "") -> str:
        return (
            f"{p}Channel: {self.name}\r\n"
            f"{p}ChannelState: {self.state}\r\n"
            f"{p}ChannelStateDesc: {STATE_DESC.get(self.state, 'Unknown')}\r\n"
            f"{p}CallerIDNum: {self.cid_num}\r\n"
            f"{p}CallerIDName: {self.cid_name}\r\n"
            f"{p}ConnectedLineNum: {self.conn_num}\r\n"
            f"{p}ConnectedLineName: {self.conn_name}\r\n"
            f"{p}Language: en\r\n"
            f"{p}AccountCode: {self.account}\r\n"
            f"{p}Context: {self.context}\r\n"
            f"{p}Exten: {self.exten}\r\n"
            f"{p}Priority: {self.priority}\r\n"
            f"{p}Uniqueid: {self.uniqueid}\r\n"
            f"{p}Linkedid: {self.linkedid}\r\n"
        )

    def set_caller(self, num: str, name: str) -> None:
        self.cid_num, self.cid_name = num or UNKNOWN, name or UNKNOWN
        self.conn_num, self.conn_name = self.cid_num, self.cid_name


@dataclass
class Member:
    """A dynamic queue member (QueueAdd); ``agent_id`` when its interface is an agent's."""

    queue: str
    interface: str
    member_name: str
    state_interface: str
    agent_id: str | None
    penalty: int = 0
    paused: bool = False
    paused_reason: str = ""
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = 0
    status: int = 5
    in_call: bool = False
    ringing: bool = False


def member_block(m: Member) -> str:
    return (
        f"Queue: {m.queue}\r\nMemberName: {m.member_name}\r\nInterface: {m.interface}\r\n"
        f"StateInterface: {m.state_interface}\r\nMembership: dynamic\r\nPenalty: {m.penalty}\r\n"
        f"CallsTaken: {m.calls_taken}\r\nLastCall: {m.last_call}\r\nLastPause: {m.last_pause}\r\n"
        f"LoginTime: {m.login_time}\r\nInCall: {int(m.in_call)}\r\nStatus: {m.status}\r\n"
        f"Paused: {int(m.paused)}\r\nPausedReason: {m.paused_reason}\r\nRinginuse: 0\r\n"
        f"Wrapuptime: 0\r\n"
    )


def queue_member_item(m: Member) -> str:
    return (
        f"Event: QueueMember\r\nQueue: {m.queue}\r\nName: {m.member_name}\r\n"
        f"Location: {m.interface}\r\nStateInterface: {m.state_interface}\r\n"
        f"Membership: dynamic\r\nPenalty: {m.penalty}\r\nCallsTaken: {m.calls_taken}\r\n"
        f"LastCall: {m.last_call}\r\nLastPause: {m.last_pause}\r\nLoginTime: {m.login_time}\r\n"
        f"InCall: {int(m.in_call)}\r\nStatus: {m.status}\r\nPaused: {int(m.paused)}\r\n"
        f"PausedReason: {m.paused_reason}\r\nWrapuptime: 0\r\n"
    )


def hms(seconds: float) -> str:
    s = int(max(seconds, 0))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
