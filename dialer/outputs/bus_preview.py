"""Preview answers over MQTT: what an agent desktop sends on dialer/agents/<id>/preview.

The shape is checked here (`PreviewAnswer.parse`); the meaning (the offer exists, was made
to this agent, is still open, more time is left) by the engine's side, a `PreviewSink`
(`dialer.outputs.observers.DatabasePreviewSink`, through `dialer.agents.offers`). Either
refuses with `PreviewRejected`; the bus answers on dialer/agents/<id>/errors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

MAX_ANSWER_BYTES = 1024
ACTIONS = ("accept", "skip", "more_time")


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
        if len(payload) > MAX_ANSWER_BYTES:
            raise PreviewRejected("malformed", f"payload larger than {MAX_ANSWER_BYTES} bytes")
        try:
            data = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise PreviewRejected("malformed", "payload is not JSON") from None
        if not isinstance(data, dict):
            raise PreviewRejected("malformed", "payload must be a JSON object")
        unknown = set(data) - {"offer_id", "action"}
        if unknown:
            raise PreviewRejected("malformed", f"unknown keys: {', '.join(sorted(unknown))}")
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
