"""The engine's loops under failure: a failed query restarts the loop and loses nothing; a
loop failing for good stops the engine with an error, and its open attempts are recovered."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from ami.simulator import PbxSimulator
from dialer.engine.engine import Engine
from dialer.engine.supervisor import LoopFailed
from tests.engine.harness import (
    assert_no_overlapping_attempts,
    campaign_state,
    change_campaign_state,
    engine_for,
    fetch,
    fetchval,
    make_campaign,
    numbers,
    sim_config,
    wait_for,
)


class Faults:
    """Make a store method raise when a given engine loop calls it, `times` times."""

    def __init__(self) -> None:
        self.left: dict[tuple[str, str], int] = {}
        self.raised: dict[str, int] = {}

    def inject(self, engine: Engine, method: str, loop: str, times: int, error: Callable[[], Exception]) -> None:
        original = getattr(engine.store, method)
        self.left[(method, loop)] = times

        async def failing(*args: Any, **kwargs: Any) -> Any:
            task = asyncio.current_task()
            key = (method, loop)
            if task is not None and task.get_name() == f"engine-{loop}" and self.left[key] != 0:
                self.left[key] -= 1
                self.raised[loop] = self.raised.get(loop, 0) + 1
                raise error()
            return await original(*args, **kwargs)

        setattr(engine.store, method, failing)


def _pg_down() -> Exception:
    return asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation")


def _os_down() -> Exception:
    return OSError(111, "Connect call failed")



async def _assert_every_originate_one_closed_attempt(url: str, originated: list[str]) -> None:
    rows = await fetch(url, "SELECT id::text, ended_at, outcome FROM call_attempts")
    assert sorted(r["id"] for r in rows) == sorted(originated), "an Originate has no attempt row, or the reverse"
    assert len(set(originated)) == len(originated)
    assert all(r["ended_at"] is not None and r["outcome"] for r in rows), "an attempt was left open"
    await assert_no_overlapping_attempts(url)


async def test_each_loop_recovers_from_failed_queries(database_url: str, tmp_path: Path) -> None:
    name = await make_campaign(database_url, tmp_path, numbers(60), agents=4)
    faults = Faults()
    async with PbxSimulator(sim_config(agents=4)) as sim:
        engine = engine_for(database_url, sim, "sup-1")
        # One or two failures in a query each loop makes.
        faults.inject(engine, "contact_histories", "events", 2, _pg_down)  # recording ended calls
        faults.inject(engine, "claim", "ticks", 2, _os_down)  # hopper refill
        faults.inject(engine, "start_attempts", "ticks", 1, _pg_down)
        faults.inject(engine, "write_closes", "writer", 2, _pg_down)
        faults.inject(engine, "heartbeat", "heartbeat", 1, _os_down)
        faults.inject(engine, "settle_undecided", "dispositions", 2, _pg_down)
        task = asyncio.create_task(engine.run())
        try:
            await wait_for(lambda: sim.stats.originates >= 10, 60, "calls")
            # A pause arriving while the reload loop's query fails still takes effect.
            faults.inject(engine, "campaign", "reload", 1, _pg_down)
            await change_campaign_state(database_url, name, "pause")
            runner = next(iter(engine.runners.values()))
            await wait_for(lambda: runner.state == "paused", 20, "the pause to reach the engine")
            await wait_for(lambda: len(engine.calls) == 0, 60, "calls in progress to end")
            paused_at = sim.stats.originates
            await asyncio.sleep(1.0)
            assert sim.stats.originates == paused_at, "the engine dialled while paused"
            await change_campaign_state(database_url, name, "resume")

            async def finished() -> bool:
                return await campaign_state(database_url, name) == "completed"

            await wait_for(finished, 120, "the campaign to complete")
            health = engine.supervisor.health()
        finally:
            engine.request_stop()
            await task
        originated = list(sim.stats.originate_channel_ids)
    assert set(faults.raised) == {"events", "ticks", "writer", "heartbeat", "dispositions", "reload"}, faults.raised
    assert all(left == 0 for left in faults.left.values()), f"an injected failure was never hit: {faults.left}"
    for loop in faults.raised:
        assert health["loops"][loop]["restarts"] >= 1, (loop, health)
        assert health["loops"][loop]["state"] == "ok", (loop, health)
    assert health["healthy"] is True
    await _assert_every_originate_one_closed_attempt(database_url, originated)
    decided = await fetchval(database_url, "SELECT count(*) FROM call_attempts WHERE decided_at IS NULL")
    assert decided == 0, "an attempt never got its decision"
    in_call = await fetchval(database_url, "SELECT count(*) FROM contacts WHERE state IN ('in_call', 'claimed')")
    assert in_call == 0


async def test_a_loop_failing_for_good_stops_the_engine_and_another_recovers(
    database_url: str, tmp_path: Path
) -> None:
    name = await make_campaign(database_url, tmp_path, numbers(40), agents=4)
    faults = Faults()
    async with PbxSimulator(sim_config(agents=4, seed=3)) as sim1, PbxSimulator(sim_config(agents=4, seed=4)) as sim2:
        sick = engine_for(database_url, sim1, "sick", loop_failure_limit_s=3.0)
        # Every ended call fails to be recorded from now on (the events loop only).
        faults.inject(sick, "contact_histories", "events", -1, _pg_down)
        task = asyncio.create_task(sick.run())
        with pytest.raises(LoopFailed) as failed:
            await asyncio.wait_for(task, 60)
        assert failed.value.loop == "events" and "ConnectionDoesNotExistError" in str(failed.value)
        heartbeat = json.loads(await fetchval(database_url, "SELECT status FROM engines WHERE id = 'sick'"))
        assert heartbeat["health"]["healthy"] is False
        assert heartbeat["health"]["loops"]["events"]["state"] == "failing"
        # Calls were in progress: their attempts are open. Another engine recovers them.
        open_left = await fetchval(database_url, "SELECT count(*) FROM call_attempts WHERE ended_at IS NULL")
        assert open_left > 0
        rescuer = engine_for(database_url, sim2, "rescuer", stale_engine_s=2.0, stale_retry_after_s=1.0)
        rescue = asyncio.create_task(rescuer.run())
        try:
            await wait_for(lambda: fetchval(database_url, "SELECT count(*) = 0 FROM call_attempts WHERE ended_at IS NULL"),
                           30, "the open attempts of the failed engine to be closed")

            async def finished() -> bool:
                return await campaign_state(database_url, name) == "completed"

            try:
                await wait_for(finished, 120, "the rescuer to finish the list")
            except AssertionError as exc:  # say where the list stands
                states = await fetch(database_url, "SELECT state, count(*) FROM contacts GROUP BY 1")
                runners = {r.name: (r.state, r.stats.last_decision) for r in rescuer.runners.values()}
                raise AssertionError(f"{exc}: contacts {dict(states)}, runners {runners}") from None
        finally:
            rescuer.request_stop()
            await rescue
        originated = list(sim1.stats.originate_channel_ids) + list(sim2.stats.originate_channel_ids)
    await _assert_every_originate_one_closed_attempt(database_url, originated)
    # Every attempt the sick engine left open was closed by the rescuer's recovery, with the
    # reason: unknown, or answered where the call had already reached its agent (with 4
    # agents, every open call may be talking at the moment the engine stops).
    recovered = await fetch(database_url, "SELECT outcome, note FROM call_attempts"
                            " WHERE engine_id = 'sick' AND note LIKE 'engine sick stopped responding%'")
    assert len(recovered) == open_left
    for row in recovered:
        if row["outcome"] == "unknown":
            assert row["note"] == "engine sick stopped responding"
        else:
            assert row["outcome"] == "answered"
            assert row["note"] == ("engine sick stopped responding:"
                                   " the call had reached its agent, its end was not seen")


async def test_dialer_run_exits_non_zero_when_a_loop_keeps_failing(database_url: str, tmp_path: Path) -> None:
    """A real, lasting failure (the engines table gone) stops `dialer run` with exit code 1
    and a message naming the loop; a restart reconciles the attempts it left open."""
    await make_campaign(database_url, tmp_path, numbers(40), agents=4)
    async with PbxSimulator(sim_config(agents=4)) as sim:
        env = {
            **os.environ, "DIALER_DATABASE_URL": database_url, "DIALER_AMI_PORT": str(sim.port),
            "DIALER_AMI_USERNAME": "dialer", "DIALER_AMI_SECRET": "dialer", "DIALER_ENGINE_ID": "p1",
            "DIALER_METRICS_PORT": "0", "DIALER_LOOP_FAILURE_LIMIT_S": "3",
        }
        env.pop("DIALER_SETTINGS_FILE", None)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "dialer.cli.main", "run", "--disposition-timeout", "2",
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        try:
            await wait_for(lambda: sim.stats.originates >= 5, 60, "the engine to dial")
            await fetchval(database_url, "ALTER TABLE engines RENAME TO engines_gone")
            _, stderr = await asyncio.wait_for(process.communicate(), 60)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        await fetchval(database_url, "ALTER TABLE engines_gone RENAME TO engines")
        assert process.returncode == 1, stderr.decode()[-2000:]
        text = " ".join(stderr.decode().split())  # the error line may be wrapped
        message = text[text.rindex("error:"):]
        assert "engine loop 'heartbeat'" in message and 'relation "engines" does not exist' in message, message
        restarted = engine_for(database_url, sim, "p1")
        task = asyncio.create_task(restarted.run())
        try:
            await wait_for(lambda: fetchval(database_url, "SELECT count(*) = 0 FROM call_attempts WHERE ended_at IS NULL"),
                           60, "the restart to close what the failed run left open")
        finally:
            restarted.request_stop()
            await task
        originated = list(sim.stats.originate_channel_ids)
    await _assert_every_originate_one_closed_attempt(database_url, originated)


async def test_an_engine_unhealthy_too_long_is_recovered_like_a_dead_one(database_url: str, tmp_path: Path) -> None:
    from dialer.engine.store import EngineStore

    await make_campaign(database_url, tmp_path, numbers(10))
    sick = EngineStore(database_url, "sick")
    live = EngineStore(database_url, "live")
    await sick.open()
    await live.open()
    try:
        await sick.register()
        campaign_id = await fetchval(database_url, "SELECT id FROM campaigns")
        assert len(await sick.claim(campaign_id, 5)) == 5
        now = datetime.now(UTC)
        await sick.heartbeat(_unhealthy_since(now - timedelta(seconds=5)))
        # Its heartbeat is fresh and it has been unhealthy for 5 s only: left alone.
        assert await live.recover_stale(30.0, 60.0) == (0, 0)
        await sick.heartbeat(_unhealthy_since(now - timedelta(minutes=1)))
        assert await live.recover_stale(30.0, 60.0) == (5, 0)
        # An engine never recovers itself, however unhealthy.
        assert await sick.recover_stale(30.0, 60.0) == (0, 0)
    finally:
        await sick.close()
        await live.close()


def _unhealthy_since(at: datetime) -> dict[str, Any]:
    return {"health": {"healthy": False, "unhealthy_since": at.isoformat(),
                       "loops": {"events": {"state": "failing", "failures": 9, "last_error": "OSError"}}}}


async def test_status_shows_an_engine_whose_loop_fails(database_url: str, tmp_path: Path) -> None:
    from tests.foundation.helpers import dialer

    name = await make_campaign(database_url, tmp_path, numbers(200), agents=3)
    faults = Faults()
    async with PbxSimulator(sim_config()) as sim:
        engine = engine_for(database_url, sim, "status-sick", loop_failure_limit_s=300.0)
        faults.inject(engine, "settle_undecided", "dispositions", -1, _pg_down)
        task = asyncio.create_task(engine.run())
        try:
            await wait_for(lambda: sim.stats.originates >= 3, 20, "calls")

            async def reported() -> bool:
                status = await fetchval(database_url, "SELECT status FROM engines WHERE id = 'status-sick'")
                loops = json.loads(status or "{}").get("health", {}).get("loops", {})
                return loops.get("dispositions", {}).get("failures", 0) >= 2

            await wait_for(reported, 30, "a heartbeat reporting the failing loop")
            result = await asyncio.to_thread(dialer, database_url, "status")
        finally:
            engine.request_stop()
            await task
    assert result.exit_code == 0, result.output
    line = next(row for row in result.stdout.splitlines() if name in row)
    assert "status-sick" in line and re.search(r"\d\.\d\d (progressive|no agents active|held at \w+)", line), line
    text = " ".join(result.stdout.split())
    engines = text[text.index("engines"):]
    assert "status-sick" in engines and "UNHEALTHY" in engines
    assert re.search(r"dispositions failing: \d+ failures", engines), engines
    assert "ConnectionDoesNotExistError" in engines
    assert "events" not in engines.split("status-sick", 1)[1], "a healthy loop listed as in trouble"


async def test_a_writer_that_cannot_write_stops_the_engine(database_url: str, tmp_path: Path) -> None:
    """The writer restarts into the same failure each time: that is continuous failure,
    not a loop that recovers (a restart is no progress)."""
    await make_campaign(database_url, tmp_path, numbers(20))
    faults = Faults()
    async with PbxSimulator(sim_config()) as sim:
        engine = engine_for(database_url, sim, "no-writes", loop_failure_limit_s=3.0)
        faults.inject(engine, "write_closes", "writer", -1, _os_down)
        engine.supervisor.backoff_max_s = 0.5  # restarts come well within the limit
        task = asyncio.create_task(engine.run())
        with pytest.raises(LoopFailed) as failed:
            await asyncio.wait_for(task, 30)
    assert failed.value.loop == "writer" and "ConnectionRefusedError" in str(failed.value)
    assert faults.raised["writer"] >= 2


async def test_the_heartbeat_names_the_campaign_whose_tick_fails(database_url: str, tmp_path: Path) -> None:
    name = await make_campaign(database_url, tmp_path, numbers(20))
    faults = Faults()
    async with PbxSimulator(sim_config()) as sim:
        engine = engine_for(database_url, sim, "tick-sick", loop_failure_limit_s=300.0)
        faults.inject(engine, "claim", "ticks", -1, _os_down)
        task = asyncio.create_task(engine.run())
        try:
            await wait_for(lambda: engine.supervisor.loops.get("ticks") is not None
                           and engine.supervisor.loops["ticks"].failures >= 2, 30, "tick failures")
            loop = engine.supervisor.health()["loops"]["ticks"]
        finally:
            engine.request_stop()
            await task
    assert loop["state"] == "failing"
    assert loop["last_error"].startswith(f"TickFailed: campaign {name}: ConnectionRefusedError"), loop
    assert sim.stats.originates == 0
