"""Failures: an engine killed with SIGKILL, an AMI connection dropped mid-call, two engines."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from ami.simulator import PbxSimulator
from tests.engine.harness import (
    assert_no_overlapping_attempts,
    campaign_state,
    engine_for,
    fetch,
    fetchval,
    make_campaign,
    numbers,
    sim_config,
    wait_for,
)


async def _engine_process(database_url: str, port: int, engine_id: str) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "DIALER_DATABASE_URL": database_url,
        "DIALER_AMI_PORT": str(port),
        "DIALER_AMI_USERNAME": "dialer",
        "DIALER_AMI_SECRET": "dialer",
        "DIALER_ENGINE_ID": engine_id,
        "DIALER_METRICS_PORT": "0",
        "DIALER_LOG_LEVEL": "INFO",
    }
    env.pop("DIALER_SETTINGS_FILE", None)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dialer.cli.main", "run", "--disposition-timeout", "2", "--drain-timeout", "30",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )


async def _finished(url: str, name: str) -> bool:
    return await campaign_state(url, name) == "completed"


async def test_sigkill_and_restart_lose_nothing(database_url: str, tmp_path: Path) -> None:
    name = await make_campaign(database_url, tmp_path, numbers(60), agents=4)
    async with PbxSimulator(sim_config(agents=4)) as sim:
        first = await _engine_process(database_url, sim.port, "k1")
        try:
            await wait_for(lambda: sim.stats.originates >= 12, 60, "the first engine to dial")
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()
        killed_at = sim.stats.originates
        open_after_kill = await fetchval(database_url, "SELECT count(*) FROM call_attempts WHERE ended_at IS NULL")
        second = await _engine_process(database_url, sim.port, "k1")
        try:
            await wait_for(lambda: _finished(database_url, name), 120, "the restarted engine to finish")
        finally:
            second.send_signal(signal.SIGTERM)
            _, stderr = await second.communicate()
        assert second.returncode == 0, stderr.decode()[-2000:]
        originated = list(sim.stats.originate_channel_ids)
    assert killed_at >= 12 and open_after_kill >= 0
    rows = await fetch(database_url, "SELECT id::text, ended_at, outcome FROM call_attempts")
    assert sorted(r["id"] for r in rows) == sorted(originated), "an Originate has no attempt row, or the reverse"
    assert len(set(originated)) == len(originated)
    assert all(r["ended_at"] is not None for r in rows), "an attempt was left open"
    per_contact = await fetch(database_url, "SELECT contact_id, count(*) AS n FROM call_attempts GROUP BY 1")
    assert all(r["n"] == 1 for r in per_contact), "a contact was dialled twice"
    await assert_no_overlapping_attempts(database_url)


async def test_ami_drop_mid_calls(database_url: str, tmp_path: Path) -> None:
    name = await make_campaign(database_url, tmp_path, numbers(60), agents=4)
    async with PbxSimulator(sim_config(agents=4)) as sim:
        engine = engine_for(database_url, sim)
        task = asyncio.create_task(engine.run())
        await wait_for(lambda: len(engine.calls) >= 3, 60, "calls in progress")
        in_progress = set(engine.calls.calls)
        sim.drop_connections()
        await wait_for(lambda: sim.stats.connections >= 2 and engine.ami is not None and engine.ami.connected,
                       30, "the engine to reconnect")
        await wait_for(lambda: _finished(database_url, name), 120, "the campaign to finish")
        engine.request_stop()
        await task
        originated = list(sim.stats.originate_channel_ids)
    rows = {r["id"]: r for r in await fetch(database_url, "SELECT id::text, ended_at, outcome FROM call_attempts")}
    assert sorted(rows) == sorted(originated)
    assert all(r["ended_at"] is not None for r in rows.values())
    # calls that were up across the drop were followed to their real end
    followed = [rows[i]["outcome"] for i in in_progress]
    assert any(outcome != "unknown" for outcome in followed), followed
    await assert_no_overlapping_attempts(database_url)


async def test_two_engines_share_a_campaign(database_url: str, tmp_path: Path) -> None:
    contacts = numbers(80)
    name = await make_campaign(database_url, tmp_path, contacts, agents=3)
    async with PbxSimulator(sim_config(agents=3, seed=1)) as sim1, PbxSimulator(sim_config(agents=3, seed=2)) as sim2:
        one = engine_for(database_url, sim1, "east")
        two = engine_for(database_url, sim2, "west")
        tasks = [asyncio.create_task(one.run()), asyncio.create_task(two.run())]
        await wait_for(lambda: _finished(database_url, name), 120, "both engines to finish the list")
        one.request_stop()
        two.request_stop()
        await asyncio.gather(*tasks)
        originated = list(sim1.stats.originate_channel_ids) + list(sim2.stats.originate_channel_ids)
        assert sim1.stats.originates > 0 and sim2.stats.originates > 0, "both engines dialled"
    rows = await fetch(database_url, "SELECT id::text, contact_id, engine_id FROM call_attempts")
    assert sorted(r["id"] for r in rows) == sorted(originated)
    dialled = [r["contact_id"] for r in rows]
    assert len(dialled) == len(set(dialled)) == len(contacts), "a contact was dialled twice (or not at all)"
    assert {r["engine_id"] for r in rows} == {"east", "west"}


async def test_stale_engine_claims_are_released(database_url: str, tmp_path: Path) -> None:
    """Contacts claimed by an engine that stopped heartbeating go back to the pool."""
    from dialer.engine.store import EngineStore

    await make_campaign(database_url, tmp_path, numbers(10))
    dead = EngineStore(database_url, "dead")
    await dead.open()
    try:
        await dead.register()
        campaign_id = await fetchval(database_url, "SELECT id FROM campaigns")
        claimed = await dead.claim(campaign_id, 5)
        assert len(claimed) == 5
        live = EngineStore(database_url, "live")
        await live.open()
        try:
            assert await live.recover_stale(30.0, 60.0) == (0, 0)  # its heartbeat is fresh
            await fetchval(database_url, "UPDATE engines SET heartbeat_at = now() - interval '1 minute' WHERE id = 'dead' RETURNING 1")
            released, closed = await live.recover_stale(30.0, 60.0)
            assert (released, closed) == (5, 0)
            assert await fetchval(database_url, "SELECT count(*) FROM contacts WHERE state = 'ready'") == 10
        finally:
            await live.close()
    finally:
        await dead.close()


async def test_stop_while_asterisk_is_unreachable(database_url: str) -> None:
    """Asterisk down at start: the engine keeps trying, and still stops when asked."""
    import socket

    from ami.client import ClientConfig
    from dialer.engine.engine import Engine, EngineConfig

    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]  # nothing listens here once closed
    engine = Engine(EngineConfig("down", database_url, ClientConfig(port=port, reconnect_min=0.1, reconnect_max=0.3)))
    task = asyncio.create_task(engine.run())
    await asyncio.sleep(1.5)
    assert not task.done(), "the engine gave up instead of retrying"
    engine.request_stop()
    await asyncio.wait_for(task, 10)
    assert await fetchval(database_url, "SELECT count(*) FROM engines WHERE id = 'down'") == 1


async def test_an_originate_refused_before_sending_closes_its_attempt(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An Originate the client refuses to send (here a CR/LF in a header, as a caller id
    stored before validation refused them) is closed as failed, not left open and tracked."""
    import dataclasses

    from ami.client import AMIClient

    name = await make_campaign(database_url, tmp_path, numbers(20))
    original = AMIClient.originate
    refused: list[str] = []

    async def originate(self: AMIClient, req: Any, **kwargs: Any) -> Any:
        if len(refused) < 3:
            refused.append(req.channel_id)
            req = dataclasses.replace(req, caller_id='"Sales" <+12025550100>\r\nAction: Hangup')
        return await original(self, req, **kwargs)

    monkeypatch.setattr(AMIClient, "originate", originate)
    async with PbxSimulator(sim_config()) as sim:
        engine = engine_for(database_url, sim)
        task = asyncio.create_task(engine.run())
        try:
            await wait_for(lambda: _finished(database_url, name), 90, "the campaign to complete")
            tracked = set(engine.calls.calls)
        finally:
            engine.request_stop()
            await task
        originated = list(sim.stats.originate_channel_ids)
    assert len(refused) == 3 and not tracked & set(refused)
    rows = {r["id"]: r for r in await fetch(database_url, "SELECT id::text, ended_at, outcome, note FROM call_attempts")}
    assert sorted(rows) == sorted(originated + refused), "an attempt row without its Originate, or the reverse"
    for attempt_id in refused:
        row = rows[attempt_id]
        assert row["ended_at"] is not None and row["outcome"] == "failed", row
        assert row["note"].startswith("originate not sent: ValueError"), row["note"]
    assert all(r["ended_at"] is not None for r in rows.values())
