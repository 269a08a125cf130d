"""A deliberately plain AMI client for tests: raw socket, no ami.client involved."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

from ami.protocol import Message, parse_message
from tests.ami.transcripts import TMessage

_ids = itertools.count(1)


class RawAMI:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.messages: list[Message] = []
        self.banner = ""
        self.closed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._new = asyncio.Event()

    @classmethod
    async def connect(cls, port: int, login: bool = True, events: str = "on") -> RawAMI:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        self = cls(reader, writer)
        self.banner = (await reader.readuntil(b"\r\n")).decode().strip()
        self._task = asyncio.create_task(self._read())
        if login:
            resp = await self.action("Login", Username="dialer", Secret="dialer", Events=events)
            assert resp.get("Response") == "Success", resp.headers
        return self

    async def _read(self) -> None:
        try:
            while True:
                raw = await self.reader.readuntil(b"\r\n\r\n")
                try:
                    self.messages.append(parse_message(raw))
                except ValueError:
                    continue
                self._new.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.closed.set()
            self._new.set()

    def send_raw(self, headers: list[tuple[str, str]]) -> None:
        self.writer.write("".join(f"{k}: {v}\r\n" for k, v in headers).encode() + b"\r\n")

    async def action(self, name: str, *, action_id: str | None = None,
                     extra: list[tuple[str, str]] | None = None, **headers: str) -> Message:
        aid = action_id or f"t-{next(_ids)}"
        pairs = [("Action", name), ("ActionID", aid), *headers.items(), *(extra or [])]
        self.send_raw(pairs)
        return await self.response(aid)

    async def response(self, aid: str) -> Message:
        return await self.wait_for(
            lambda m: m.get("ActionID") == aid and "Response" in m and m.event is None)

    async def wait_for(self, pred: Callable[[Message], bool], limit: float = 30.0) -> Message:
        async def scan() -> Message:
            seen = 0
            while True:
                for m in self.messages[seen:]:
                    if pred(m):
                        return m
                seen = len(self.messages)
                if self.closed.is_set():
                    raise ConnectionError("closed")
                self._new.clear()
                await self._new.wait()
        return await asyncio.wait_for(scan(), limit)

    async def sync(self) -> None:
        """Round-trip a Ping: every event written before it has then been read."""
        await self.action("Ping")

    async def close(self) -> None:
        self.writer.close()
        if self._task is not None:
            self._task.cancel()

    def events(self) -> list[TMessage]:
        return [to_tmessage(m) for m in self.messages if m.event is not None]


def to_tmessage(m: Message, conn: str = "A") -> TMessage:
    return TMessage(conn, False, list(m.headers))


async def wait_until(pred: Callable[[], bool], limit: float = 30.0) -> None:
    async def loop() -> None:
        while not pred():  # noqa: ASYNC110 - polling simulator state
            await asyncio.sleep(0.005)
    await asyncio.wait_for(loop(), limit)
