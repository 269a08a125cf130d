"""Simulator behaviour beyond the transcript replays: config, determinism, redirect, world."""

from __future__ import annotations

from pathlib import Path

import pytest

from ami import actions as A
from ami.client import AMIClient, ClientConfig
from ami.events import AgentConnect, Event, UserEvent
from ami.simulator import PbxSimulator, SimConfig
from pacing.world import Duration, WorldModel
from tests.ami.rawclient import wait_until
from tests.ami.test_client import next_event


def client_for(sim: PbxSimulator) -> AMIClient:
    return AMIClient(ClientConfig(port=sim.port, username="dialer", secret="dialer",
                                  reconnect_min=0.02))


def test_config_from_toml(tmp_path: Path) -> None:
    f = tmp_path / "world.toml"
    f.write_text('seed = 7\ntime_scale = 20.0\nagents = 4\nqueues = ["a", "b"]\n'
                 '[world]\nhuman_rate = 0.4\nbusy_rate = 0.1\n'
                 'talk = { kind = "lognormal", mean = 120, cv = 0.5 }\n'
                 '[wrapuptime]\na = 5\n')
    cfg = SimConfig.from_toml(f, agents=9)
    assert (cfg.seed, cfg.time_scale, cfg.agents, cfg.queues) == (7, 20.0, 9, ("a", "b"))
    assert cfg.world.human_rate == 0.4 and cfg.world.talk == Duration.lognormal(120, 0.5)
    assert cfg.wrapuptime == {"a": 5}
    f.write_text("nonsense = 1\n")
    with pytest.raises(ValueError):
        SimConfig.from_toml(f)


async def _outcomes(seed: int) -> dict[str, tuple[bool, int | None]]:
    world = WorldModel(human_rate=0.3, machine_rate=0.1, busy_rate=0.2, congestion_rate=0.1,
                       invalid_rate=0.1, no_answer_ring=10.0)
    async with PbxSimulator(SimConfig(world=world, seed=seed, time_scale=200.0)) as sim:
        c = client_for(sim)
        await c.connect()
        handles = [await c.originate(A.OriginateRequest(
            channel=f"Local/555{i:04d}@sim-pstn", channel_id=f"det-{i:04d}",
            context="dialer-connect", exten="campaign1", timeout_ms=20000,
            variables={"DIALER_QUEUE_TIMEOUT": "1"})) for i in range(40)]
        out = {}
        for h in handles:
            o = await h.outcome()
            out[h.channel_id] = (o.success, o.reason)
        await c.close()
    return out


async def test_same_seed_same_fates() -> None:
    a, b, c = await _outcomes(3), await _outcomes(3), await _outcomes(4)
    assert a == b
    assert a != c
    reasons = {r for _, r in a.values()}
    assert {4, 5, 8, 0} <= reasons  # answered, busy, congestion, invalid / network


async def test_world_model_drives_amd_and_opt_out() -> None:
    world = WorldModel(human_rate=1.0, busy_rate=0, congestion_rate=0, invalid_rate=0,
                       answer_ring=Duration.fixed(1.0), patience=Duration.fixed(1000.0),
                       amd_time=Duration.fixed(1.0))
    cfg = SimConfig(world=world, seed=1, time_scale=100.0, opt_out_probability=1.0,
                    queue_timeout=2.0)
    async with PbxSimulator(cfg) as sim:
        c = client_for(sim)
        sub = c.subscribe({"UserEvent"})
        await c.connect()
        await c.originate(A.OriginateRequest(
            channel="PJSIP/5551@carrier", channel_id="amd-1", context="dialer-connect",
            exten="campaign1", variables={"DIALER_AMD": "yes", "DIALER_ATTEMPT": "amd-1"}))
        got: list[Event] = [await next_event(sub, lambda e: True) for _ in range(3)]
        names = [e.get("UserEvent") for e in got]
        assert names == ["DialerAMD", "DialerQueueResult", "DialerOptOut"]
        assert all(isinstance(e, UserEvent) and e.fields["AttemptId"] == "amd-1" for e in got)
        assert got[0].get("Status") == "HUMAN" and got[2].get("Digit") == "9"
        assert sim.stats.opt_outs == 1
        await c.close()


async def test_redirect_moves_a_waiting_caller_to_another_queue() -> None:
    cfg = SimConfig(seed=1, time_scale=50.0, agents=1, member_ready_delay=0.0,
                    queues=("campaign1", "campaign2"))
    async with PbxSimulator(cfg) as sim:
        c = client_for(sim)
        sub = c.subscribe({"QueueCallerJoin", "QueueCallerLeave", "AgentConnect"})
        await c.connect()
        await c.queue_add("campaign2", "Local/1001@agent-request", member_name="Agent/1001",
                          state_interface="Agent:1001")
        h = await c.originate(A.OriginateRequest(
            channel="Local/5552@sim-pstn", channel_id="redir-1", context="dialer-connect",
            exten="campaign1", variables={"SIM_RESULT": "human", "SIM_RING": "0",
                                          "SIM_PATIENCE": "1000", "SIM_TALK": "2",
                                          "DIALER_QUEUE_TIMEOUT": "1000"}))
        assert (await h.outcome()).success
        join = await next_event(sub, lambda e: e.name == "QueueCallerJoin")
        r = await c.redirect(join.get("Channel") or "", "dialer-connect", "campaign2")
        assert r.get("Message") == "Redirect successful"
        conn = await next_event(sub, lambda e: isinstance(e, AgentConnect))
        assert conn.get("Queue") == "campaign2" and conn.get("Linkedid") == "redir-1"
        await wait_until(lambda: sim.active_calls == 0)
        agents = await c.agents()
        assert [a.get("Status") for a in agents] == ["AGENT_IDLE"]
        summary = await c.queue_summary("campaign2")
        assert summary[0].get("LoggedIn") == "1"
        await c.close()


async def test_last_digit_number_plan_like_asterisk_conf() -> None:
    cfg = SimConfig(seed=2, time_scale=200.0, number_plan="last-digit")
    async with PbxSimulator(cfg) as sim:
        c = client_for(sim)
        await c.connect()
        handles = [await c.originate(A.OriginateRequest(
            channel=f"Local/+4420790000{d}@sim-pstn", channel_id=f"plan-{d}",
            context="dialer-connect", exten="campaign1", timeout_ms=20000,
            variables={"DIALER_QUEUE_TIMEOUT": "1", "DIALER_AMD": "yes"})) for d in range(10)]
        got = {}
        for d, h in enumerate(handles):
            o = await h.outcome()
            got[d] = (o.success, o.reason)
        await c.close()
    assert got == {0: (True, 4), 1: (True, 4), 2: (True, 4), 3: (True, 4), 4: (False, 5),
                   5: (False, 5), 6: (False, 3), 7: (False, 3), 8: (False, 8), 9: (True, 4)}


async def test_a_shared_agent_goes_to_the_heavier_queue_first() -> None:
    """app_queue's queue weight: a free agent in two queues takes the heavier queue's caller,
    even one who joined later."""
    cfg = SimConfig(seed=1, time_scale=50.0, agents=1, member_ready_delay=0.0, queues=("light", "heavy"),
                    wrapuptime={"light": 0.0, "heavy": 0.0}, queue_weights={"heavy": 10})
    async with PbxSimulator(cfg) as sim:
        c = client_for(sim)
        sub = c.subscribe({"QueueCallerJoin", "AgentConnect"})
        await c.connect()
        for queue in ("light", "heavy"):
            await c.queue_add(queue, "Local/1001@agent-request", member_name="Agent/1001",
                              state_interface="Agent:1001")
        waiting = {"SIM_RESULT": "human", "SIM_RING": "0", "SIM_PATIENCE": "1000", "SIM_TALK": "2",
                   "DIALER_QUEUE_TIMEOUT": "1000"}

        async def call(queue: str, talk: str) -> None:
            await c.originate(A.OriginateRequest(
                channel=f"Local/555{queue}@sim-pstn", channel_id=f"w-{queue}-{talk}", context="dialer-connect",
                exten=queue, variables={**waiting, "SIM_TALK": talk}))
            await next_event(sub, lambda e: e.name == "QueueCallerJoin" and e.get("Queue") == queue)

        await call("light", "20")  # the agent takes it at once and talks a while
        first = await next_event(sub, lambda e: isinstance(e, AgentConnect))
        assert first.get("Queue") == "light"
        await call("light", "1")
        await call("heavy", "1")
        second = await next_event(sub, lambda e: isinstance(e, AgentConnect))
        assert second.get("Queue") == "heavy", "the lighter queue's caller took the shared agent"
        await c.close()
