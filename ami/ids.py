"""Identifiers: ActionIDs and originate channel ids.

ActionIDs must never repeat across sessions or process restarts, because
OriginateResponse is broadcast to every AMI session and an old session's ActionID can
reach a new one. `ActionIdGenerator` uses a random per-process prefix plus a counter.

Channel ids (Originate ``ChannelId``/``OtherChannelId``): Asterisk's uniqueness check
compares a *case-insensitive prefix*, so originating ``c-3`` while ``c-37`` is live fails
with Reason 0 ("Channel Unique ID ... already in use") and leaks a hidden channel. Use
ids of one fixed width or UUIDs (`new_channel_id`, `fixed_width_id`); never let one id be
a prefix of another. Asterisk also caps ids at 149 characters.
"""

from __future__ import annotations

import itertools
import os
import secrets
import uuid

MAX_UNIQUEID_LEN = 149


class ActionIdGenerator:
    """``<prefix>-<n>`` with a random 12-hex-digit prefix per generator (per process)."""

    def __init__(self, prefix: str | None = None) -> None:
        self.prefix = prefix or f"{secrets.token_hex(4)}{os.getpid() & 0xFFFF:04x}"
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self.prefix}-{next(self._counter)}"

    def owns(self, action_id: str | None) -> bool:
        return bool(action_id) and action_id.startswith(self.prefix + "-")  # type: ignore[union-attr]


def new_channel_id() -> str:
    """A fresh UUID4 string (36 chars): a safe ChannelId for one attempt."""
    return str(uuid.uuid4())


def fixed_width_id(prefix: str, n: int, width: int = 12) -> str:
    """``prefix`` + zero-padded ``n``: ids of one width never prefix one another."""
    if n < 0 or len(str(n)) > width:
        raise ValueError(f"{n} does not fit in {width} digits")
    return f"{prefix}{n:0{width}d}"


def other_channel_id(channel_id: str) -> str:
    """The id we give the second half of a Local channel (Uniqueid of ``;2``)."""
    return f"{channel_id}-2"


def ids_collide(a: str, b: str) -> bool:
    """True when Asterisk would refuse one id while the other is live (prefix check)."""
    a, b = a.lower(), b.lower()
    return a.startswith(b) or b.startswith(a)
