"""`dialer agents mqtt-passwords`: the broker's password file from the agents table.

The file it writes is loaded by a real Mosquitto with the shipped ACL: the passwords it
prints log the agents in, the engine's login from DIALER_MQTT_URL works, and
`mosquitto_passwd` (the documented by-hand way) can edit the same file.
"""

from __future__ import annotations

import asyncio
import base64
import re
import shutil
import subprocess
from pathlib import Path

import aiomqtt
import asyncpg
import pytest

from dialer.agents.mqtt_logins import hash_password, plan_logins, read_password_file
from dialer.errors import UserError
from tests.bus.acl_broker import AclBroker, Desktop, mosquitto_binary
from tests.foundation.helpers import dialer

ENGINE_URL = "mqtt://dialer:engine%20pw@127.0.0.1:1883"


def _printed(output: str) -> dict[str, str]:
    return dict(re.findall(r"^\s+(\d+)\s+(\S+)$", output, re.MULTILINE))


def test_hash_is_mosquittos_own() -> None:
    """The same salt and password give the line mosquitto_passwd wrote (2.0.11, $7$)."""
    line = "dialer:$7$101$SxmqFUHu9bN9g6Zx$s9y9Hls5SaxWP8xoZrGMS2YRXpgY83oLLcAZXj3oQh8U8VpVbOrXyOj0rOkQcJTKJ+WOjB8wHPCE/N8WwQLAnw=="
    salt = base64.b64decode(line.split("$")[3])
    assert f"dialer:{hash_password('secret', salt=salt)}" == line
    assert hash_password("secret") != hash_password("secret"), "a fresh salt each time"


def test_plan_keeps_what_it_does_not_own() -> None:
    existing = {"crm": "$7$x", "1001": "$7$old", "1003": "$7$gone"}
    changes = plan_logins(existing, {"1001": True, "1002": True, "1003": False}, engine_login=("dialer", "pw"))
    assert list(changes.entries)[:2] == ["crm", "1001"] and changes.entries["1001"] == "$7$old"
    assert set(changes.new_passwords) == {"1002"} and changes.removed == ["1003"]
    assert changes.engine_login == "dialer" and "1003" not in changes.entries
    reset = plan_logins(existing, {"1001": True}, reset={"1001"})
    assert reset.entries["1001"] != "$7$old" and set(reset.new_passwords) == {"1001"}
    with pytest.raises(UserError, match="no agent 1009"):
        plan_logins(existing, {"1001": True}, reset={"1009"})
    with pytest.raises(UserError, match="also an agent id"):
        plan_logins({}, {"1001": True}, engine_login=("1001", "pw"))


async def test_password_file_for_the_agents(database_url: str, tmp_path: Path) -> None:
    for agent in ("1001", "1002", "1003"):
        assert (await asyncio.to_thread(dialer, database_url, "agents", "add", agent)).exit_code == 0
    out = tmp_path / "passwd"
    env = {"DIALER_MQTT_URL": ENGINE_URL}
    first = await asyncio.to_thread(dialer, database_url, "agents", "mqtt-passwords", "--out", str(out), env=env)
    assert first.exit_code == 0, first.output
    passwords = _printed(first.stdout)
    assert set(passwords) == {"1001", "1002", "1003"} and "engine login dialer" in first.stdout
    assert set(read_password_file(out)) == {"dialer", "1001", "1002", "1003"}
    assert out.stat().st_mode & 0o077 == 0, "password hashes readable by others"
    assert all(pw not in out.read_text() for pw in passwords.values()), "a clear password in the file"

    # again, after 1003 left and with 1002's password reset: 1001 keeps his
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE agents SET active = false WHERE id = '1003'")
    finally:
        await conn.close()
    before = read_password_file(out)
    second = await asyncio.to_thread(
        dialer, database_url, "agents", "mqtt-passwords", "--out", str(out), "--reset", "1002", env=env)
    assert second.exit_code == 0, second.output
    assert set(_printed(second.stdout)) == {"1002"} and "agent 1003: inactive, login removed" in second.stdout
    after = read_password_file(out)
    assert after["1001"] == before["1001"] and after["1002"] != before["1002"] and "1003" not in after
    passwords["1002"] = _printed(second.stdout)["1002"]

    # the file as the broker sees it, edited by hand too (mosquitto_passwd, as documented)
    mosquitto_binary()
    passwd_tool = shutil.which("mosquitto_passwd")
    if passwd_tool is None:
        pytest.skip("mosquitto_passwd is not installed (apt-get install mosquitto)")
    await asyncio.to_thread(subprocess.run, [passwd_tool, "-b", str(out), "crm", "crm-pw"], check=True)
    broker = AclBroker(tmp_path / "broker")
    broker.directory.mkdir()
    broker.configure(password_file=out)
    await asyncio.to_thread(broker.start)
    try:
        for agent in ("1001", "1002"):
            async with broker.desktop(agent, passwords[agent]) as desk:
                assert not (await desk.publish_for_code(f"dialer/agents/{agent}/disposition", b"{}")).is_failure
        async with aiomqtt.Client("127.0.0.1", broker.engine_port, username="dialer", password="engine pw"):
            pass
        async with aiomqtt.Client("127.0.0.1", broker.engine_port, username="crm", password="crm-pw"):
            pass
        with pytest.raises(aiomqtt.MqttError):
            async with Desktop("127.0.0.1", broker.agent_port, username="1003", password=passwords["1003"]):
                pass
    finally:
        broker.stop()
    assert "crm" in read_password_file(out)


async def test_bad_password_file_left_alone(database_url: str, tmp_path: Path) -> None:
    out = tmp_path / "passwd"
    out.write_text("dialer:$7$101$abc$def\nthis line is not a login\n")
    result = await asyncio.to_thread(dialer, database_url, "agents", "mqtt-passwords", "--out", str(out))
    assert result.exit_code == 1 and f"{out}:2 is not a 'user:hash' line" in result.output
    assert out.read_text() == "dialer:$7$101$abc$def\nthis line is not a login\n"
    missing = await asyncio.to_thread(
        dialer, database_url, "agents", "mqtt-passwords", "--out", str(tmp_path / "no" / "passwd"))
    assert missing.exit_code == 1 and "is not a directory" in missing.output
