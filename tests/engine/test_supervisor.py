"""The loop supervisor on its own: back-off, recovery, stalls, giving up."""

from __future__ import annotations

import asyncio

import pytest

from dialer.engine.supervisor import LoopFailed, Supervisor, describe


async def test_a_failing_loop_is_restarted_with_growing_back_off_then_recovers() -> None:
    sup = Supervisor(backoff_min_s=0.01, backoff_max_s=0.04, give_up_after_s=30.0)
    runs = 0
    delays: list[float] = []
    original_failed = sup.failed

    def failed(name: str, exc: BaseException) -> float:
        delays.append(original_failed(name, exc))
        return delays[-1]

    sup.failed = failed  # type: ignore[method-assign]
    recovered = asyncio.Event()

    async def work() -> None:
        nonlocal runs
        runs += 1
        if runs <= 4:
            raise OSError(111, "Connect call failed to +12125550123")
        while True:
            sup.beat("work")
            recovered.set()
            await asyncio.sleep(0.01)

    sup.add("work", work)
    task = asyncio.create_task(sup.run())
    await asyncio.wait_for(recovered.wait(), 5)
    health = sup.health()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert delays == [0.01, 0.02, 0.04, 0.04]
    loop = health["loops"]["work"]
    assert loop["state"] == "ok" and loop["restarts"] == 4 and health["healthy"] is True
    assert "+12125550123" not in loop["last_error"] and loop["last_error"].startswith("ConnectionRefusedError")


async def test_a_stalled_loop_makes_the_engine_unhealthy_then_stops_it() -> None:
    sup = Supervisor(stall_after_s=0.2, give_up_after_s=0.6)
    stuck = asyncio.Event()

    async def stalls() -> None:
        await stuck.wait()  # a query that never returns

    async def fine() -> None:
        while True:
            sup.beat("fine")
            await asyncio.sleep(0.05)

    sup.add("stalls", stalls)
    sup.add("fine", fine)
    task = asyncio.create_task(sup.run())
    await asyncio.sleep(0.4)
    health = sup.health()
    assert health["healthy"] is False and health["unhealthy_since"] is not None
    assert health["loops"]["stalls"]["state"] == "stalled"
    assert health["loops"]["fine"]["state"] == "ok"
    with pytest.raises(LoopFailed) as failed:
        await asyncio.wait_for(task, 5)
    assert failed.value.loop == "stalls" and "stalled" in str(failed.value)


async def test_a_loop_that_is_not_critical_never_stops_the_engine() -> None:
    sup = Supervisor(backoff_min_s=0.01, backoff_max_s=0.01, give_up_after_s=0.2)

    async def broken() -> None:
        raise RuntimeError("always")

    sup.add("optional", broken, critical=False)
    task = asyncio.create_task(sup.run())
    await asyncio.sleep(0.5)
    assert not task.done()
    assert sup.health()["healthy"] is True and sup.health()["loops"]["optional"]["state"] == "failing"
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def test_describe_masks_phone_numbers() -> None:
    assert describe(ValueError("bad number +1 (212) 555-0123 here")) == "ValueError: bad number # here"
    assert describe(TimeoutError()) == "TimeoutError"


async def test_a_loop_that_swallows_its_cancellation_still_lets_the_engine_stop() -> None:
    """Python 3.11's `asyncio.wait_for` swallows a cancel that lands as the awaited thing
    completes; the loop then runs on. Giving up must still end `run()` (a CI run hung here)."""
    sup = Supervisor(backoff_min_s=0.01, backoff_max_s=0.01, give_up_after_s=0.3)
    swallowed = 0

    async def broken() -> None:
        raise OSError(111, "Connect call failed")

    async def deaf() -> None:
        nonlocal swallowed
        while True:
            try:
                sup.beat("deaf")
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                swallowed += 1
                if swallowed > 1:
                    raise

    sup.add("broken", broken)
    sup.add("deaf", deaf)
    with pytest.raises(LoopFailed) as failed:
        await asyncio.wait_for(sup.run(), 10)
    assert failed.value.loop == "broken"
    assert swallowed == 2
