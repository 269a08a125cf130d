"""The simulator's AMI sessions: the TCP connection loop, responses and the event fan-out."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from ami.sim.stats import SimStats

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
GARBLED = b"\x00\xff\xfeGARBLED \x01 no separator here\r\n%%%\r\n\r\n"

#: reads one action (its header lines in order) from a session
Dispatch = Callable[["Session", list[tuple[str, str]]], Awaitable[None]]


class Session:
    """One AMI connection: login state and the event classes it asked for."""

    __slots__ = ("writer", "authed", "classes", "challenge", "username", "closed")

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.authed = False
        self.classes: frozenset[str] | None = frozenset()  # None = all, empty = off
        self.challenge: str | None = None
        self.username = ""
        self.closed = False

    def wants(self, cls: str) -> bool:
        if not self.authed or self.closed:
            return False
        return self.classes is None or cls in self.classes

    def write(self, data: bytes) -> None:
        if not self.closed:
            try:
                self.writer.write(data)
            except (ConnectionError, RuntimeError):
                self.closed = True


def parse_request(raw: bytes) -> list[tuple[str, str]]:
    out = []
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        if not line:
            continue
        k, sep, v = line.partition(":")
        if sep:
            out.append((k.strip(), v.strip()))
    return out


class AmiTransport:
    """Every session of the simulator, what is written to them, and the connection faults.

    ``response_delay`` (seconds, real time) and ``silent`` (read actions, answer nothing:
    a half-dead connection) apply to responses; events always go out.
    """

    def __init__(self, stats: SimStats) -> None:
        self.stats = stats
        self.sessions: set[Session] = set()
        self.response_delay = 0.0
        self.silent = False
        self._listeners: list[Callable[[bytes], None]] = []

    # ------------------------------------------------------------------ connections
    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                    dispatch: Dispatch) -> None:
        sess = Session(writer)
        self.sessions.add(sess)
        self.stats.connections += 1
        writer.write(BANNER)
        try:
            while not sess.closed:
                try:
                    raw = await reader.readuntil(b"\r\n\r\n")
                except asyncio.LimitOverrunError:
                    break
                headers = parse_request(raw)
                if not headers:
                    continue
                await dispatch(sess, headers)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            sess.closed = True
            self.sessions.discard(sess)
            with contextlib.suppress(Exception):
                writer.close()

    def close_all(self) -> None:
        """Close every session (the simulator stops)."""
        for sess in list(self.sessions):
            sess.closed = True
            sess.writer.close()

    def hang_up_all(self) -> None:
        """Close every session after a shutdown's last event, and forget them."""
        for sess in list(self.sessions):
            sess.closed = True
            with contextlib.suppress(Exception):
                sess.writer.close()
        self.sessions.clear()

    def drop_connections(self) -> None:
        """Abort every AMI connection at once (calls go on, like a network drop)."""
        for sess in list(self.sessions):
            sess.closed = True
            transport = sess.writer.transport
            transport.abort()
        self.sessions.clear()

    def send_garbled(self) -> None:
        """Write a malformed message to every logged-in session."""
        for sess in list(self.sessions):
            if sess.authed:
                sess.write(GARBLED)

    # ------------------------------------------------------------------ events
    def on_event_bytes(self, listener: Callable[[bytes], None]) -> None:
        self._listeners.append(listener)

    def emit(self, name: str, privilege: str, body: str, *, timestamp: bool = True) -> None:
        head = f"Event: {name}\r\nPrivilege: {privilege}\r\n"
        if timestamp:
            head += f"Timestamp: {time.time():.6f}\r\n"
        data = (head + body + "\r\n").encode("utf-8")
        self.stats.events += 1
        cls = privilege.partition(",")[0]
        for sess in self.sessions:
            if sess.wants(cls):
                sess.write(data)
        for listener in self._listeners:
            listener(data)

    # ------------------------------------------------------------------ responses
    def respond(self, sess: Session, text: str) -> None:
        if self.silent:
            return
        data = text.encode("utf-8")
        if self.response_delay > 0:
            asyncio.get_running_loop().call_later(self.response_delay, sess.write, data)
        else:
            sess.write(data)

    def ok(self, sess: Session, aid: str | None, message: str | None = None,
           extra: str = "") -> None:
        text = "Response: Success\r\n"
        if aid is not None:
            text += f"ActionID: {aid}\r\n"
        if message is not None:
            text += f"Message: {message}\r\n"
        self.respond(sess, text + extra + "\r\n")

    def err(self, sess: Session, aid: str | None, message: str) -> None:
        text = "Response: Error\r\n"
        if aid is not None:
            text += f"ActionID: {aid}\r\n"
        self.respond(sess, text + f"Message: {message}\r\n\r\n")

    def send_list(self, sess: Session, aid: str | None, message: str, items: list[str],
                  complete: str, extra: str = "") -> None:
        """An EventList response: start, the items, then ``complete`` with ListItems."""
        a = f"ActionID: {aid}\r\n" if aid is not None else ""
        out = [f"Response: Success\r\n{a}EventList: start\r\nMessage: {message}\r\n\r\n"]
        out += items
        out.append(f"Event: {complete}\r\n{a}EventList: Complete\r\nListItems: {len(items)}\r\n"
                   f"{extra}\r\n")
        self.respond(sess, "".join(out))
