"""AMI wire format: framing, parsing and encoding.

An AMI message is a run of ``Key: Value`` lines ended by ``\\r\\n``, terminated by an
empty line (``\\r\\n\\r\\n``). The server opens with a one-line banner
(``Asterisk Call Manager/11.0.0``) that is *not* blank-line terminated.

- `Message` keeps every header in order, repeated keys included (``Variable:`` can occur
  several times); ``msg["Key"]`` / ``msg.get("Key")`` return the *first* value,
  ``msg.getall("Key")`` every value.
- `parse_message(raw)` turns one framed block (bytes, terminator optional) into a
  `Message`, or raises `MalformedMessage`. Bytes are decoded once per complete block, so a
  multi-byte UTF-8 character split across two TCP reads is never damaged (the reader
  only ever hands over whole frames); invalid UTF-8 is replaced, not fatal.
- `MessageReader` wraps an `asyncio.StreamReader`: ``await reader.read_banner()`` then
  ``await reader.next()`` in a loop. Malformed or over-long frames are logged and
  skipped, and the stream goes on; EOF raises `asyncio.IncompleteReadError`.
- `encode_action(pairs)` builds the bytes of an action (or any message).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator

log = logging.getLogger("ami.protocol")

TERMINATOR = b"\r\n\r\n"
#: Largest single message accepted before it is skipped as garbage.
MAX_MESSAGE = 1 << 20


class MalformedMessage(ValueError):
    """A framed block that is not a valid AMI message."""


class Message:
    """One AMI message: ordered ``(key, value)`` headers with dict-like first-value access.

    The key -> first value map is built on first use, so messages nobody looks into
    (filtered-out events) cost only their parsing.
    """

    __slots__ = ("headers", "_d")

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        self.headers = headers
        self._d: dict[str, str] | None = None

    @property
    def _first(self) -> dict[str, str]:
        d = self._d
        if d is None:
            # dict(reversed(...)) keeps the first value of a repeated key
            d = self._d = dict(reversed(self.headers))
        return d

    # -- dict-like access -------------------------------------------------------
    def __getitem__(self, key: str) -> str:
        return self._first[key]

    def __contains__(self, key: object) -> bool:
        return key in self._first

    def get(self, key: str, default: str | None = None) -> str | None:
        d = self._d
        if d is None:
            d = self._d = dict(reversed(self.headers))
        return d.get(key, default)

    def getall(self, key: str) -> list[str]:
        return [v for k, v in self.headers if k == key]

    def keys(self) -> list[str]:
        """Header names in order, repeats included."""
        return [k for k, _ in self.headers]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.headers)

    def __len__(self) -> int:
        return len(self.headers)

    def as_dict(self) -> dict[str, str]:
        return dict(self._first)

    # -- classification ---------------------------------------------------------
    @property
    def event(self) -> str | None:
        k, v = self.headers[0]
        return v if k == "Event" else self.get("Event")

    @property
    def response(self) -> str | None:
        return self.get("Response")

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    def __repr__(self) -> str:
        head = self.headers[0] if self.headers else ("", "")
        return f"<Message {head[0]}={head[1]} ({len(self.headers)} headers)>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and other.headers == self.headers

    __hash__ = None  # type: ignore[assignment]


def parse_message(raw: bytes) -> Message:
    """Parse one framed AMI block (with or without its ``\\r\\n\\r\\n`` terminator)."""
    text = raw.decode("utf-8", "replace")
    if text.endswith("\r\n\r\n"):
        text = text[:-4]
    # Fast path: every line is "Key: Value" (what Asterisk sends).
    parts = [line.partition(": ") for line in text.split("\r\n")]
    headers = [(k, v) for k, sep, v in parts if sep]
    if len(headers) != len(parts):
        headers = _parse_lenient(text)
    k0 = headers[0][0]
    if k0 != "Event" and k0 != "Response" and k0 != "Action":
        keys = {k for k, _ in headers}
        if "Event" not in keys and "Response" not in keys and "Action" not in keys:
            raise MalformedMessage(f"message has no Event/Response/Action header: {k0!r}")
    return Message(headers)


def _parse_lenient(text: str) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for line in text.split("\r\n"):
        if not line:
            continue
        key, sep, value = line.partition(": ")
        if not sep:
            # "Key:" with nothing after the colon (Asterisk writes "Key: " for empty
            # values, but be lenient).
            if line.endswith(":") and " " not in line and len(line) > 1:
                headers.append((line[:-1], ""))
                continue
            raise MalformedMessage(f"line without ': ' separator: {line[:80]!r}")
        if not key or " " in key:
            raise MalformedMessage(f"bad header name: {key[:80]!r}")
        headers.append((key, value))
    if not headers:
        raise MalformedMessage("empty message")
    return headers


def encode_action(pairs: Iterable[tuple[str, str]]) -> bytes:
    """Encode headers as one AMI message. Values must not contain CR/LF."""
    parts = []
    for k, v in pairs:
        v = str(v)
        if "\r" in v or "\n" in v:
            raise ValueError(f"header {k!r} value contains a line break")
        parts.append(f"{k}: {v}\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("utf-8")


class MessageReader:
    """Reads framed AMI messages from a StreamReader, skipping malformed ones.

    ``skipped`` counts frames that were dropped (malformed or larger than MAX_MESSAGE).
    """

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self.skipped = 0

    async def read_banner(self) -> str:
        """Read the server greeting line, e.g. ``Asterisk Call Manager/11.0.0``."""
        line = await self._reader.readuntil(b"\r\n")
        return line[:-2].decode("utf-8", "replace")

    async def next(self) -> Message:
        """Return the next well-formed message; raises IncompleteReadError at EOF."""
        readuntil = self._reader.readuntil
        while True:
            try:
                raw = await readuntil(TERMINATOR)
            except asyncio.LimitOverrunError as exc:
                # Drop the over-long data up to (and including) the next terminator.
                self.skipped += 1
                log.warning("AMI message over the reader limit (%d bytes): skipped", exc.consumed)
                await self._discard_until_terminator(exc.consumed)
                continue
            try:
                return parse_message(raw)
            except MalformedMessage as exc:
                self.skipped += 1
                log.warning("malformed AMI message skipped: %s", exc)

    async def _discard_until_terminator(self, consumed: int) -> None:
        reader = self._reader
        await reader.readexactly(max(consumed - 3, 0))
        while True:
            try:
                await reader.readuntil(TERMINATOR)
                return
            except asyncio.LimitOverrunError as exc:
                await reader.readexactly(max(exc.consumed - 3, 1))
