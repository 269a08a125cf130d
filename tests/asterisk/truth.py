"""What really happened to each attempt, from Asterisk's own events, and the one checker
every fault test ends with: `assert_every_attempt_true`.

The events come from a separate AMI connection (not the engine's), timestamped on arrival,
so they stay true while the engine is killed, cut off or blind. Correlation is the
project's: the Originate's channel id is the attempt id, so the customer channel's
Uniqueid is the attempt id and AgentConnect carries it as Uniqueid or Linkedid.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field

from ami import dialplan
from ami.client import AMIClient
from ami.events import Event
from ami.protocol import Message
from dialer.outputs.metrics import ATTEMPTS, INVALID_LABEL
from tests.asterisk.pbx import Recorder
from tests.engine.harness import fetch, fetchval

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
LOCAL_NUMBER = re.compile(r"^Local/([^@]+)@sim-pstn-[0-9a-f]+;1$")
# Where the checker appends its figures (scripts/bench_faults.py sets it).
RESULTS_ENV = "DIALER_FAULT_RESULTS"


@dataclass
class TimedRecorder(Recorder):
    """A Recorder that also keeps when each event arrived (test clock, monotonic)."""

    at: list[float] = field(default_factory=list)

    def add(self, event: Event) -> None:
        self.events.append(event)
        self.at.append(time.monotonic())


@contextlib.asynccontextmanager
async def timed_recording(client: AMIClient) -> AsyncIterator[TimedRecorder]:
    recorder = TimedRecorder()
    sub = client.subscribe(callback=recorder.add, maxsize=200_000)
    try:
        yield recorder
    finally:
        sub.close()


@dataclass
class Seen:
    """Everything Asterisk said about one attempt."""

    attempt_id: str
    number: str | None = None
    originate: str | None = None  # Success | Failure
    reason: int | None = None
    answered: bool = False
    cause: int | None = None
    hangup_at: float | None = None
    agent: str | None = None
    agent_at: float | None = None
    queue_status: str | None = None
    amd: str | None = None

    def agrees(self, stored: str) -> bool:
        """A failed Originate with neither reason nor cause (the call was torn down, e.g. by
        an Asterisk shutdown, while it rang) is as truly `no_answer` as `failed`."""
        if stored == self.outcome:
            return True
        return (self.outcome == "failed" and stored == "no_answer" and not self.reason and not self.cause)

    @property
    def outcome(self) -> str | None:
        """The outcome Asterisk's events prove, or None when they do not settle it."""
        if self.agent is not None:
            return "answered"
        if self.amd == "MACHINE":
            return "machine"
        if self.originate == "Failure" and not self.answered:
            if self.reason == 5 or self.cause == 17:
                return "busy"
            if self.reason == 8:
                return "congestion"
            if self.reason in (1, 3):
                return "no_answer"
            return "failed"
        if self.answered and self.hangup_at is not None:
            return "abandoned" if self.queue_status == "TIMEOUT" else "queue_hangup"
        return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def what_asterisk_did(recorder: TimedRecorder) -> dict[str, Seen]:
    seen: dict[str, Seen] = {}

    def of(attempt_id: str | None) -> Seen | None:
        if not attempt_id or not UUID.match(attempt_id):
            return None
        return seen.setdefault(attempt_id, Seen(attempt_id))

    for event, at in zip(recorder.events, recorder.at, strict=True):
        name = event.name
        if name == "Newchannel":
            s = of(event.get("Uniqueid"))
            match = LOCAL_NUMBER.match(event.get("Channel") or "")
            if s is not None and match:
                s.number = match.group(1)
        elif name == "OriginateResponse":
            s = of(event.get("Uniqueid"))
            if s is not None:
                s.originate = event.get("Response")
                s.reason = _int(event.get("Reason"))
                s.answered = s.answered or s.originate == "Success"
        elif name == "Newstate":
            s = of(event.get("Uniqueid"))
            if s is not None and event.get("ChannelState") == "6":
                s.answered = True
        elif name == "Hangup":
            s = of(event.get("Uniqueid"))
            if s is not None:
                s.cause = _int(event.get("Cause"))
                s.hangup_at = at
        elif name == "AgentConnect":
            s = of(event.get("Uniqueid")) or of(event.get("Linkedid"))
            if s is not None:
                s.agent = dialplan.agent_from_interface(event.get("Interface") or "") or event.get("MemberName")
                s.agent_at = at
        elif name == "UserEvent":
            s = of(event.get("AttemptId"))
            if s is None:
                continue
            if event.get("UserEvent") == dialplan.USEREVENT_QUEUE_RESULT:
                s.queue_status = (event.get("QueueStatus") or "").upper() or None
            elif event.get("UserEvent") == dialplan.USEREVENT_AMD:
                s.amd = (event.get("Status") or "").upper() or None
    return seen


# --- calls in progress at a moment ----------------------------------------------------------

@dataclass
class Mix:
    """Attempt calls up at one moment, by what the customer's channel was doing."""

    ringing: set[str] = field(default_factory=set)
    answered: set[str] = field(default_factory=set)  # up, not yet in the queue
    queued: set[str] = field(default_factory=set)
    connected: set[str] = field(default_factory=set)

    @property
    def total(self) -> int:
        return len(self.ringing | self.answered | self.queued | self.connected)

    def __str__(self) -> str:
        return (f"ringing {len(self.ringing)}, answered {len(self.answered)}, queued {len(self.queued)},"
                f" connected {len(self.connected)}")


def mix_of(channels: Sequence[Message]) -> Mix:
    """CoreShowChannels items -> the attempts up, by phase (customer `;1` halves only)."""
    mix = Mix()
    for channel in channels:
        uniqueid = channel.get("Uniqueid") or ""
        if not UUID.match(uniqueid):
            continue
        if channel.get("ChannelState") != "6":
            mix.ringing.add(uniqueid)
        elif channel.get("Application") == "Queue":
            (mix.connected if channel.get("BridgeId") else mix.queued).add(uniqueid)
        else:
            mix.answered.add(uniqueid)
    return mix


# --- the checker -----------------------------------------------------------------------------

# Progress reaches the database through the writer's batches (0.1 s, plus the write): a
# connect less than this old when the engine died may not be stored yet.
STORED_WITHIN_S = 1.0


@dataclass
class Figures:
    fault: str
    in_progress: int  # attempt calls up at the fault
    attempts: int
    lost: int  # left open, or a call Asterisk placed with no attempt row
    wrong: int  # a stored outcome or agent Asterisk contradicts
    double_dials: int
    unknown: int = 0  # closed as unknown, with the reason (the call ended unseen)
    problems: list[str] = field(default_factory=list)


@dataclass
class Fault:
    """When the engine could not see (fault_at .. recovered_at, test clock) and what was up."""

    name: str
    at: float
    recovered_at: float
    mix: Mix
    slack_s: float = 3.0  # events this close after recovery may still be in flight
    # Engines that died and never came back: another engine can only close their attempts
    # as unknown (with a note), whenever their calls end.
    gone_engines: frozenset[str] = frozenset()
    calls_up: int | None = None  # when the mix was not taken at the very moment

    @property
    def in_progress(self) -> int:
        return self.mix.total if self.calls_up is None else self.calls_up

    def blind(self, at: float | None) -> bool:
        return at is None or self.at - 0.5 <= at <= self.recovered_at + self.slack_s


async def attempt_rows(url: str) -> list[Mapping[str, object]]:
    return [dict(r) for r in await fetch(
        url, "SELECT a.id::text AS id, a.contact_id, a.number, a.outcome, a.note, a.agent_id,"
        " a.ended_at, a.decided_at, a.engine_id FROM call_attempts a ORDER BY a.originated_at")]


Samples = Mapping[tuple[str, tuple[tuple[str, str], ...]], float]


def metric_problems(scrapes: Sequence[Samples], campaign: str) -> list[str]:
    """The attempts counters must carry the campaign's name: never "invalid", never another."""
    counter = ATTEMPTS
    labels = [dict(key[1]).get("campaign") for samples in scrapes for key in samples if key[0] == counter]
    if not labels:
        return [f"metrics: no {counter} sample at all"]
    bad = sorted({str(label) for label in labels if label != campaign})
    return [f"metrics: {counter} with campaign={label!r}" + (" (label refused)" if label == INVALID_LABEL else "")
            for label in bad]


async def check_every_attempt(
    url: str, recorder: TimedRecorder, fault: Fault, *, campaign: str,
    metrics: Sequence[Samples] = (),
    max_attempts_one: bool = True,
) -> Figures:
    rows = await attempt_rows(url)
    seen = what_asterisk_did(recorder)
    problems: list[str] = []
    lost = wrong = unknown = 0
    for row in rows:
        attempt_id = str(row["id"])
        s = seen.get(attempt_id, Seen(attempt_id))
        truth = s.outcome
        tag = f"attempt {attempt_id[:8]} (number ..{str(row['number'])[-1]})"
        stored = row["outcome"]
        if row["ended_at"] is None:
            lost += 1
            problems.append(f"{tag}: left open; Asterisk: {truth or 'not settled'}")
            continue
        if stored == "unknown":
            unknown += 1
            if not row["note"]:
                problems.append(f"{tag}: closed as unknown without a note; Asterisk: {truth}")
            elif s.agent is not None and s.agent_at is not None and s.agent_at < fault.at - (
                    STORED_WITHIN_S if row["engine_id"] in fault.gone_engines else 0.0):
                # Stored as it happened (within the writer's batch delay): even another engine
                # closing a dead one's attempt knows; the engine that comes back also asks Asterisk.
                problems.append(f"{tag}: closed as unknown ({row['note']}) though it was talking to agent"
                                f" {s.agent} {fault.at - s.agent_at:.2f} s before the fault: stored"
                                f" 'unknown', Asterisk: {truth!r}")
            elif row["engine_id"] in fault.gone_engines:
                pass
            elif truth is not None and not fault.blind(s.hangup_at):
                problems.append(f"{tag}: closed as unknown ({row['note']}) but the call ended while the"
                                f" engine was watching; Asterisk: {truth}")
            continue
        if truth is not None and not s.agrees(str(stored)):
            wrong += 1
            problems.append(f"{tag}: stored {stored!r} ({row['note'] or 'no note'}), Asterisk: {truth!r}"
                            f" (originate {s.originate} reason {s.reason}, cause {s.cause},"
                            f" agent {s.agent}, queue {s.queue_status})")
            continue
        if truth == "answered" and row["agent_id"] != s.agent:
            wrong += 1
            problems.append(f"{tag}: answered by agent {s.agent} but stored agent {row['agent_id']}")
    # Dialled twice: at the database and at Asterisk.
    doubles = 0
    if max_attempts_one:
        per_contact = await fetch(url, "SELECT contact_id, count(*) AS n FROM call_attempts GROUP BY 1 HAVING count(*) > 1")
        doubles += sum(int(r["n"]) - 1 for r in per_contact)
        if per_contact:
            problems.append(f"{len(per_contact)} contacts have more than one attempt (max_attempts 1)")
    overlaps = await fetchval(
        url, "SELECT count(*) FROM call_attempts a JOIN call_attempts b ON a.contact_id = b.contact_id"
        " AND a.id < b.id AND a.originated_at < coalesce(b.ended_at, 'infinity')"
        " AND b.originated_at < coalesce(a.ended_at, 'infinity')")
    if overlaps:
        doubles += int(overlaps)
        problems.append(f"{overlaps} pairs of attempts overlap for one contact")
    by_number: dict[str, set[str]] = {}
    for s in seen.values():
        if s.number:
            by_number.setdefault(s.number, set()).add(s.attempt_id)
    if max_attempts_one:
        for number, ids in by_number.items():
            if len(ids) > 1:
                doubles += len(ids) - 1
                problems.append(f"Asterisk dialled number ..{number[-4:]} {len(ids)} times")
    row_ids = {str(r["id"]) for r in rows}
    unrecorded = sorted(s.attempt_id for s in seen.values() if s.number and s.attempt_id not in row_ids)
    if unrecorded:
        lost += len(unrecorded)
        problems.append(f"{len(unrecorded)} calls Asterisk placed have no attempt row: {unrecorded[:3]}")
    stuck = await fetch(
        url, "SELECT c.state, a.id::text AS attempt, a.engine_id, a.outcome, a.ended_at IS NOT NULL AS ended,"
        " a.decided_at IS NOT NULL AS decided FROM contacts c LEFT JOIN LATERAL (SELECT * FROM call_attempts"
        " WHERE contact_id = c.id ORDER BY originated_at DESC LIMIT 1) a ON true"
        " WHERE c.state IN ('in_call', 'claimed')")
    undialled = await fetchval(url, "SELECT count(*) FROM contacts c WHERE c.state = 'ready'"
                               " AND NOT EXISTS (SELECT 1 FROM call_attempts a WHERE a.contact_id = c.id)")
    if undialled:
        problems.append(f"{undialled} contacts never dialled: the campaign stalled after the fault")
    for r in stuck:
        problems.append(f"a contact still {r['state']} after the calls ended: its last attempt"
                        f" {str(r['attempt'])[:8]} (engine {r['engine_id']}, outcome {r['outcome']},"
                        f" ended {r['ended']}, decided {r['decided']})")
    if metrics:
        problems.extend(metric_problems(metrics, campaign))
    return Figures(fault.name, fault.in_progress, len(rows), lost, wrong, doubles, unknown, problems)


def _record(figures: Figures) -> None:
    path = os.environ.get(RESULTS_ENV)
    if path:
        with open(path, "a") as handle:
            handle.write(json.dumps(asdict(figures)) + "\n")


async def assert_every_attempt_true(
    url: str, recorder: TimedRecorder, fault: Fault, *, campaign: str,
    metrics: Sequence[Samples] = (),
    max_attempts_one: bool = True,
) -> Figures:
    """Every attempt closed, true to what Asterisk did (or unknown with a note when the call
    ended while the engine was blind), answered calls with their agent, nobody dialled twice,
    metrics under the campaign's name. Records the figures, then fails listing every problem."""
    figures = await check_every_attempt(url, recorder, fault, campaign=campaign, metrics=metrics,
                                        max_attempts_one=max_attempts_one)
    _record(figures)
    assert not figures.problems, (
        f"{fault.name} (at the fault: {fault.mix}):\n  " + "\n  ".join(figures.problems)
    )
    return figures
