"""`dialer sim-pbx` runs standalone and a plain AMI client can log in and originate."""

from __future__ import annotations

import asyncio
import signal
import sys

from tests.ami.rawclient import RawAMI


async def test_sim_pbx_command_serves_a_plain_client(tmp_path: object) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dialer.cli.main", "sim-pbx", "--port", "0", "--agents", "2",
        "--time-scale", "50", "--seed", "3", "--username", "admin", "--secret", "pw",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert "listening on" in line, line
        port = int(line.split("listening on ", 1)[1].split()[0].rsplit(":", 1)[1])
        c = await RawAMI.connect(port, login=False)
        assert c.banner == "Asterisk Call Manager/11.0.0"
        r = await c.action("Login", Username="admin", Secret="pw", Events="on")
        assert r.get("Message") == "Authentication accepted"
        r = await c.action("Originate", action_id="o-1", Channel="Local/5551234@sim-pstn",
                           Context="dialer-connect", Exten="campaign1", Priority="1",
                           Timeout="20000", Async="true", ChannelId="cli-call-1",
                           extra=[("Variable", "SIM_RESULT=busy"), ("Variable", "SIM_RING=0")])
        assert r.get("Message") == "Originate successfully queued"
        out = await c.wait_for(lambda m: m.event == "OriginateResponse")
        assert (out.get("ActionID"), out.get("Response"), out.get("Reason")) == ("o-1", "Failure",
                                                                                 "5")
        proc.send_signal(signal.SIGTERM)
        shutdown = await c.wait_for(lambda m: m.event == "Shutdown")
        assert shutdown.get("Restart") == "False"
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        await c.close()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
