"""Simulator configuration: the shared WorldModel plus what only the PBX needs.

`SimConfig.from_toml(path)` reads a file like::

    seed = 7
    time_scale = 20.0
    agents = 10
    username = "dialer"
    secret = "dialer"
    queues = ["campaign1"]
    opt_out_probability = 0.1

    [world]                    # any WorldModel field; durations as tables
    human_rate = 0.35
    busy_rate = 0.08
    talk = { kind = "lognormal", mean = 120, cv = 0.6 }

    [wrapuptime]               # per-queue wrap-up seconds (else world.wrap is sampled)
    campaign1 = 5

    [queue_weights]            # queues.conf weight per queue (heavier: agents first)
    retention = 10
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ami import dialplan
from pacing.world import Duration, WorldModel


@dataclass
class SimConfig:
    world: WorldModel = field(default_factory=WorldModel)
    seed: int = 1
    #: simulated seconds per wall second (20 means a 20 s ring takes 1 s)
    time_scale: float = 1.0
    host: str = "127.0.0.1"
    port: int = 0  # 0 = ephemeral; read PbxSimulator.port
    username: str = "dialer"
    secret: str = "dialer"
    #: agents 1001.. that log in to the agent pool when the simulator starts
    agents: int = 0
    first_agent: int = 1001
    #: queues that exist (Originate Exten in CONNECT_CONTEXT must name one)
    queues: tuple[str, ...] = ("campaign1",)
    #: [dialer-connect] routes any name (asterisk-conf's `_[0-9a-z].` pattern; a missing queue
    #: then fails inside Queue()); False: only queues that exist, like the dialplan of the
    #: 03-* captures' rig (one extension per queue: "Extension does not exist.")
    connect_any_exten: bool = True
    #: create a queue the first time QueueAdd or an Originate names it
    auto_create_queues: bool = False
    #: the AMI user has the `config` write class (UpdateConfig, Reload); False answers
    #: "Permission denied" like an Asterisk whose manager.conf lacks it
    config_write: bool = True
    #: fixed wrap-up seconds per queue; queues not listed sample world.wrap
    wrapuptime: dict[str, float] = field(default_factory=dict)
    #: queues.conf `weight` per queue (default 0): a free agent in several queues goes to
    #: the waiting caller of the heaviest
    queue_weights: dict[str, int] = field(default_factory=dict)
    #: Queue() timeout when DIALER_QUEUE_TIMEOUT is not set (asterisk-conf's
    #: DIALER_DEFAULT_QUEUE_TIMEOUT); whole seconds are used, like the shipped dialplan
    queue_timeout: float = 2.0
    #: asterisk-conf's DIALER_RECORDING_DIR: where MixMonitor "writes" <attempt>.wav (the
    #: simulator writes no file; it reports the path as the dialplan does)
    recording_dir: str = "/var/spool/asterisk/monitor/dialer"
    #: agent's beep: AgentCalled -> AgentConnect
    agent_answer_delay: float = 0.44
    #: app_queue's member status stays 5 this long after AgentLogin
    member_ready_delay: float = 4.0
    #: safe-harbour message length before the opt-out digit is read
    safe_harbour_time: float = 6.0
    #: a timed-out caller presses the opt-out key with this probability
    opt_out_probability: float = 0.1
    #: delay before answering a bad login (Asterisk: about 1 s), simulated seconds
    bad_login_delay: float = 1.0
    #: "world": line results drawn from the world model; "last-digit": the number's last
    #: digit picks the customer, like asterisk-conf's sim-pstn (0-3 person, 4-5 busy,
    #: 6 rings until the Originate timeout, 7 network gives up after 30 s, 8 congestion,
    #: 9 answering machine)
    number_plan: str = "world"
    #: Context/Exten of the far side of a PJSIP trunk call
    pjsip_context: str = "from-trunk"
    pstn_context: str = dialplan.SIM_PSTN_CONTEXT

    def __post_init__(self) -> None:
        if self.time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        if not 0.0 <= self.opt_out_probability <= 1.0:
            raise ValueError("opt_out_probability must be between 0 and 1")
        if self.agents < 0:
            raise ValueError("agents must be >= 0")
        if self.number_plan not in ("world", "last-digit"):
            raise ValueError("number_plan must be 'world' or 'last-digit'")

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> SimConfig:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        return cls.from_dict(data, **overrides)

    @classmethod
    def from_dict(cls, data: dict[str, Any], **overrides: Any) -> SimConfig:
        data = dict(data)
        world = world_from_dict(data.pop("world", {}))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown simulator settings: {', '.join(sorted(unknown))}")
        if "queues" in data:
            data["queues"] = tuple(data["queues"])
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls(world=world, **data)


def world_from_dict(data: dict[str, Any]) -> WorldModel:
    kwargs: dict[str, Any] = {}
    fields = {f.name: f for f in dataclasses.fields(WorldModel)}
    for key, value in data.items():
        if key not in fields:
            raise ValueError(f"unknown world model setting: {key}")
        if isinstance(value, dict):
            kwargs[key] = Duration(**value)
        else:
            kwargs[key] = value
    return WorldModel(**kwargs)
