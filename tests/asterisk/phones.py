"""Agents on real SIP softphones: one baresip process per agent, registered to the rig's
PJSIP transport and driven over its `ctrl_tcp` socket (netstring-framed JSON).

Each phone gets a config folder and loopback ports of its own: a SIP port (baresip binds UDP
and TCP on it and TLS on the next one, so both must be free), a control port and a short RTP
range. The password is pjsip.conf's `change-me-<id>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests.asterisk.rig import AsteriskRig, free_port

BARESIP = shutil.which("baresip")
SKIP_REASON = "SIP phone tests skipped: baresip is not installed (apt-get install baresip-core)"
MODULES = Path("/usr/lib/baresip/modules")

_taken: set[int] = set()  # ports handed to phones of this session, started or not


def _port_pair() -> int:
    """A port free for UDP+TCP whose next port is free for TCP, not given out before."""
    while True:
        port = free_port()
        if {port, port + 1} & _taken:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        _taken.update({port, port + 1})
        return port


def _port() -> int:
    while True:
        port = free_port()
        if port not in _taken:
            _taken.add(port)
            return port


def _netstring(payload: dict[str, str]) -> bytes:
    body = json.dumps(payload).encode()
    return f"{len(body)}:".encode() + body + b","


class Phone:
    """One agent's softphone."""

    def __init__(self, agent_id: str, rig: AsteriskRig, workdir: Path) -> None:
        self.agent_id = agent_id
        self.rig = rig
        self.dir = workdir / f"phone-{agent_id}"
        self.sip_port = _port_pair()
        self.ctrl_port = _port()
        rtp = _port_pair() & ~1  # RTP wants an even port; RTCP takes the odd one after it
        self.rtp_range = (rtp, rtp + 9)
        _taken.update(range(rtp, rtp + 10))
        self.process: asyncio.subprocess.Process | None = None
        self.events: list[dict[str, Any]] = []
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._token = 0

    def _write_config(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "config").write_text(
            "poll_method epoll\n"
            f"sip_listen 127.0.0.1:{self.sip_port}\n"
            # No sound card: a sine tone is the agent's voice, nothing plays what he hears.
            "audio_player alsa,null\n"
            "audio_source ausine,440\n"
            "audio_alert alsa,null\n"
            "ausrc_srate 48000\n"  # ausine wants 48 kHz stereo
            "ausrc_channels 2\n"
            f"rtp_ports {self.rtp_range[0]}-{self.rtp_range[1]}\n"
            f"module_path {MODULES}\n"
            "module g711.so\n"
            "module alsa.so\n"
            "module ausine.so\n"
            "module_tmp account.so\n"
            "module_app menu.so\n"
            "module_app ctrl_tcp.so\n"
            f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}\n"
        )
        (self.dir / "accounts").write_text(
            f"<sip:{self.agent_id}@127.0.0.1:{self.rig.sip_port}>;auth_pass=change-me-{self.agent_id}"
            ";audio_codecs=pcmu,pcma;regint=300;answermode=manual\n"
        )
        (self.dir / "contacts").write_text("")

    # --- process -------------------------------------------------------------------------

    async def start(self, within: float = 15.0) -> None:
        assert BARESIP is not None, SKIP_REASON
        self._write_config()
        with (self.dir / "out.log").open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                BARESIP, "-f", str(self.dir), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + within
        while True:
            if self.process.returncode is not None:
                raise RuntimeError(f"baresip for {self.agent_id} exited with {self.process.returncode};"
                                   f" see {self.dir / 'out.log'}")
            try:
                reader, self._writer = await asyncio.open_connection("127.0.0.1", self.ctrl_port)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
        self._reader_task = asyncio.create_task(self._read(reader))

    async def stop(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.command("quit"), 2)
            self._writer.close()
        if self._reader_task is not None:
            self._reader_task.cancel()
            await asyncio.gather(self._reader_task, return_exceptions=True)
        process = self.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()

    # --- ctrl_tcp ------------------------------------------------------------------------

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                length = int((await reader.readuntil(b":"))[:-1])
                body = await reader.readexactly(length + 1)  # the payload and its ','
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            message = json.loads(body[:-1])
            if message.get("response"):
                future = self._replies.pop(str(message.get("token")), None)
                if future is not None and not future.done():
                    future.set_result(message)
            else:
                self.events.append(message)

    async def command(self, command: str, params: str = "", within: float = 5.0) -> dict[str, Any]:
        """Run a baresip command (`dial`, `sndcode`, `hangup`, `listcalls`, `reginfo`...)."""
        assert self._writer is not None, "phone not started"
        self._token += 1
        token = str(self._token)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[token] = future
        self._writer.write(_netstring({"command": command, "params": params, "token": token}))
        await self._writer.drain()
        reply = await asyncio.wait_for(future, within)
        if not reply.get("ok", False):
            raise RuntimeError(f"baresip {command} {params!r}: {reply.get('data')}")
        return reply

    async def wait_event(self, kind: str, within: float) -> dict[str, Any]:
        """The first event of this type (REGISTER_OK, CALL_ESTABLISHED, CALL_CLOSED...)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for event in self.events:
                if event.get("type") == kind:
                    return event
            await asyncio.sleep(0.05)
        raise AssertionError(f"phone {self.agent_id}: no {kind} within {within:g}s; got "
                             f"{[e.get('type') for e in self.events]}")

    def seen(self, kind: str) -> int:
        return sum(1 for event in self.events if event.get("type") == kind)

    # --- what an agent does --------------------------------------------------------------

    async def register(self, within: float = 10.0) -> None:
        """Registered: `reginfo` lists the account as OK (the REGISTER_OK event may come
        before the control connection is up)."""
        deadline = time.monotonic() + within
        while True:
            info = str((await self.command("reginfo")).get("data", ""))
            if "OK " in info or self.seen("REGISTER_OK"):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"phone {self.agent_id} not registered within {within:g}s: {info!r}")
            await asyncio.sleep(0.1)

    async def dial(self, number: str) -> None:
        await self.command("dial", number)

    async def press(self, keys: str) -> None:
        await self.command("sndcode", keys)

    async def hang_up(self) -> None:
        await self.command("hangup")


@contextlib.asynccontextmanager
async def phones(rig: AsteriskRig, workdir: Path, agent_ids: list[str]) -> AsyncIterator[dict[str, Phone]]:
    """Started, registered phones for these agents, stopped at the end of the block."""
    started: dict[str, Phone] = {}
    try:
        for agent_id in agent_ids:
            phone = started[agent_id] = Phone(agent_id, rig, workdir)
            await phone.start()
        for phone in started.values():
            await phone.register()
        yield started
    finally:
        for phone in started.values():
            await phone.stop()
