"""Call tracking: AMI events in, call phases and closed attempts out. No I/O here.

Correlation (see ami-transcripts/README.md): the Originate's ChannelId is the attempt id,
so the customer channel's Uniqueid (and every Linkedid of the call) is the attempt id;
the Local `;2` half is `<attempt id>-2`. UserEvents carry `AttemptId`. AgentComplete is
matched by queue and member, because its caller fields are sometimes missing.

Outcomes are classified from OriginateResponse Reason, Hangup Cause and DialEnd
DialStatus together: over a real SIP trunk busy arrives as Reason 0 with Cause 17, while
Local channels report Reason 5. A failed OriginateResponse can arrive before the Hangup,
so a failure waits briefly for the cause before it is classified.

Progress (answered, queued, connected, agent, AMD) is noted in `CallTracker.progressed`
for the engine's writer, so that a restarted engine finds it in the database. A call
whose end was not seen is classified from what is known (`classify_unobserved`), and a
hang-up with no OriginateResponse and a cause that says nothing is `unknown`, not failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from ami import dialplan
from ami.events import (
    AgentComplete,
    AgentConnect,
    DialEnd,
    Event,
    Hangup,
    Newstate,
    OriginateResponse,
    QueueCallerAbandon,
    QueueCallerJoin,
    UserEvent,
)
from compliance.abandonment import connect_wait_s
from compliance.outcomes import Outcome
from dialer.engine.channels import ChannelFacts

# How long a failed OriginateResponse waits for its Hangup (and cause) before closing.
FAILURE_GRACE_S = 2.0

BUSY_CAUSES = frozenset({17})
CONGESTION_CAUSES = frozenset({27, 34, 38, 41, 42, 44, 58})
INVALID_CAUSES = frozenset({1, 2, 3, 22, 28})
NO_ANSWER_CAUSES = frozenset({18, 19, 21})


class Phase(StrEnum):
    DIALLING = "dialling"  # Originate sent, nothing heard yet
    RINGING = "ringing"
    ANSWERED = "answered"  # answered, not yet in the queue (AMD, greeting)
    QUEUED = "queued"  # waiting for an agent
    CONNECTED = "connected"  # talking to an agent
    ENDED = "ended"


@dataclass
class Call:
    attempt_id: str
    campaign_id: int
    contact_id: int
    number: str
    queue: str
    placed_at: float  # engine clock (monotonic seconds)
    phase: Phase = Phase.DIALLING
    answered_at: float | None = None
    queued_at: float | None = None
    connected_at: float | None = None
    ended_at: float | None = None
    originate_failed_at: float | None = None
    originate_reason: int | None = None
    hangup_cause: int | None = None
    far_cause: int | None = None  # the Local ;2 half's cause (busy/congestion via Local)
    dial_status: str | None = None
    amd_status: str | None = None
    queue_status: str | None = None
    opt_out_digit: str | None = None
    agent_id: str | None = None
    channel: str | None = None
    member: tuple[str, str] | None = None  # (queue, interface) while connected
    campaign: str = ""
    fields: dict[str, object] = field(default_factory=dict)  # the contact's, for the screen pop
    attempt_no: int = 0
    script: str = ""  # the campaign's script, for the screen pop
    wall: dict[str, datetime] = field(default_factory=dict)  # UTC instants of each step
    recovered: bool = False  # re-tracked at engine start from the database and Asterisk
    result_observed: bool = False  # its line result already fed to the pacing estimators

    def stamp(self, step: str) -> None:
        self.wall.setdefault(step, datetime.now(UTC))


@dataclass(frozen=True)
class ClosedCall:
    """A call that has ended, with its system outcome."""

    call: Call
    outcome: Outcome
    note: str | None = None

    @property
    def ring_s(self) -> float | None:
        if self.call.answered_at is None:
            return None
        return self.call.answered_at - self.call.placed_at

    @property
    def time_to_agent_s(self) -> float | None:
        c = self.call
        return connect_wait_s(c.answered_at, c.queued_at, c.connected_at)

    @property
    def talk_s(self) -> float | None:
        c = self.call
        if c.connected_at is None or c.ended_at is None:
            return None
        return c.ended_at - c.connected_at


def classify_failure(call: Call) -> tuple[Outcome, str | None]:
    """A failed originate's outcome from Reason, causes and DialStatus together."""
    reason, status = call.originate_reason, (call.dial_status or "").upper()
    causes = {c for c in (call.hangup_cause, call.far_cause) if c}
    if reason == 5 or status == "BUSY" or causes & BUSY_CAUSES:
        return Outcome.BUSY, None
    if causes & INVALID_CAUSES:
        return Outcome.CONGESTION, "invalid number"
    if reason == 8 or status == "CONGESTION" or causes & CONGESTION_CAUSES:
        return Outcome.CONGESTION, None
    if reason in (1, 3) or status in ("NOANSWER", "CANCEL") or causes & NO_ANSWER_CAUSES:
        return Outcome.NO_ANSWER, None
    if reason == 0 and not causes and not status:
        return Outcome.FAILED, "originate failed with no cause (duplicate channel id?)"
    return Outcome.FAILED, f"reason {reason}, cause {sorted(causes) or '-'}, dial status {status or '-'}"


def classify_unobserved(call: Call, why: str) -> tuple[Outcome, str]:
    """A call whose end the engine did not see (engine restart, AMI down, check failed):
    the outcome only when what is known settles it, else UNKNOWN. Never a guess."""
    if call.connected_at is not None:
        agent = f" to agent {call.agent_id}" if call.agent_id else ""
        return Outcome.ANSWERED, f"{why}; it had been connected{agent}"
    if call.amd_status == "MACHINE":
        return Outcome.MACHINE, f"{why}; AMD had detected a machine"
    if call.opt_out_digit and call.opt_out_digit == dialplan.OPT_OUT_DIGIT:
        return Outcome.OPT_OUT, why
    if call.queue_status == "TIMEOUT":
        return Outcome.ABANDONED, f"{why}; no agent in time (opt-out key not observed)"
    if call.queued_at is not None:
        known = "answered and waiting for an agent"
    elif call.answered_at is not None:
        known = "answered"
    else:
        known = "not answered as far as seen"
    return Outcome.UNKNOWN, f"{why}; {known}, outcome unknown"


def classify_answered(call: Call) -> tuple[Outcome, str | None]:
    if call.amd_status == "MACHINE":
        return Outcome.MACHINE, None
    if call.opt_out_digit and call.opt_out_digit == dialplan.OPT_OUT_DIGIT:
        return Outcome.OPT_OUT, None
    if call.connected_at is not None:
        return Outcome.ANSWERED, None
    if call.queue_status == "TIMEOUT":
        return Outcome.ABANDONED, None
    if call.queued_at is not None:
        return Outcome.QUEUE_HANGUP, None
    return Outcome.QUEUE_HANGUP, "hung up before reaching the queue"


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

    def __len__(self) -> int:
        return len(self.calls)

    def add(self, call: Call) -> None:
        self.calls[call.attempt_id] = call

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
            elif facts.ringing and call.phase is Phase.DIALLING:
                call.phase = Phase.RINGING
            if facts.queued and call.queued_at is None and call.connected_at is None:
                call.queued_at = now
                call.stamp("queued")
                self.progressed.add(call.attempt_id)
                if call.phase is Phase.ANSWERED:
                    call.phase = Phase.QUEUED
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
        self.end(call, now)
        return ClosedCall(call, Outcome.FAILED, note)

    def end(self, call: Call, now: float) -> None:
        """A call known to be over though no Hangup was seen: untracked, stamped ended."""
        call.ended_at = now
        call.stamp("ended")
        self.calls.pop(call.attempt_id, None)
        if call.member is not None:
            self._members.pop(call.member, None)
        call.phase = Phase.ENDED

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
                call.phase = Phase.QUEUED
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
                elif event.channel_state in (4, 5) and call.phase is Phase.DIALLING:
                    call.phase = Phase.RINGING
        return []

    def _connect(self, call: Call, agent_id: str | None, queue: str | None, interface: str | None,
                 now: float) -> None:
        call.connected_at = now
        call.stamp("connected")
        call.phase = Phase.CONNECTED
        call.agent_id = agent_id
        if queue and interface:
            call.member = (queue, interface)
            self._members[call.member] = call.attempt_id
        self.progressed.add(call.attempt_id)
        if self.on_connected is not None:
            self.on_connected(call)

    def _answered(self, call: Call, now: float) -> None:
        if call.answered_at is None:
            call.answered_at = now
            call.stamp("answered")
            self.progressed.add(call.attempt_id)
            if call.phase in (Phase.DIALLING, Phase.RINGING):
                call.phase = Phase.ANSWERED
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
        self.calls.pop(call.attempt_id, None)
        if call.member is not None:
            self._members.pop(call.member, None)
        call.phase = Phase.ENDED
        if call.answered_at is not None:
            outcome, note = classify_answered(call)
        elif call.originate_reason is None and call.originate_failed_at is None:
            # Hung up, and no OriginateResponse came (re-tracked after a restart, or lost):
            # a cause that names the result is enough; Normal Clearing alone says nothing.
            outcome, note = classify_failure(call)
            if outcome is Outcome.FAILED:
                outcome, note = Outcome.UNKNOWN, (
                    f"hung up (cause {call.hangup_cause}) and no originate response was seen")
        else:
            outcome, note = classify_failure(call)
        return ClosedCall(call, outcome, note)

    def by_phase(self, campaign_id: int) -> dict[Phase, list[Call]]:
        phases: dict[Phase, list[Call]] = {}
        for call in self.calls.values():
            if call.campaign_id == campaign_id:
                phases.setdefault(call.phase, []).append(call)
        return phases
