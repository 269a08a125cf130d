"""Faults on a real Asterisk while calls ring, wait in the queue and talk to agents: the
engine killed, Asterisk restarted, the AMI connection cut, PostgreSQL restarted, one query
failing in each engine loop. After each, `assert_every_attempt_true` holds every attempt
against what Asterisk itself reported on a separate AMI connection.

Several of these fail until the engine's restart rebuild, resync and loop supervision land;
RELIABILITY.md keeps the table of what each fault costs (scripts/bench_faults.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from ami.client import AMIClient
from dialer.db import migrate
from dialer.engine.engine import Engine
from dialer.outputs.metrics import DialerMetrics, parse_exposition
from dialer.outputs.observers import EngineEvents
from tests.asterisk.faults import (
    PG_BIN,
    EngineProcess,
    TcpProxy,
    private_postgres,
    settle,
    wait_for_mix,
)
from tests.asterisk.pbx import engine_on, login_agents, rig_campaign, rig_numbers, set_pstn
from tests.asterisk.rig import AsteriskRig
from tests.asterisk.truth import (
    Fault,
    Mix,
    TimedRecorder,
    assert_every_attempt_true,
    mix_of,
    timed_recording,
)
from tests.engine.harness import change_campaign_state, fetchval, wait_for

AGENTS = ["1001", "1002", "1003"]
# 0 answers after SIM_RING, 6 rings until the ring timeout (10 s), 9 is a machine that
# answers and, without AMD, goes to an agent like a person.
MIX = "0609060600"
TALK_S = 12


async def _campaign(url: str, tmp: Path, pbx: AMIClient, events: TimedRecorder, name: str, start: int,
                    digits: str = MIX, agents: list[str] = AGENTS, talk: float = TALK_S,
                    connect_timeout: float = 20) -> str:
    """Agents logged in, a ratio campaign placing two calls per free agent, so that some
    answered calls must wait in the queue (up to `connect_timeout`) while others talk."""
    await set_pstn(pbx, ring=1, talk=talk)
    await login_agents(pbx, events, agents)
    return await rig_campaign(url, tmp, rig_numbers(digits, start=start), agents=len(agents), name=name,
                              dial_mode="ratio", pacing={"dial_level": 2.0}, connect_timeout_s=connect_timeout)


@contextlib.asynccontextmanager
async def _engine(engine: Engine) -> AsyncIterator[DialerMetrics]:
    """An in-process engine with its metrics, stopped (gracefully) on the way out."""
    metrics = DialerMetrics()
    engine.observer = EngineEvents(metrics, None)
    task = asyncio.create_task(engine.run())
    try:
        yield metrics
    finally:
        engine.request_stop()
        await asyncio.wait_for(task, 90)


def _samples(metrics: DialerMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return parse_exposition(metrics.render().decode())


async def _mix_now(client: AMIClient) -> Mix:
    return mix_of(await client.core_show_channels())


# --- a. the engine killed -------------------------------------------------------------------

@pytest.mark.parametrize("new_id", [False, True], ids=["same-engine-id", "other-engine-id"])
async def test_fault_engine_sigkill(database_url: str, tmp_path: Path, asterisk: AsteriskRig,
                                    pbx: AMIClient, new_id: bool) -> None:
    async with timed_recording(pbx) as events:
        name = await _campaign(database_url, tmp_path, pbx, events, "fault-kill", 200)
        first = await EngineProcess(database_url, asterisk.ami_port, "k1", tmp_path / "k1.log").start()
        try:
            mix = await wait_for_mix(pbx, 45)
            before_kill = await first.scrape()
        finally:
            await first.kill()
        killed_at = time.monotonic()
        scrapes = [before_kill]
        if new_id:
            # Another engine id: it recovers the dead engine's attempts once that heartbeat is
            # stale (3 s here instead of 30 s) and may only close them as unknown, with a note.
            second = engine_on(database_url, asterisk, "k2", stale_engine_s=3.0)
            async with _engine(second) as metrics:
                await wait_for(lambda: second.ami is not None and second.ami.connected, 30, "k2 on AMI")
                recovered_at = time.monotonic()
                await settle(database_url, pbx, 75)
            scrapes.append(_samples(metrics))
        else:
            again = await EngineProcess(database_url, asterisk.ami_port, "k1", tmp_path / "k1b.log").start()
            try:
                await wait_for(again.running, 30, "the restarted engine to reconnect")
                recovered_at = time.monotonic()
                await settle(database_url, pbx, 60)
                scrapes.append(await again.scrape())
            finally:
                assert await again.stop() == 0, again.log_tail()
    fault = Fault(f"engine SIGKILL, restarted as {'another' if new_id else 'the same'} engine id",
                  killed_at, recovered_at, mix, gone_engines=frozenset({"k1"} if new_id else set()))
    await assert_every_attempt_true(database_url, events, fault, campaign=name, metrics=scrapes)


# --- b. Asterisk restarted -----------------------------------------------------------------

@pytest.mark.parametrize("crash", [False, True], ids=["stopped", "crashed"])
async def test_fault_asterisk_restart(database_url: str, tmp_path: Path, asterisk: AsteriskRig,
                                      pbx: AMIClient, crash: bool) -> None:
    """Stopped: SIGTERM, Asterisk hangs its calls up and says so before it goes. Crashed:
    SIGKILL, the calls vanish without a Hangup: only the resync can tell."""
    async with timed_recording(pbx) as events:
        name = await _campaign(database_url, tmp_path, pbx, events, "fault-asterisk", 300 + 20 * crash)
        engine = engine_on(database_url, asterisk, "a1")
        async with _engine(engine) as metrics:
            mix = await wait_for_mix(pbx, 45)
            restarted_at = time.monotonic()
            if crash:
                assert asterisk.process is not None
                asterisk.process.kill()
                await asyncio.to_thread(asterisk.process.wait, 10)
            else:
                await asyncio.to_thread(asterisk.stop)
            await asyncio.to_thread(asterisk.start)
            await wait_for(lambda: pbx.connected, 30, "the test's AMI connection to come back")
            # A restart logs every agent out: they log in again, the engine re-adds them to the queue.
            await set_pstn(pbx, ring=1, talk=TALK_S)
            await login_agents(pbx, events, AGENTS)
            await wait_for(lambda: engine.ami is not None and engine.ami.connected and engine.ami.connections >= 2,
                           30, "the engine to reconnect")
            recovered_at = time.monotonic()
            await settle(database_url, pbx, 60)
    fault = Fault(f"Asterisk {'crashed (SIGKILL)' if crash else 'stopped'} and restarted", restarted_at,
                  recovered_at, mix)
    await assert_every_attempt_true(database_url, events, fault, campaign=name, metrics=[_samples(metrics)])


# --- c. the AMI connection cut -------------------------------------------------------------

async def test_fault_ami_connection_cut(database_url: str, tmp_path: Path, asterisk: AsteriskRig,
                                        pbx: AMIClient) -> None:
    async with timed_recording(pbx) as events, TcpProxy(asterisk.ami_port) as proxy:
        name = await _campaign(database_url, tmp_path, pbx, events, "fault-ami", 400)
        engine = engine_on(database_url, asterisk, "c1")
        engine.config.ami = dataclasses.replace(engine.config.ami, port=proxy.port)
        async with _engine(engine) as metrics:
            mix = await wait_for_mix(pbx, 45)
            cut_at = time.monotonic()
            proxy.cut(refuse_for=3.0)  # calls go on meanwhile: connects and hang-ups unseen
            await wait_for(lambda: proxy.connections >= 2 and engine.ami is not None and engine.ami.connected,
                           30, "the engine to reconnect through the proxy")
            recovered_at = time.monotonic()
            await settle(database_url, pbx, 60)
    fault = Fault("AMI connection cut for 3 s", cut_at, recovered_at, mix)
    await assert_every_attempt_true(database_url, events, fault, campaign=name, metrics=[_samples(metrics)])


# --- d. PostgreSQL restarted ---------------------------------------------------------------

@pytest.mark.skipif(not (PG_BIN / "pg_ctl").exists(), reason=f"no PostgreSQL server binaries in {PG_BIN}"
                    " (set DIALER_TEST_PG_BIN)")
async def test_fault_postgres_restart(tmp_path: Path, asterisk: AsteriskRig, pbx: AMIClient) -> None:
    async with private_postgres() as cluster, timed_recording(pbx) as events:
        url = cluster.url
        await asyncio.to_thread(migrate.upgrade, url)
        name = await _campaign(url, tmp_path, pbx, events, "fault-pg", 500)
        engine = engine_on(url, asterisk, "p1")
        async with _engine(engine) as metrics:
            mix = await wait_for_mix(pbx, 45)
            stopped_at = time.monotonic()
            await asyncio.to_thread(cluster.stop)
            await asyncio.sleep(3)  # calls end meanwhile: their closes wait for the database
            await asyncio.to_thread(cluster.start)
            await settle(url, pbx, 60)
        # The engine never lost sight of Asterisk: nothing may be unknown.
        fault = Fault("PostgreSQL restarted (3 s down)", stopped_at, stopped_at, mix, slack_s=0.0)
        await assert_every_attempt_true(url, events, fault, campaign=name, metrics=[_samples(metrics)])


# --- e. one query failing in each engine loop ------------------------------------------------

# The loop (its coroutine's name) and a store method it calls.
# Each engine loop runs as a supervised task named engine-<loop> (dialer/engine/supervisor.py),
# and one store method it calls.
LOOPS = {
    "event": ("engine-events", "contact_histories"),
    "tick": ("engine-ticks", "claim"),
    "reload": ("engine-reload", "campaign"),
    "writer": ("engine-writer", "write_closes"),
    "dispositions": ("engine-dispositions", "settle_undecided"),
    "heartbeat": ("engine-heartbeat", "heartbeat"),
}


class InjectedFailure(ConnectionError):
    pass


def _fail_once_in(engine: Engine, loop: str, method: str, on_fail: Callable[[], None]) -> list[float]:
    """Make `engine.store.<method>` raise once, the first time the task `loop` calls it."""
    original = getattr(engine.store, method)
    failed: list[float] = []

    async def patched(*args: Any, **kwargs: Any) -> Any:
        task = asyncio.current_task()
        if not failed and task is not None and task.get_name() == loop:
            failed.append(time.monotonic())
            on_fail()
            raise InjectedFailure(f"injected failure of {method} in {loop}")
        return await original(*args, **kwargs)

    setattr(engine.store, method, patched)
    return failed


@pytest.mark.parametrize("which", list(LOOPS))
async def test_fault_query_fails_once_in_a_loop(database_url: str, tmp_path: Path, asterisk: AsteriskRig,
                                                pbx: AMIClient, which: str) -> None:
    loop, method = LOOPS[which]
    async with timed_recording(pbx) as events:
        name = await _campaign(database_url, tmp_path, pbx, events, f"fault-{which}", 600 + 10 * len(which),
                               digits="000606", agents=AGENTS[:2], talk=3, connect_timeout=2)
        engine = engine_on(database_url, asterisk, f"q{which}"[:8])
        up: list[int] = []
        failed = _fail_once_in(engine, loop, method, lambda: up.append(len(engine.calls)))
        async with _engine(engine) as metrics:
            await wait_for(lambda: bool(failed), 30, f"{method} to be called from {loop}")
            mix = await _mix_now(pbx)
            if which == "reload":
                # The reload loop must still follow the campaign: a pause reaches the engine.
                await change_campaign_state(database_url, name, "pause")
                await wait_for(lambda: all(r.state == "paused" for r in engine.runners.values()), 15,
                               "the engine to see the pause after the reload loop's failure")
                await change_campaign_state(database_url, name, "resume")
            if which == "heartbeat":
                since = await fetchval(database_url, "SELECT now()")
                await wait_for(lambda: _heartbeat_after(database_url, engine.config.engine_id, since), 15,
                               "a heartbeat after the failed one")
            await settle(database_url, pbx, 60)
    fault = Fault(f"one {method} failure in the {which} loop", failed[0], failed[0], mix, slack_s=0.0)
    fault.calls_up = up[0]
    await assert_every_attempt_true(database_url, events, fault, campaign=name, metrics=[_samples(metrics)])



async def _heartbeat_after(url: str, engine_id: str, since: Any) -> bool:
    return bool(await fetchval(url, "SELECT heartbeat_at > $2 FROM engines WHERE id = $1", engine_id, since))
