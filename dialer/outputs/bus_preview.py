"""Preview answers over MQTT: what an agent desktop sends on dialer/agents/<id>/preview.

The shape is checked here (`PreviewAnswer.parse`); the meaning (the offer exists, was made
to this agent, is still open, more time is left) by the engine's side, a `PreviewSink`
(`dialer.outputs.observers.DatabasePreviewSink`, through `dialer.agents.offers`). Either
refuses with `PreviewRejected`; the bus answers on dialer/agents/<id>/errors. `json_object`
reads any desktop payload (dispositions too) as a bounded JSON object of known keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

MAX_ANSWER_BYTES = 1024
ACTIONS = ("accept", "skip", "more_time")


def json_object(payload: bytes, max_bytes: int, keys: set[str]) -> dict[str, Any]:
    """What a desktop sent, as a JSON object of known keys; ValueError says what is wrong.
    (Its meaning is the receiver's to check.)"""
    if len(payload) > max_bytes:
        raise ValueError(f"payload larger than {max_bytes} bytes")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("payload is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("payload must be a JSON object")
    unknown = set(data) - keys
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
    return data


class PreviewRejected(Exception):
    """An answer that must not be applied; `code` is machine-readable, `message` for people.

    Codes: malformed, no_offer, unknown_offer, wrong_agent, already_decided, expired,
    no_more_time, unavailable (the dialer could not check it: try again).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class PreviewAnswer:
    """{"offer_id": int, "action": "accept" | "skip" | "more_time"}"""

    offer_id: int
    action: str

    @classmethod
    def parse(cls, payload: bytes) -> PreviewAnswer:
        try:
            data = json_object(payload, MAX_ANSWER_BYTES, {"offer_id", "action"})
        except ValueError as exc:
            raise PreviewRejected("malformed", str(exc)) from None
        offer_id = data.get("offer_id")
        if isinstance(offer_id, bool) or not isinstance(offer_id, int) or offer_id <= 0:
            raise PreviewRejected("malformed", "offer_id must be the offer's number")
        action = data.get("action")
        if action not in ACTIONS:
            raise PreviewRejected("malformed", f"action must be one of {', '.join(ACTIONS)}")
        return cls(offer_id, str(action))


class PreviewSink(Protocol):
    """The engine's side: check and store an agent's answer, or raise PreviewRejected."""

    async def apply(self, agent_id: str, answer: PreviewAnswer) -> None: ...
