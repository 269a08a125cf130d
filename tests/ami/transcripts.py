"""A small parser for the real AMI transcripts kept in tests/ami/captures/.

They are captures of a real Asterisk 22.10.1 (copied from ../shared/ami-transcripts/, whose
README is kept beside them): test data, so a fresh clone replays them with no ../shared.

Lines starting ``>>> `` were sent by the client, ``#`` lines are notes, ``#### [X] ####``
switches the connection the following lines belong to, and a blank line ends a message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TRANSCRIPTS = Path(os.environ.get("AMI_TRANSCRIPTS", Path(__file__).resolve().parent / "captures"))


@dataclass
class TMessage:
    conn: str
    sent: bool
    headers: list[tuple[str, str]]

    def get(self, key: str, default: str | None = None) -> str | None:
        for k, v in self.headers:
            if k == key:
                return v
        return default

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.headers)

    @property
    def kind(self) -> str:
        """``Event`` name (``UserEvent/<name>`` for user events) or ``Response``/``Action``."""
        first = self.headers[0][0]
        if first == "Event":
            name = self.headers[0][1]
            if name == "UserEvent":
                return f"UserEvent/{self.get('UserEvent', '')}"
            return name
        return first


def parse_transcript(path: Path) -> list[TMessage]:
    out: list[TMessage] = []
    conn = "A"
    block: list[tuple[str, str]] = []
    sent = False

    def flush() -> None:
        nonlocal block
        if block:
            out.append(TMessage(conn, sent, block))
        block = []

    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.startswith("#### [") and raw.rstrip().endswith("####"):
            flush()
            conn = raw.split("[", 1)[1].split("]", 1)[0]
            continue
        if raw.startswith("#"):
            continue
        if raw.startswith(">>> "):
            if block and not sent:
                flush()
            sent = True
            line = raw[4:]
        else:
            if raw == "":
                flush()
                continue
            if block and sent:
                flush()
            sent = False
            line = raw
        key, sep, value = line.partition(": ")
        if not sep:
            if line.endswith(":"):
                key, value = line[:-1], ""
            else:  # the banner
                continue
        block.append((key, value))
    flush()
    return out


def transcript(name: str) -> list[TMessage]:
    return parse_transcript(TRANSCRIPTS / name)


def all_transcripts() -> list[Path]:
    return sorted(p for p in TRANSCRIPTS.glob("0*.txt") if "summary" not in p.name)


def events(msgs: list[TMessage]) -> list[TMessage]:
    return [m for m in msgs if not m.sent and m.headers[0][0] == "Event"]


def field_variants() -> dict[str, set[tuple[str, ...]]]:
    """Every field-name sequence each event kind has in the real captures."""
    variants: dict[str, set[tuple[str, ...]]] = {}
    for path in all_transcripts():
        for m in events(parse_transcript(path)):
            variants.setdefault(m.kind, set()).add(m.names[1:])
    return variants


KEY_EVENTS = frozenset({
    "Newchannel", "Newstate", "DialBegin", "DialEnd", "OriginateResponse", "Hangup",
    "QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentCalled",
    "AgentConnect", "AgentComplete", "BridgeEnter", "BridgeLeave", "UserEvent",
})


def channel_sequence(evs: list[TMessage], uniqueid: str) -> list[str]:
    """Key events of one channel, by its Uniqueid (or DestUniqueid when it has no caller)."""
    seq = []
    for m in evs:
        name = m.headers[0][1]
        if name not in KEY_EVENTS:
            continue
        uid = m.get("Uniqueid")
        if uid == uniqueid or (uid is None and m.get("DestUniqueid") == uniqueid):
            seq.append(m.kind)
    return seq
