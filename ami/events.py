"""Typed AMI events for what the dialer uses; everything else stays a `RawEvent`.

``to_event(msg)`` wraps a parsed `Message` whose first header is ``Event:`` in the class
named after it. Construction is free: the typed attributes are properties read from the
message on access (the reader stays fast), and ``.message`` keeps every header, repeats
included. Unknown events are `RawEvent` with the same ``.get`` access.

Correlation (see ami-transcripts/README.md):
- Originate with ``ChannelId: <attempt id>`` makes that id the ``Uniqueid`` of the
  originated channel and the ``Linkedid`` of *every* channel of the call, agent legs
  included. So ``event.linkedid`` is the attempt id for channel events, and
  ``OriginateResponse.uniqueid`` for the outcome (on failure its ``channel`` is the dial
  string, not a channel name). DialBegin/DialEnd of an Originate have no caller channel:
  use ``dest_uniqueid`` / ``dest_linkedid``.
- AgentComplete: correlate by ``(queue, member_name)``; its caller fields can be missing.
- Integers that Asterisk leaves empty or ``(null)`` read as ``None``.
"""

from __future__ import annotations

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


class Event:
    """Base of every event: ``name`` and the ``message`` it came from."""

    __slots__ = ("name", "message")

    def __init__(self, name: str, message: Message) -> None:
        self.name = name
        self.message = message

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.message.get(key, default)

    @property
    def timestamp(self) -> float | None:
        ts = self.get("Timestamp")
        try:
            return float(ts) if ts else None
        except ValueError:
            return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self.message.headers)!r})"


class RawEvent(Event):
    """An event the dialer has no type for; read it through ``.message`` / ``.get``."""

    __slots__ = ()


class ChannelEvent(Event):
    """An event with the standard channel block (Channel … Linkedid)."""

    __slots__ = ()

    @property
    def channel(self) -> str | None:
        return self.get("Channel")

    @property
    def uniqueid(self) -> str | None:
        return self.get("Uniqueid")

    @property
    def linkedid(self) -> str | None:
        return self.get("Linkedid")

    @property
    def channel_state(self) -> int | None:
        return _int(self.get("ChannelState"))

    @property
    def channel_state_desc(self) -> str | None:
        return self.get("ChannelStateDesc")

    @property
    def context(self) -> str | None:
        return self.get("Context")

    @property
    def exten(self) -> str | None:
        return self.get("Exten")


class FullyBooted(Event):
    __slots__ = ()

    @property
    def status(self) -> str | None:
        return self.get("Status")


class Shutdown(Event):
    """Asterisk is stopping (``Shutdown: Cleanly|Uncleanly``, ``Restart: True|False``)."""

    __slots__ = ()

    @property
    def shutdown(self) -> str | None:
        return self.get("Shutdown")

    @property
    def restart(self) -> bool:
        return _bool(self.get("Restart"))


class Newchannel(ChannelEvent):
    __slots__ = ()


class Newstate(ChannelEvent):
    __slots__ = ()


class _DialEvent(ChannelEvent):
    """DialBegin/DialEnd: ``channel`` is None for an Originate (no caller)."""

    __slots__ = ()

    @property
    def dest_channel(self) -> str | None:
        return self.get("DestChannel")

    @property
    def dest_uniqueid(self) -> str | None:
        return self.get("DestUniqueid")

    @property
    def dest_linkedid(self) -> str | None:
        return self.get("DestLinkedid")


class DialBegin(_DialEvent):
    __slots__ = ()

    @property
    def dial_string(self) -> str | None:
        return self.get("DialString")


class DialEnd(_DialEvent):
    """``dial_status``: ANSWER, BUSY, CONGESTION, NOANSWER, CHANUNAVAIL, CANCEL..."""

    __slots__ = ()

    @property
    def dial_status(self) -> str | None:
        return self.get("DialStatus")


class OriginateResponse(Event):
    """Outcome of an async Originate. Broadcast to every AMI session.

    Reason: 0 failure (also SIP busy/congestion, duplicate ChannelId), 1 hung up,
    3 ring timeout, 4 answered, 5 busy (Local), 8 congestion (Local). ``ours`` is set by
    AMIClient: True when the ActionID is one this client generated.
    """

    __slots__ = ("ours",)

    def __init__(self, name: str, message: Message) -> None:
        super().__init__(name, message)
        self.ours: bool | None = None

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    @property
    def response(self) -> str | None:
        return self.get("Response")

    @property
    def success(self) -> bool:
        return self.get("Response") == "Success"

    @property
    def reason(self) -> int | None:
        return _int(self.get("Reason"))

    @property
    def channel(self) -> str | None:
        return self.get("Channel")

    @property
    def uniqueid(self) -> str | None:
        return self.get("Uniqueid")


class Hangup(ChannelEvent):
    __slots__ = ()

    @property
    def cause(self) -> int | None:
        return _int(self.get("Cause"))

    @property
    def cause_txt(self) -> str | None:
        return self.get("Cause-txt")


class _BridgeEvent(ChannelEvent):
    __slots__ = ()

    @property
    def bridge_uniqueid(self) -> str | None:
        return self.get("BridgeUniqueid")

    @property
    def bridge_type(self) -> str | None:
        return self.get("BridgeType")

    @property
    def bridge_num_channels(self) -> int | None:
        return _int(self.get("BridgeNumChannels"))


class BridgeEnter(_BridgeEvent):
    __slots__ = ()


class BridgeLeave(_BridgeEvent):
    __slots__ = ()


class _QueueCallerEvent(ChannelEvent):
    __slots__ = ()

    @property
    def queue(self) -> str | None:
        return self.get("Queue")

    @property
    def position(self) -> int | None:
        return _int(self.get("Position"))

    @property
    def count(self) -> int | None:
        return _int(self.get("Count"))


class QueueCallerJoin(_QueueCallerEvent):
    __slots__ = ()


class QueueCallerLeave(_QueueCallerEvent):
    """Leaves the queue (agent, timeout or hang-up alike: there is no reason field)."""

    __slots__ = ()


class QueueCallerAbandon(_QueueCallerEvent):
    """Timeout *or* caller hang-up: tell them apart by the DialerQueueResult UserEvent."""

    __slots__ = ()

    @property
    def original_position(self) -> int | None:
        return _int(self.get("OriginalPosition"))

    @property
    def hold_time(self) -> int | None:
        return _int(self.get("HoldTime"))


class _AgentEvent(ChannelEvent):
    """AgentCalled/Connect/Complete. ``channel``/``uniqueid`` are the caller's (may be None)."""

    __slots__ = ()

    @property
    def queue(self) -> str | None:
        return self.get("Queue")

    @property
    def interface(self) -> str | None:
        return self.get("Interface")

    @property
    def member_name(self) -> str | None:
        return self.get("MemberName")

    @property
    def dest_channel(self) -> str | None:
        return self.get("DestChannel")

    @property
    def dest_uniqueid(self) -> str | None:
        return self.get("DestUniqueid")

    @property
    def dest_linkedid(self) -> str | None:
        return self.get("DestLinkedid")


class AgentCalled(_AgentEvent):
    __slots__ = ()


class AgentConnect(_AgentEvent):
    __slots__ = ()

    @property
    def hold_time(self) -> int | None:
        return _int(self.get("HoldTime"))

    @property
    def ring_time(self) -> int | None:
        return _int(self.get("RingTime"))


class AgentComplete(_AgentEvent):
    """``reason``: caller (also when the agent pressed ``*``), agent, transfer."""

    __slots__ = ()

    @property
    def hold_time(self) -> int | None:
        return _int(self.get("HoldTime"))

    @property
    def talk_time(self) -> int | None:
        return _int(self.get("TalkTime"))

    @property
    def reason(self) -> str | None:
        return self.get("Reason")


class AgentLogin(ChannelEvent):
    __slots__ = ()

    @property
    def agent(self) -> str | None:
        return self.get("Agent")


class AgentLogoff(ChannelEvent):
    __slots__ = ()

    @property
    def agent(self) -> str | None:
        return self.get("Agent")

    @property
    def logintime(self) -> int | None:
        return _int(self.get("Logintime"))


class _QueueMemberEvent(Event):
    """Status: 1 not in use, 2 in use, 3 busy, 4 invalid, 5 unavailable, 6 ringing."""

    __slots__ = ()

    @property
    def queue(self) -> str | None:
        return self.get("Queue")

    @property
    def member_name(self) -> str | None:
        return self.get("MemberName")

    @property
    def interface(self) -> str | None:
        return self.get("Interface")

    @property
    def state_interface(self) -> str | None:
        return self.get("StateInterface")

    @property
    def status(self) -> int | None:
        return _int(self.get("Status"))

    @property
    def paused(self) -> bool:
        return _bool(self.get("Paused"))

    @property
    def paused_reason(self) -> str | None:
        return self.get("PausedReason")

    @property
    def in_call(self) -> bool:
        return _bool(self.get("InCall"))

    @property
    def calls_taken(self) -> int | None:
        return _int(self.get("CallsTaken"))


class QueueMemberAdded(_QueueMemberEvent):
    __slots__ = ()


class QueueMemberRemoved(_QueueMemberEvent):
    __slots__ = ()


class QueueMemberStatus(_QueueMemberEvent):
    __slots__ = ()


class QueueMemberPause(_QueueMemberEvent):
    __slots__ = ()


class UserEvent(ChannelEvent):
    """``UserEvent: <name>`` plus headers copied verbatim from the dialplan (untyped).

    ``fields`` holds the headers after ``UserEvent`` (e.g. AttemptId, Status, Digit),
    stripped (an empty ``Digit: `` arrives with a trailing space).
    """

    __slots__ = ()

    @property
    def user_event(self) -> str | None:
        return self.get("UserEvent")

    @property
    def fields(self) -> dict[str, str]:
        seen = False
        out: dict[str, str] = {}
        for k, v in self.message.headers:
            if seen:
                if k != "ActionID":
                    out.setdefault(k, v.strip())
            elif k == "UserEvent":
                seen = True
        return out


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
    k, name = msg.headers[0]
    if k != "Event":
        name = msg.get("Event") or ""
    return EVENT_TYPES.get(name, RawEvent)(name, msg)
