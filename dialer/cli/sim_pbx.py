"""`dialer sim-pbx`: run the AMI PBX simulator standalone (see ami/simulator.py)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Annotated, Any

import typer


def register(app: typer.Typer) -> None:
    app.command("sim-pbx", help="Run the PBX simulator: an AMI server that behaves like "
                                "Asterisk 22 with simulated customers and agents.")(sim_pbx)


def sim_pbx(
    port: Annotated[int, typer.Option(help="TCP port (0 = any free port).")] = 5038,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    agents: Annotated[int, typer.Option(help="Simulated agents 1001.. logged in at start.")] = 10,
    time_scale: Annotated[float, typer.Option(help="Simulated seconds per real second.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed (a call's fate = seed + ChannelId).")] = 1,
    world: Annotated[Path | None, typer.Option(help="TOML file: simulator settings and a "
                                                    "[world] table.", exists=True,
                                               dir_okay=False)] = None,
    username: Annotated[str, typer.Option(help="AMI user.")] = "dialer",
    secret: Annotated[str, typer.Option(help="AMI secret.")] = "dialer",
    queue: Annotated[list[str] | None, typer.Option(help="Queue name (repeatable); default "
                                                         "campaign1.")] = None,
    auto_queues: Annotated[bool, typer.Option(help="Create queues on first use.")] = False,
    human_rate: Annotated[float | None, typer.Option(help="Share answered by a person.")] = None,
    machine_rate: Annotated[float | None, typer.Option(help="Share answered by a machine.")
                            ] = None,
    busy_rate: Annotated[float | None, typer.Option(help="Share busy.")] = None,
    congestion_rate: Annotated[float | None, typer.Option(help="Share congestion.")] = None,
    invalid_rate: Annotated[float | None, typer.Option(help="Share invalid numbers.")] = None,
    opt_out_probability: Annotated[float | None, typer.Option(
        help="Chance a timed-out caller presses the opt-out key.")] = None,
) -> None:
    from ami.simulator import SimConfig

    overrides: dict[str, Any] = {"port": port, "host": host, "agents": agents,
                                 "time_scale": time_scale, "seed": seed, "username": username,
                                 "secret": secret, "auto_create_queues": auto_queues or None,
                                 "opt_out_probability": opt_out_probability}
    if queue:
        overrides["queues"] = tuple(queue)
    try:
        config = (SimConfig.from_toml(world, **overrides) if world is not None
                  else SimConfig.from_dict({}, **overrides))
        shares = {k: v for k, v in {"human_rate": human_rate, "machine_rate": machine_rate,
                                    "busy_rate": busy_rate, "congestion_rate": congestion_rate,
                                    "invalid_rate": invalid_rate}.items() if v is not None}
        if shares:
            config.world = config.world.with_overrides(**shares)
    except (ValueError, TypeError, OSError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        asyncio.run(_serve(config))
    else:
        uvloop.run(_serve(config))


async def _serve(config: Any) -> None:
    from ami.simulator import PbxSimulator

    sim = PbxSimulator(config)
    await sim.start()
    typer.echo(f"sim-pbx listening on {config.host}:{sim.port} (user {config.username!r}, "
               f"{config.agents} agents, time x{config.time_scale:g}, seed {config.seed})",
               err=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    typer.echo("sim-pbx shutting down")
    await sim.shutdown(restart=False)
    await sim.stop()
