"""Typed AMI events for what the dialer uses; everything else stays a `RawEvent`.

``to_event(msg)`` turns a parsed `Message` whose first header is ``Event:`` into one of
the dataclasses below. Every event keeps the original message (``.message``) so no
header is ever lost, and unknown events are `RawEvent` with the same access.

Correlation (see ami-transcripts/README.md):
- Originate with ``ChannelId: <attempt id>`` makes that id the ``Uniqueid`` of the
  originated channel and the ``Linkedid`` of *every* channel of the call, agent legs
  included. So ``event.linkedid`` is the attempt id for channel events, and
  ``OriginateResponse.uniqueid`` for the outcome (on failure its ``channel`` is the dial
  string, not a channel name). DialBegin/DialEnd of an Originate have no caller channel:
  use ``dest_uniqueid`` / ``dest_linkedid``.
- AgentComplete: correlate by ``(queue, member_name)``, its caller fields can be missing.
- Integers that Asterisk leaves empty or ``(null)`` read as ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ami.protocol import Message


def _int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _bool(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("1", "true", "yes", "on")


@dataclass(slots=True)
class Event:
    """Base of every event: its name and the message it came from."""

    name: str
    message: Message = field(repr=False)

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.message.get(key, default)

    @property
    def timestamp(self) -> float | None:
        ts = self.message.get("Timestamp")
        try:
            return float(ts) if ts else None
        except ValueError:
            return None

    @classmethod
    def from_message(cls, name: str, msg: Message) -> Event:
        return cls(name, msg)


@dataclass(slots=True)
class RawEvent(Event):
    """An event the dialer has no type for; read it through ``.message``/``.get``."""


@dataclass(slots=True)
class ChannelEvent(Event):
    """An event with the standard channel block (Channel … Linkedid)."""

    channel: str | None = None
    uniqueid: str | None = None
    linkedid: str | None = None
    channel_state: int | None = None
    context: str | None = None
    exten: str | None = None

    @classmethod
    def from_message(cls, name: str, msg: Message) -> Event:
        g = msg.get
        ev = cls(name, msg, g("Channel"), g("Uniqueid"), g("Linkedid"),
                 _int(g("ChannelState")), g("Context"), g("Exten"))
        ev._fill(msg)
        return ev

    def _fill(self, msg: Message) -> None:
        """Subclasses set their own fields here."""


@dataclass(slots=True)
class FullyBooted(Event):
    @property
    def status(self) -> str | None:
        return self.message.get("Status")


@dataclass(slots=True)
class Shutdown(Event):
    """Asterisk is stopping (``Shutdown: Cleanly|Uncleanly``, ``Restart: True|False``)."""

    shutdown: str | None = None
    restart: bool = False

    @classmethod
    def from_message(cls, name: str, msg: Message) -> Event:
        return cls(name, msg, msg.get("Shutdown"), _bool(msg.get("Restart")))


@dataclass(slots=True)
class Newchannel(ChannelEvent):
    pass


@dataclass(slots=True)
class Newstate(ChannelEvent):
    channel_state_desc: str | None = None

    def _fill(self, msg: Message) -> None:
        self.channel_state_desc = msg.get("ChannelStateDesc")


@dataclass(slots=True)
class _DialEvent(ChannelEvent):
    """DialBegin/DialEnd: ``channel`` is None for an Originate (no caller)."""

    dest_channel: str | None = None
    dest_uniqueid: str | None = None
    dest_linkedid: str | None = None

    def _fill(self, msg: Message) -> None:
        self.dest_channel = msg.get("DestChannel")
        self.dest_uniqueid = msg.get("DestUniqueid")
        self.dest_linkedid = msg.get("DestLinkedid")


@dataclass(slots=True)
class DialBegin(_DialEvent):
    dial_string: str | None = None

    def _fill(self, msg: Message) -> None:
        _DialEvent._fill(self, msg)
        self.dial_string = msg.get("DialString")


@dataclass(slots=True)
class DialEnd(_DialEvent):
    dial_status: str | None = None

    def _fill(self, msg: Message) -> None:
        _DialEvent._fill(self, msg)
        self.dial_status = msg.get("DialStatus")


@dataclass(slots=True)
class OriginateResponse(Event):
    """Outcome of an async Originate. Broadcast to every AMI session.

    Reason: 0 failure (also SIP busy/congestion, duplicate ChannelId), 1 hung up,
    3 ring timeout, 4 answered, 5 busy (Local), 8 congestion (Local).
    """

    action_id: str | None = None
    response: str | None = None
    reason: int | None = None
    channel: str | None = None
    uniqueid: str | None = None
    #: set by AMIClient: True when the ActionID is one of ours (it is broadcast to all)
    ours: bool | None = None

    @property
    def success(self) -> bool:
        return self.response == "Success"

    @classmethod
    def from_message(cls, name: str, msg: Message) -> Event:
        g = msg.get
        return cls(name, msg, g("ActionID"), g("Response"), _int(g("Reason")),
                   g("Channel"), g("Uniqueid"))


@dataclass(slots=True)
class Hangup(ChannelEvent):
    cause: int | None = None
    cause_txt: str | None = None

    def _fill(self, msg: Message) -> None:
        self.cause = _int(msg.get("Cause"))
        self.cause_txt = msg.get("Cause-txt")


@dataclass(slots=True)
class _BridgeEvent(ChannelEvent):
    bridge_uniqueid: str | None = None
    bridge_type: str | None = None
    bridge_num_channels: int | None = None

    def _fill(self, msg: Message) -> None:
        self.bridge_uniqueid = msg.get("BridgeUniqueid")
        self.bridge_type = msg.get("BridgeType")
        self.bridge_num_channels = _int(msg.get("BridgeNumChannels"))


@dataclass(slots=True)
class BridgeEnter(_BridgeEvent):
    pass


@dataclass(slots=True)
class BridgeLeave(_BridgeEvent):
    pass


@dataclass(slots=True)
class _QueueCallerEvent(ChannelEvent):
    queue: str | None = None
    position: int | None = None
    count: int | None = None

    def _fill(self, msg: Message) -> None:
        self.queue = msg.get("Queue")
        self.position = _int(msg.get("Position"))
        self.count = _int(msg.get("Count"))


@dataclass(slots=True)
class QueueCallerJoin(_QueueCallerEvent):
    pass


@dataclass(slots=True)
class QueueCallerLeave(_QueueCallerEvent):
    """Leaves the queue (agent, timeout or hang-up alike: there is no reason field)."""


@dataclass(slots=True)
class QueueCallerAbandon(_QueueCallerEvent):
    """Timeout *or* caller hang-up: tell them apart by the DialerQueueResult UserEvent."""

    original_position: int | None = None
    hold_time: int | None = None

    def _fill(self, msg: Message) -> None:
        _QueueCallerEvent._fill(self, msg)
        self.original_position = _int(msg.get("OriginalPosition"))
        self.hold_time = _int(msg.get("HoldTime"))


@dataclass(slots=True)
class _AgentEvent(ChannelEvent):
    """AgentCalled/Connect/Complete. ``channel``/``uniqueid`` are the caller's (may be None)."""

    queue: str | None = None
    interface: str | None = None
    member_name: str | None = None
    dest_channel: str | None = None
    dest_uniqueid: str | None = None
    dest_linkedid: str | None = None

    def _fill(self, msg: Message) -> None:
        g = msg.get
        self.queue = g("Queue")
        self.interface = g("Interface")
        self.member_name = g("MemberName")
        self.dest_channel = g("DestChannel")
        self.dest_uniqueid = g("DestUniqueid")
        self.dest_linkedid = g("DestLinkedid")


@dataclass(slots=True)
class AgentCalled(_AgentEvent):
    pass


@dataclass(slots=True)
class AgentConnect(_AgentEvent):
    hold_time: int | None = None
    ring_time: int | None = None

    def _fill(self, msg: Message) -> None:
        _AgentEvent._fill(self, msg)
        self.hold_time = _int(msg.get("HoldTime"))
        self.ring_time = _int(msg.get("RingTime"))


@dataclass(slots=True)
class AgentComplete(_AgentEvent):
    """``reason``: caller (also when the agent pressed ``*``), agent, transfer."""

    hold_time: int | None = None
    talk_time: int | None = None
    reason: str | None = None

    def _fill(self, msg: Message) -> None:
        _AgentEvent._fill(self, msg)
        self.hold_time = _int(msg.get("HoldTime"))
        self.talk_time = _int(msg.get("TalkTime"))
        self.reason = msg.get("Reason")


@dataclass(slots=True)
class AgentLogin(ChannelEvent):
    agent: str | None = None

    def _fill(self, msg: Message) -> None:
        self.agent = msg.get("Agent")


@dataclass(slots=True)
class AgentLogoff(ChannelEvent):
    agent: str | None = None
    logintime: int | None = None

    def _fill(self, msg: Message) -> None:
        self.agent = msg.get("Agent")
        self.logintime = _int(msg.get("Logintime"))


@dataclass(slots=True)
class _QueueMemberEvent(Event):
    """Status: 1 not in use, 2 in use, 3 busy, 4 invalid, 5 unavailable, 6 ringing."""

    queue: str | None = None
    member_name: str | None = None
    interface: str | None = None
    state_interface: str | None = None
    status: int | None = None
    paused: bool = False
    paused_reason: str | None = None
    in_call: bool = False
    calls_taken: int | None = None

    @classmethod
    def from_message(cls, name: str, msg: Message) -> Event:
        g = msg.get
        return cls(name, msg, g("Queue"), g("MemberName"), g("Interface"), g("StateInterface"),
                   _int(g("Status")), _bool(g("Paused")), g("PausedReason"),
                   _bool(g("InCall")), _int(g("CallsTaken")))


@dataclass(slots=True)
class QueueMemberAdded(_QueueMemberEvent):
    pass


@dataclass(slots=True)
class QueueMemberRemoved(_QueueMemberEvent):
    pass


@dataclass(slots=True)
class QueueMemberStatus(_QueueMemberEvent):
    pass


@dataclass(slots=True)
class QueueMemberPause(_QueueMemberEvent):
    pass


@dataclass(slots=True)
class UserEvent(ChannelEvent):
    """``UserEvent: <name>`` plus headers copied verbatim from the dialplan (untyped).

    ``fields`` holds the headers after ``UserEvent`` (e.g. AttemptId, Status, Digit);
    values are stripped (an empty ``Digit: `` arrives with a trailing space).
    """

    user_event: str | None = None
    fields: dict[str, str] = field(default_factory=dict)

    def _fill(self, msg: Message) -> None:
        self.user_event = msg.get("UserEvent")
        seen = False
        out: dict[str, str] = {}
        for k, v in msg.headers:
            if seen:
                if k != "ActionID":
                    out.setdefault(k, v.strip())
            elif k == "UserEvent":
                seen = True
        self.fields = out


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        FullyBooted, Shutdown, Newchannel, Newstate, DialBegin, DialEnd, OriginateResponse,
        Hangup, BridgeEnter, BridgeLeave, QueueCallerJoin, QueueCallerLeave,
        QueueCallerAbandon, AgentCalled, AgentConnect, AgentComplete, AgentLogin, AgentLogoff,
        QueueMemberAdded, QueueMemberRemoved, QueueMemberStatus, QueueMemberPause, UserEvent,
    )
}


def to_event(msg: Message) -> Event:
    """Typed event for ``msg`` (which must carry ``Event:``), RawEvent when unknown."""
    name = msg.get("Event") or ""
    cls = EVENT_TYPES.get(name, RawEvent)
    return cls.from_message(name, msg)
