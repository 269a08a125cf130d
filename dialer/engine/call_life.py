"""The life of one call, as a state machine: its phases, what moves it, how it ends, what it is.

A call is an attempt the engine has placed (the Originate's ChannelId is the attempt id).
`dialer.engine.calls.CallTracker` turns AMI events into the moves below and changes a
call's phase only through `next_phase`, so the table here is the one the engine runs::

    DIALLING --ring--> RINGING --answer--> ANSWERED --queue_join / seen_queued--> QUEUED
        \\________________answer__________/    \\                                   |
                                              \\------------connect------------+ connect
                                                                               v
    queue_join and connect also apply from any earlier phase        CONNECTED (talking)
    end: from every live phase to ENDED, with an Ending that names the outcome's rules

The same table, row by row (a test checks that this text is the table)::

    from        on           to
    dialling    ring         ringing
    dialling    answer       answered
    dialling    queue_join   queued
    dialling    connect      connected
    dialling    end          ended
    ringing     answer       answered
    ringing     queue_join   queued
    ringing     connect      connected
    ringing     end          ended
    answered    seen_queued  queued
    answered    queue_join   queued
    answered    connect      connected
    answered    end          ended
    queued      connect      connected
    queued      end          ended
    connected   queue_join   queued
    connected   end          ended

A move with no row leaves the phase as it is (a late Newstate after the answer, a second
AgentConnect). ENDED is final: the tracker forgets the call when it ends.

Which AMI event makes which move (`AMI_MOVES`; the Uniqueid / AttemptId says which call):

- Newstate: ChannelState 4/5 -> ring, 6 -> answer.
- DialEnd: DialStatus ANSWER -> answer (any status is kept for the failure rules).
- OriginateResponse: Success -> answer; Failure is noted and waits `FAILURE_GRACE_S`
  for its Hangup (the cause), then -> end.
- QueueCallerJoin -> answer, then queue_join (the person is waiting for an agent).
- AgentConnect -> connect (the agent is the member's interface).
- Agent-direct calls (`direct_agent` set: dialplan.AGENT_CONNECT_CONTEXT, no app_queue):
  UserEvent DialerAgentRequest -> answer, then queue_join (handed to AgentRequest); BridgeEnter
  of another channel (the agent's line) into the customer's bridge -> connect.
- Hangup of the customer channel -> end; it waits `FAILURE_GRACE_S` for the
  OriginateResponse when nothing says the call was answered. The Local `;2` half's
  Hangup only notes its cause (busy or congestion via Local).
- Other UserEvents (AMD result, queue result, opt-out key, recording's file), QueueCallerAbandon:
  noted, no move. The recording's UserEvent (DialerRecording, sent right after MixMonitor)
  gives the path as Asterisk writes it and starts the recorded time (`ClosedCall.recording_s`).
- AgentComplete: frees the agent's membership, no move.
- At a (re)connect, CoreShowChannels (`dialer.engine.channels.ChannelFacts`): ringing ->
  ring, up or in the queue -> answer, in the queue -> seen_queued, bridged to an agent ->
  connect; a call missing from the list -> end (unobserved).

How a call ends, and the outcomes each ending can give (`ENDINGS`; `classify` applies them):

- hung_up_answered: classify_answered -> machine, opt_out, answered, abandoned, queue_hangup.
- originate_failed: classify_failure (Reason, Hangup causes, DialStatus together) ->
  busy, congestion, no_answer, failed.
- hung_up_no_response: the same rules, but a cause that says nothing is unknown, not
  failed (a call re-tracked after a restart, or whose response was lost) -> busy,
  congestion, no_answer, unknown.
- originate_refused: Asterisk refused the Originate, or it was never sent -> failed.
- unobserved: the end was not seen (engine restart, AMI down, the check after a lost
  Originate outcome): only what is known settles it (`classify_unobserved`) ->
  answered, machine, opt_out, abandoned, unknown.

An answered call's contact is decided when the agent's disposition arrives; every other
outcome is decided by the campaign's rules when the call is closed (`dialer.engine.closing`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from ami import dialplan
from compliance.abandonment import connect_wait_s
from compliance.outcomes import Outcome

# How long a failed OriginateResponse waits for its Hangup (and cause) before closing, and
# a Hangup with nothing answered waits for its OriginateResponse.
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


class Move(StrEnum):
    """What happens to a call, as AMI (or the channel list at a resync) tells it."""

    RING = "ring"
    ANSWER = "answer"
    SEEN_QUEUED = "seen_queued"  # in the queue, as the channel list shows it at a resync
    QUEUE_JOIN = "queue_join"  # QueueCallerJoin
    CONNECT = "connect"
    END = "end"


_LIVE = (Phase.DIALLING, Phase.RINGING, Phase.ANSWERED, Phase.QUEUED, Phase.CONNECTED)

TRANSITIONS: Mapping[tuple[Phase, Move], Phase] = {
    (Phase.DIALLING, Move.RING): Phase.RINGING,
    (Phase.DIALLING, Move.ANSWER): Phase.ANSWERED,
    (Phase.DIALLING, Move.QUEUE_JOIN): Phase.QUEUED,
    (Phase.DIALLING, Move.CONNECT): Phase.CONNECTED,
    (Phase.DIALLING, Move.END): Phase.ENDED,
    (Phase.RINGING, Move.ANSWER): Phase.ANSWERED,
    (Phase.RINGING, Move.QUEUE_JOIN): Phase.QUEUED,
    (Phase.RINGING, Move.CONNECT): Phase.CONNECTED,
    (Phase.RINGING, Move.END): Phase.ENDED,
    (Phase.ANSWERED, Move.SEEN_QUEUED): Phase.QUEUED,
    (Phase.ANSWERED, Move.QUEUE_JOIN): Phase.QUEUED,
    (Phase.ANSWERED, Move.CONNECT): Phase.CONNECTED,
    (Phase.ANSWERED, Move.END): Phase.ENDED,
    (Phase.QUEUED, Move.CONNECT): Phase.CONNECTED,
    (Phase.QUEUED, Move.END): Phase.ENDED,
    # QueueCallerJoin is followed by AgentConnect, never the other way round; if AMI ever
    # said so, the call is shown waiting again (as it always has been).
    (Phase.CONNECTED, Move.QUEUE_JOIN): Phase.QUEUED,
    (Phase.CONNECTED, Move.END): Phase.ENDED,
}


def next_phase(phase: Phase, move: Move) -> Phase:
    """The phase a call in `phase` is in after `move` (unchanged when the table has no row)."""
    return TRANSITIONS.get((phase, move), phase)


def render_transitions() -> str:
    """The transition table as the module docstring shows it."""
    lines = [f"{'from':<12}{'on':<13}to"]
    for (phase, move), to in TRANSITIONS.items():
        lines.append(f"{phase.value:<12}{move.value:<13}{to.value}")
    return "\n".join(lines)


# The moves each AMI event can make, in order (the tracker's handlers make them).
AMI_MOVES: Mapping[str, tuple[Move, ...]] = {
    "Newstate": (Move.RING, Move.ANSWER),
    "DialEnd": (Move.ANSWER,),
    "OriginateResponse": (Move.ANSWER, Move.END),
    "QueueCallerJoin": (Move.ANSWER, Move.QUEUE_JOIN),
    "AgentConnect": (Move.CONNECT,),
    "Hangup": (Move.END,),
    "UserEvent": (Move.ANSWER, Move.QUEUE_JOIN),  # DialerAgentRequest only; the others note facts
    "BridgeEnter": (Move.CONNECT,),  # agent-direct calls only
    "QueueCallerAbandon": (),
    "AgentComplete": (),
}


class Ending(StrEnum):
    HUNG_UP_ANSWERED = "hung_up_answered"
    ORIGINATE_FAILED = "originate_failed"
    HUNG_UP_NO_RESPONSE = "hung_up_no_response"
    ORIGINATE_REFUSED = "originate_refused"
    UNOBSERVED = "unobserved"


# The outcomes each ending can give (a test checks `classify` against it).
ENDINGS: Mapping[Ending, frozenset[Outcome]] = {
    Ending.HUNG_UP_ANSWERED: frozenset({Outcome.MACHINE, Outcome.OPT_OUT, Outcome.ANSWERED,
                                        Outcome.ABANDONED, Outcome.QUEUE_HANGUP}),
    Ending.ORIGINATE_FAILED: frozenset({Outcome.BUSY, Outcome.CONGESTION, Outcome.NO_ANSWER, Outcome.FAILED}),
    Ending.HUNG_UP_NO_RESPONSE: frozenset({Outcome.BUSY, Outcome.CONGESTION, Outcome.NO_ANSWER,
                                           Outcome.UNKNOWN}),
    Ending.ORIGINATE_REFUSED: frozenset({Outcome.FAILED}),
    Ending.UNOBSERVED: frozenset({Outcome.ANSWERED, Outcome.MACHINE, Outcome.OPT_OUT, Outcome.ABANDONED,
                                  Outcome.UNKNOWN}),
}


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
    recording_path: str | None = None  # the file MixMonitor writes, as the dialplan reported it
    recording_at: float | None = None  # engine clock when that report arrived
    agent_id: str | None = None
    channel: str | None = None
    member: tuple[str, str] | None = None  # (queue, interface) while connected
    direct_agent: str | None = None  # an agent-direct call: the one agent it is for
    bridge: str | None = None  # an agent-direct call: the customer's bridge (BridgeUniqueid)
    campaign: str = ""
    fields: dict[str, object] = field(default_factory=dict)  # the contact's, for the screen pop
    contact_zone: str | None = None  # the record's own time zone: the retry's window uses it too
    attempt_no: int = 0
    number_index: int = 0  # which of the contact's numbers `number` is: 0 the main, i its i-th alternate
    script: str = ""  # the campaign's script, for the screen pop
    wall: dict[str, datetime] = field(default_factory=dict)  # UTC instants of each step
    recovered: bool = False  # re-tracked at engine start from the database and Asterisk
    result_observed: bool = False  # its line result already fed to the pacing estimators
    ledger_counted: bool = False  # a live answer in this run's abandonment ledger since its connect

    def stamp(self, step: str) -> None:
        self.wall.setdefault(step, datetime.now(UTC))


def resumed_phase(call: Call) -> Phase:
    """The phase a call re-tracked at engine start resumes in: the furthest step recorded."""
    if call.connected_at is not None:
        return Phase.CONNECTED
    if call.queued_at is not None:
        return Phase.QUEUED
    if call.answered_at is not None:
        return Phase.ANSWERED
    return call.phase


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
    def recording_s(self) -> float | None:
        """Recorded seconds: from the recording's start (its DialerRecording event, sent
        right after MixMonitor) to the call's end (its Hangup); None when the call was not
        recorded, or its start or its hang-up was not seen (re-tracked after a restart, closed
        unobserved): never a guessed length."""
        c = self.call
        if c.recording_path is None or c.recording_at is None or c.ended_at is None:
            return None
        if c.hangup_cause is None:  # no Hangup: the end is when the engine noticed, not the call's
            return None
        return max(0.0, c.ended_at - c.recording_at)

    @property
    def talk_s(self) -> float | None:
        c = self.call
        if c.connected_at is None or c.ended_at is None:
            return None
        return c.ended_at - c.connected_at


def ending_of(call: Call) -> Ending:
    """How a call whose end AMI told (Hangup, OriginateResponse, or their grace) ended."""
    if call.answered_at is not None:
        return Ending.HUNG_UP_ANSWERED
    if call.originate_reason is None and call.originate_failed_at is None:
        return Ending.HUNG_UP_NO_RESPONSE
    return Ending.ORIGINATE_FAILED


def classify(ending: Ending, call: Call, why: str = "") -> tuple[Outcome, str | None]:
    """The outcome (and a note) of `call`, ended as `ending`; `why` says why for the two
    endings AMI did not tell (a refused Originate, an end not seen)."""
    if ending is Ending.HUNG_UP_ANSWERED:
        return classify_answered(call)
    if ending is Ending.ORIGINATE_FAILED:
        return classify_failure(call)
    if ending is Ending.HUNG_UP_NO_RESPONSE:
        # Hung up, and no OriginateResponse came (re-tracked after a restart, or lost):
        # a cause that names the result is enough; Normal Clearing alone says nothing.
        outcome, note = classify_failure(call)
        if outcome is Outcome.FAILED:
            return Outcome.UNKNOWN, f"hung up (cause {call.hangup_cause}) and no originate response was seen"
        return outcome, note
    if ending is Ending.ORIGINATE_REFUSED:
        return Outcome.FAILED, why
    return classify_unobserved(call, why)


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
    if call.queue_status in dialplan.NO_AGENT_STATUSES:  # the safe-harbour message played
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
    if call.queue_status in dialplan.NO_AGENT_STATUSES:  # the safe-harbour message played
        return Outcome.ABANDONED, None
    if call.queued_at is not None:
        return Outcome.QUEUE_HANGUP, None
    return Outcome.QUEUE_HANGUP, "hung up before reaching the queue"
