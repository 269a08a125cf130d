"""Call tracking: AMI events in, moves of each call's life (`call_life`) and closed attempts out.

No I/O here. Every phase change goes through `call_life.next_phase`, so the transition
table in `dialer.engine.call_life` is the one this code runs; how an ended call's outcome
is found is there too (`call_life.classify`).

Correlation (see ami-transcripts/README.md): the Originate's ChannelId is the attempt id,
so the customer channel's Uniqueid (and every Linkedid of the call) is the attempt id;
the Local `;2` half is `<attempt id>-2`. UserEvents carry `AttemptId`. AgentComplete is
matched by queue and member, because its caller fields are sometimes missing.

Outcomes are classified from OriginateResponse Reason, Hangup Cause and DialEnd
DialStatus together: over a real SIP trunk busy arrives as Reason 0 with Cause 17, while
Local channels report Reason 5. A failed OriginateResponse can arrive before the Hangup,
so a failure waits briefly for the cause before it is classified.

Progress (answered, queued, connected, agent, AMD, recording) is noted in `CallTracker.progressed`
for the engine's writer, so that a restarted engine finds it in the database. A call
whose end was not seen is classified from what is known (`close_unobserved`), and a
hang-up with no OriginateResponse and a cause that says nothing is `unknown`, not failed.
"""

from __future__ import annotations

from collections.abc import Callable

from ami import dialplan
from ami.events import (
    AgentComplete,
    AgentConnect,
    BridgeEnter,
    DialEnd,
    Event,
    Hangup,
    Newstate,
    OriginateResponse,
    QueueCallerAbandon,
    QueueCallerJoin,
    UserEvent,
)
from dialer.engine.call_life import (
    FAILURE_GRACE_S,
    Call,
    ClosedCall,
    Ending,
    Move,
    Phase,
    classify,
    ending_of,
    next_phase,
)
from dialer.engine.channels import ChannelFacts


class CallTracker:
    """The engine's live calls, keyed by attempt id."""

    def __init__(self) -> None:
        self.calls: dict[str, Call] = {}
        self._members: dict[tuple[str, str], str] = {}  # (queue, interface) -> attempt id
        # Attempts with new progress (answered, queued, connected, agent, AMD) not yet
        # written: the engine's writer stores them so a restart finds the facts.
        self.progressed: set[str] = set()
        # Hooks for observers (metrics, MQTT): called when a call is answered / connected.
        self.on_answered: Callable[[Call], None] | None = None
        self.on_connected: Callable[[Call], None] | None = None
        self.on_queued: Callable[[Call], None] | None = None
        # Called once when a call is forgotten (ended, however): agent reservations end.
        self.on_ended: Callable[[Call], None] | None = None
        self._bridges: dict[str, str] = {}  # agent-direct calls: customer's bridge -> attempt id

    def __len__(self) -> int:
        return len(self.calls)

    def __contains__(self, attempt_id: object) -> bool:
        return attempt_id in self.calls

    def get(self, attempt_id: str) -> Call | None:
        return self.calls.get(attempt_id)

    def unended(self) -> list[Call]:
        """The calls whose end has not been seen (a Hangup may be waiting for its response)."""
        return [call for call in self.calls.values() if call.ended_at is None]

    def add(self, call: Call) -> None:
        """Track a call whose Originate is about to be sent."""
        self.calls[call.attempt_id] = call

    def forget_unsent(self, attempt_id: str) -> None:
        """The Originate never reached Asterisk: no call exists, so there is nothing to close."""
        self.calls.pop(attempt_id, None)

    def adopt(self, call: Call) -> None:
        """Track a call found up at a (re)connect, with its agent's queue membership."""
        self.calls[call.attempt_id] = call
        if call.member is not None:
            self._members[call.member] = call.attempt_id

    def learn(self, call: Call, facts: ChannelFacts, now: float, *, notify: bool = True) -> None:
        """What Asterisk's channel list says about a live call, added to what is known.
        ``notify``: tell observers (not for facts the previous run already reported)."""
        hooks = (self.on_answered, self.on_connected)
        if not notify:
            self.on_answered = self.on_connected = None
        try:
            if facts.answered or facts.queued or facts.agent_id:
                self._answered(call, now)
            elif facts.ringing:
                _move(call, Move.RING)
            if facts.queued and call.queued_at is None and call.connected_at is None:
                call.queued_at = now
                call.stamp("queued")
                self.progressed.add(call.attempt_id)
                _move(call, Move.SEEN_QUEUED)
            if facts.safe_harbour and call.queue_status is None:
                call.queue_status = "TIMEOUT"
            if facts.agent_id and call.connected_at is None:
                self._connect(call, facts.agent_id, call.queue, dialplan.agent_interface(facts.agent_id), now)
        finally:
            self.on_answered, self.on_connected = hooks

    def _find(self, uniqueid: str | None) -> tuple[Call | None, bool]:
        """The call a Uniqueid belongs to, and whether it is the far (`;2`) half."""
        if not uniqueid:
            return None, False
        call = self.calls.get(uniqueid)
        if call is not None:
            return call, False
        if uniqueid.endswith("-2"):
            return self.calls.get(uniqueid[:-2]), True
        return None, False

    def on_originate_response(self, attempt_id: str, response: OriginateResponse, now: float) -> list[ClosedCall]:
        call = self.calls.get(attempt_id)
        if call is None or call.originate_reason is not None:
            return []  # already handled (the handle and the broadcast event both report it)
        call.originate_reason = response.reason
        if response.success:
            self._answered(call, now)
            return []
        call.originate_failed_at = now
        if call.ended_at is not None:  # the Hangup came first
            return [self._close(call)]
        return []

    def originate_lost(self, attempt_id: str, now: float, note: str) -> ClosedCall | None:
        """The Originate was refused outright (no call exists): close as failed."""
        call = self.calls.get(attempt_id)
        if call is None:
            return None
        return self._end_unseen(call, now, Ending.ORIGINATE_REFUSED, note)

    def close_unobserved(self, call: Call, now: float, why: str) -> ClosedCall:
        """A call known to be over though no Hangup was seen: closed with what is known."""
        return self._end_unseen(call, now, Ending.UNOBSERVED, why)

    def _end_unseen(self, call: Call, now: float, ending: Ending, why: str) -> ClosedCall:
        call.ended_at = now
        call.stamp("ended")
        self._forget(call)
        outcome, note = classify(ending, call, why)
        return ClosedCall(call, outcome, note)

    def _forget(self, call: Call) -> None:
        """Untrack an ended call (and its agent's membership)."""
        tracked = self.calls.pop(call.attempt_id, None) is not None
        if call.member is not None:
            self._members.pop(call.member, None)
        if call.bridge is not None:
            self._bridges.pop(call.bridge, None)
        _move(call, Move.END)
        if tracked and self.on_ended is not None:
            self.on_ended(call)

    def on_event(self, event: Event, now: float) -> list[ClosedCall]:
        if isinstance(event, Hangup):
            return self._hangup(event, now)
        if isinstance(event, OriginateResponse):
            # Broadcast to every session: a call re-tracked after a restart, or whose handle
            # was lost with the connection, still learns its outcome here.
            call = self.calls.get(event.uniqueid or "")
            if call is not None and call.originate_reason is None:
                return self.on_originate_response(call.attempt_id, event, now)
            return []
        if isinstance(event, UserEvent):
            self._user_event(event, now)
        elif isinstance(event, QueueCallerJoin):
            call, far = self._find(event.uniqueid)
            if call is not None and not far:
                self._answered(call, now)
                call.queued_at = now
                call.stamp("queued")
                _move(call, Move.QUEUE_JOIN)
                self.progressed.add(call.attempt_id)
                if self.on_queued is not None:
                    self.on_queued(call)
        elif isinstance(event, AgentConnect):
            call, _ = self._find(event.uniqueid or event.linkedid)
            if call is None:
                call, _ = self._find(event.dest_linkedid)
            if call is not None:
                agent = dialplan.agent_from_interface(event.interface or "") or event.member_name
                self._connect(call, agent, event.queue, event.interface, now)
        elif isinstance(event, BridgeEnter):
            self._bridge_enter(event, now)
        elif isinstance(event, AgentComplete):
            if event.queue and event.interface:
                self._members.pop((event.queue, event.interface), None)
        elif isinstance(event, QueueCallerAbandon):
            call, _ = self._find(event.uniqueid)
            if call is not None and call.queue_status is None:
                call.queue_status = "ABANDON"
        elif isinstance(event, DialEnd):
            call, _ = self._find(event.get("DestUniqueid"))
            if call is not None and event.dial_status:
                call.dial_status = event.dial_status
                if event.dial_status == "ANSWER":
                    self._answered(call, now)
        elif isinstance(event, Newstate):
            call, far = self._find(event.uniqueid)
            if call is not None and not far:
                if event.channel_state == 6:
                    self._answered(call, now)
                elif event.channel_state in (4, 5):
                    _move(call, Move.RING)
        return []

    def _connect(self, call: Call, agent_id: str | None, queue: str | None, interface: str | None,
                 now: float) -> None:
        call.connected_at = now
        call.stamp("connected")
        _move(call, Move.CONNECT)
        call.agent_id = agent_id
        if queue and interface:
            call.member = (queue, interface)
            self._members[call.member] = call.attempt_id
        self.progressed.add(call.attempt_id)
        if self.on_connected is not None:
            self.on_connected(call)

    def _bridge_enter(self, event: BridgeEnter, now: float) -> None:
        """Agent-direct calls only (app_queue's calls connect by AgentConnect): the customer
        enters AgentRequest's bridge, then the agent's line joins it: connected."""
        bridge = event.bridge_uniqueid or ""
        call, far = self._find(event.uniqueid)
        if call is not None and not far and call.direct_agent is not None:
            call.bridge = bridge
            self._bridges[bridge] = call.attempt_id
        elif call is None:
            call = self.calls.get(self._bridges.get(bridge, ""))
        if (call is not None and call.direct_agent is not None and call.connected_at is None
                and bridge and call.bridge == bridge and (event.bridge_num_channels or 0) >= 2):
            self._connect(call, call.direct_agent, None, None, now)

    def _answered(self, call: Call, now: float) -> None:
        if call.answered_at is None:
            call.answered_at = now
            call.stamp("answered")
            self.progressed.add(call.attempt_id)
            _move(call, Move.ANSWER)
            if self.on_answered is not None:
                self.on_answered(call)

    def _user_event(self, event: UserEvent, now: float) -> None:
        fields = event.fields
        call = self.calls.get(fields.get("AttemptId", "")) or self._find(event.uniqueid)[0]
        if call is None:
            return
        name = event.user_event
        if name == dialplan.USEREVENT_AMD:
            call.amd_status = (fields.get("Status") or "").upper() or None
            self.progressed.add(call.attempt_id)
        elif name == dialplan.USEREVENT_QUEUE_RESULT:
            call.queue_status = (fields.get("QueueStatus") or "").upper() or None
        elif name == dialplan.USEREVENT_OPT_OUT:
            call.opt_out_digit = fields.get("Digit") or ""
        elif name == dialplan.USEREVENT_RECORDING:
            # An empty Path: MixMonitor did not start, so nothing is recorded.
            path = (fields.get("Path") or "").strip()
            if path and call.recording_path is None:
                call.recording_path = path
                call.recording_at = now
                call.stamp("recording")
                self.progressed.add(call.attempt_id)
        elif name == dialplan.USEREVENT_AGENT_REQUEST:
            # An agent-direct call handed to AgentRequest: "queued" for that one agent.
            call.direct_agent = call.direct_agent or fields.get("Agent") or None
            self._answered(call, now)
            if call.queued_at is None:
                call.queued_at = now
                call.stamp("queued")
                _move(call, Move.QUEUE_JOIN)
                self.progressed.add(call.attempt_id)

    def _hangup(self, event: Hangup, now: float) -> list[ClosedCall]:
        call, far = self._find(event.uniqueid)
        if call is None:
            return []
        if far:
            call.far_cause = event.cause
            return []
        call.hangup_cause = event.cause
        call.channel = event.channel
        call.ended_at = now
        call.stamp("ended")
        if call.answered_at is None and call.originate_failed_at is None and call.originate_reason is None:
            # Wait for the OriginateResponse: it says busy (5) or congestion (8) via Local.
            return []
        return [self._close(call)]

    def expire(self, now: float) -> list[ClosedCall]:
        """Close failures whose Hangup never came, and hung-up calls whose response never did."""
        closed = []
        for call in list(self.calls.values()):
            if call.originate_failed_at is not None and now - call.originate_failed_at >= FAILURE_GRACE_S:
                if call.ended_at is None:
                    call.ended_at = now
                    call.stamp("ended")
                closed.append(self._close(call))
            elif call.ended_at is not None and now - call.ended_at >= FAILURE_GRACE_S:
                closed.append(self._close(call))
        return closed

    def _close(self, call: Call) -> ClosedCall:
        self._forget(call)
        outcome, note = classify(ending_of(call), call)
        return ClosedCall(call, outcome, note)

    def by_phase(self, campaign_id: int) -> dict[Phase, list[Call]]:
        phases: dict[Phase, list[Call]] = {}
        for call in self.calls.values():
            if call.campaign_id == campaign_id:
                phases.setdefault(call.phase, []).append(call)
        return phases


def _move(call: Call, move: Move) -> None:
    call.phase = next_phase(call.phase, move)
