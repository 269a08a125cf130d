"""The real broker (DIALER_TEST_MQTT_URL, default mqtt://127.0.0.1:1883) and private ones."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from dialer.outputs.bus import MqttSettings


@pytest.fixture
def broker_url() -> str:
    url = os.environ.get("DIALER_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
    s = MqttSettings.from_url(url)
    try:
        socket.create_connection((s.host, s.port), timeout=2).close()
    except OSError:
        pytest.skip(f"no MQTT broker at {s.redacted()}")
    return url


@pytest.fixture
def engine_id() -> str:
    # unique per test: engines use persistent sessions keyed by their id
    return f"test-{uuid.uuid4().hex[:8]}"


@dataclass
class Subscriber:
    """Collects JSON messages from one topic filter."""

    messages: asyncio.Queue[tuple[str, Any, bool]] = field(default_factory=asyncio.Queue)

    async def next(self) -> tuple[str, Any, bool]:
        # a guard against hanging, not a timing assertion
        return await asyncio.wait_for(self.messages.get(), 20)


@contextlib.asynccontextmanager
async def subscribe(url: str, topic: str, **client: Any) -> AsyncIterator[Subscriber]:
    settings = MqttSettings.from_url(url)
    sub = Subscriber()
    async with aiomqtt.Client(**settings.client_kwargs(), **client) as c:
        await c.subscribe(topic, qos=1)

        async def pump() -> None:
            async for m in c.messages:
                body = m.payload if isinstance(m.payload, bytes) else b""
                try:
                    data = json.loads(body) if body else None
                except ValueError:
                    data = body.decode(errors="replace")
                await sub.messages.put((str(m.topic), data, m.retain))

        task = asyncio.create_task(pump())
        try:
            yield sub
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateBroker:
    """Our own mosquitto on a free port, with persistence so sessions survive a restart."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.config = directory / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            # started as root, mosquitto would drop to user "mosquitto" and fail to save
            f"user {getpass.getuser()}\n"
            f"persistence_location {directory}/\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen(
            [binary, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(200):  # until it listens (or exits)
            if self.process.poll() is not None:
                raise RuntimeError("mosquitto exited at start")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                subprocess.run(["sleep", "0.05"], check=False)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: mosquitto saves its sessions
            self.process.wait(10)
        self.process = None


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    if not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        pytest.skip("mosquitto is not installed")
    broker = PrivateBroker(tmp_path)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
