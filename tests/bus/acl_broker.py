"""A private Mosquitto run from the SHIPPED deploy/mosquitto files (issue 14's broker ACL).

mosquitto.conf is rewritten only where a test must differ from a deployment: the two
listeners' ports (both on loopback), the config and data paths, and the user to run as.
The acl file is used as it is. Every rewrite must find its line: a changed shipped file
fails here loudly instead of testing something else.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from paho.mqtt.reasoncodes import ReasonCode

from dialer.agents.mqtt_logins import hash_password, write_password_file
from tests.bus.conftest import free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"
BINARY = "/usr/sbin/mosquitto"

ENGINE_USER, ENGINE_PASSWORD = "dialer", "engine-secret"
AGENT_PASSWORDS = {"1001": "pw-1001", "1002": "pw-1002"}


def mosquitto_binary() -> str:
    """The broker binary, or the test skips with one line saying what is missing."""
    binary = shutil.which("mosquitto") or (BINARY if Path(BINARY).exists() else None)
    if binary is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto): broker ACL tests skipped")
    return binary


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, f"deploy/mosquitto/mosquitto.conf no longer has {old!r}"
    return text.replace(old, new)


@dataclass
class AclBroker:
    directory: Path
    engine_port: int = 0
    agent_port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def configure(self, logins: Mapping[str, str] | None = None, password_file: Path | None = None) -> None:
        """The shipped files under `directory`; the password file from `logins` (clear
        passwords, hashed by the dialer's own code) or copied from `password_file`."""
        self.engine_port, self.agent_port = free_port(), free_port()
        conf = (DEPLOY / "mosquitto.conf").read_text()
        conf = _replace(conf, "/mosquitto/config/", f"{self.directory}/")
        conf = _replace(conf, "/mosquitto/data/", f"{self.directory}/data/")
        conf = _replace(conf, "\nlistener 1883 127.0.0.1\n", f"\nlistener {self.engine_port} 127.0.0.1\n")
        conf = _replace(conf, "\nlistener 1884\n", f"\nlistener {self.agent_port} 127.0.0.1\n")
        conf = _replace(conf, "\nlog_dest stdout\n", f"\nlog_dest file {self.directory}/mosquitto.log\n")
        # started as root, mosquitto would drop to user "mosquitto", who cannot read tmp_path
        conf += f"\nuser {getpass.getuser()}\n"
        (self.directory / "data").mkdir(exist_ok=True)
        (self.directory / "mosquitto.conf").write_text(conf)
        shutil.copy(DEPLOY / "acl", self.directory / "acl")
        passwd = self.directory / "passwd"
        if password_file is not None:
            shutil.copy(password_file, passwd)
        else:
            write_password_file(passwd, {user: hash_password(pw) for user, pw in (logins or {}).items()})

    def start(self) -> None:
        binary = mosquitto_binary()
        self.process = subprocess.Popen(
            [binary, "-c", str(self.directory / "mosquitto.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(200):  # until both listeners accept (or it exits)
            if self.process.poll() is not None:
                log = self.directory / "mosquitto.log"
                raise RuntimeError(f"mosquitto exited at start: {log.read_text() if log.exists() else ''}")
            try:
                for port in (self.engine_port, self.agent_port):
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                subprocess.run(["sleep", "0.05"], check=False)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def engine_url(self, password: str = ENGINE_PASSWORD) -> str:
        return f"mqtt://{ENGINE_USER}:{password}@127.0.0.1:{self.engine_port}"

    def desktop(self, agent_id: str | None, password: str | None = None, **kwargs: Any) -> Desktop:
        """An agent desktop on the agents' listener (MQTT v5), logged in as `agent_id`."""
        if agent_id is not None and password is None:
            password = AGENT_PASSWORDS[agent_id]
        return Desktop("127.0.0.1", self.agent_port, username=agent_id, password=password, **kwargs)


class Desktop(aiomqtt.Client):
    """An MQTT v5 client that keeps the broker's PUBACK reason codes (aiomqtt drops them)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("protocol", aiomqtt.ProtocolVersion.V5)
        super().__init__(*args, **kwargs)
        self.puback: list[ReasonCode] = []

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason_code: ReasonCode, properties: Any) -> None:
        self.puback.append(reason_code)
        super()._on_publish(client, userdata, mid, reason_code, properties)

    async def publish_for_code(self, topic: str, payload: bytes | str) -> ReasonCode:
        """Publish at QoS 1 and return the broker's reason code (0 = success, 135 = not authorized)."""
        self.puback.clear()
        await self.publish(topic, payload, qos=1, timeout=20)
        assert len(self.puback) == 1
        return self.puback[0]


@contextmanager
def started_broker(directory: Path) -> Iterator[AclBroker]:
    """A broker from the shipped files in `directory`, with the engine's and the two agents'
    logins, for the length of the block."""
    broker = AclBroker(directory)
    broker.directory.mkdir()
    broker.configure({ENGINE_USER: ENGINE_PASSWORD, **AGENT_PASSWORDS})
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
