"""Tools to break things around a real Asterisk: an engine in its own process (to SIGKILL),
a TCP proxy to cut the AMI connection, a private PostgreSQL cluster to restart."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from ami.client import AMIClient
from dialer.outputs.metrics import parse_exposition
from tests.asterisk.rig import AMI_SECRET, AMI_USER, free_port
from tests.asterisk.truth import Mix, mix_of
from tests.engine.harness import fetchval

log = logging.getLogger(__name__)
PG_BIN = Path(os.environ.get("DIALER_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


# --- an engine process ------------------------------------------------------------------------

class EngineProcess:
    """`dialer run` in a subprocess against the rig, with its metrics endpoint on a free port."""

    def __init__(self, url: str, ami_port: int, engine_id: str, log_path: Path) -> None:
        self.url, self.ami_port, self.engine_id, self.log_path = url, ami_port, engine_id, log_path
        self.metrics_port = free_port()
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> EngineProcess:
        env = {
            **os.environ,  # PYTHONPATH: the worktree's code, not an installed copy
            "DIALER_DATABASE_URL": self.url,
            "DIALER_AMI_PORT": str(self.ami_port),
            "DIALER_AMI_USERNAME": AMI_USER,
            "DIALER_AMI_SECRET": AMI_SECRET,
            "DIALER_ENGINE_ID": self.engine_id,
            "DIALER_METRICS_PORT": str(self.metrics_port),
            "DIALER_LOG_LEVEL": "INFO",
        }
        for name in ("DIALER_SETTINGS_FILE", "DIALER_MQTT_URL"):
            env.pop(name, None)
        log = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "dialer.cli.main", "run", "--disposition-timeout", "2", "--drain-timeout", "30",
            env=env, stdout=log, stderr=log,
        )
        log.close()
        return self

    async def running(self) -> bool:
        """Connected to AMI and past its first resync: its heartbeat says so."""
        status = await fetchval(self.url, "SELECT status FROM engines WHERE id = $1 AND pid = $2",
                                self.engine_id, self.process.pid if self.process else -1)
        if isinstance(status, str):  # a plain connection has no jsonb codec
            status = json.loads(status)
        return bool(status and status.get("ami_connected"))

    async def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.metrics_port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        await writer.drain()
        body = await reader.read()
        writer.close()
        return parse_exposition(body.partition(b"\r\n\r\n")[2].decode())

    async def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        await self.process.wait()

    async def stop(self) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 60)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return int(self.process.returncode or 0)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


# --- watching Asterisk --------------------------------------------------------------------------

async def wait_for_mix(client: AMIClient, within: float, *, ringing: int = 1, queued: int = 1,
                       connected: int = 1) -> Mix:
    """Poll CoreShowChannels until the calls up include the wanted phases; the last mix seen
    is in the error if they never do."""
    deadline = time.monotonic() + within
    mix = Mix()
    while time.monotonic() < deadline:
        mix = mix_of(await client.core_show_channels())
        if len(mix.ringing) >= ringing and len(mix.queued) >= queued and len(mix.connected) >= connected:
            return mix
        await asyncio.sleep(0.2)
    raise AssertionError(f"never saw ringing {ringing}, queued {queued}, connected {connected} together;"
                         f" last: {mix}")


async def no_attempt_calls_up(client: AMIClient) -> bool:
    try:
        return mix_of(await client.core_show_channels()).total == 0
    except Exception:  # noqa: BLE001 - reconnecting: not settled yet
        return False


async def settle(url: str, client: AMIClient, within: float) -> bool:
    """Wait until no call is up in Asterisk, no attempt is open and no contact waits to be
    dialled; False (not an error) when it does not happen: the checker says what is wrong."""
    deadline = time.monotonic() + within
    open_ = waiting = None
    while time.monotonic() < deadline:
        open_ = await fetchval(url, "SELECT count(*) FROM call_attempts WHERE ended_at IS NULL")
        # in_call too: an answered call's contact waits for its (system) disposition
        waiting = await fetchval(url, "SELECT count(*) FROM contacts WHERE state IN ('claimed', 'in_call')"
                                 " OR (state = 'ready' AND coalesce(next_attempt_at, now()) <= now())")
        if open_ == 0 and waiting == 0 and await no_attempt_calls_up(client):
            return True
        await asyncio.sleep(0.3)
    log.warning("not settled after %gs: %s attempts open, %s contacts waiting", within, open_, waiting)
    return False


# --- a cuttable AMI connection ----------------------------------------------------------------

class TcpProxy:
    """Forwards a loopback port to Asterisk's AMI; `cut()` drops every connection through it
    (both sides see a reset) while new connections are still accepted."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._refuse_until = 0.0

    async def __aenter__(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if time.monotonic() < self._refuse_until:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.connections += 1
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    def cut(self, refuse_for: float = 0.0) -> None:
        """Drop every connection; refuse new ones for `refuse_for` seconds (a network outage)."""
        self._refuse_until = time.monotonic() + refuse_for
        for writer in list(self._writers):
            transport = writer.transport
            transport.abort()
        self._writers.clear()


# --- a PostgreSQL cluster of the test's own --------------------------------------------------

class PrivatePostgres:
    """initdb + pg_ctl in a temporary directory on a free port. initdb refuses root, so as
    root the cluster runs as the `postgres` user in a directory it owns."""

    def __init__(self, bin_dir: Path = PG_BIN) -> None:
        self.bin = bin_dir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="dialer-faults-pg-"))
        self.data = self.dir / "data"
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
            self.dir.chmod(0o755)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stdout[-1000:]} {done.stderr[-1000:]}")

    def init(self) -> PrivatePostgres:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.dir}'\nfsync = off\n")
        return self

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def remove(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.asynccontextmanager
async def private_postgres() -> AsyncIterator[PrivatePostgres]:
    cluster = PrivatePostgres()
    try:
        await asyncio.to_thread(cluster.init)
        await asyncio.to_thread(cluster.start)
        yield cluster
    finally:
        await asyncio.to_thread(cluster.remove)

