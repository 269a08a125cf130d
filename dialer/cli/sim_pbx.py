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
    port: Annotated[int | None, typer.Option(help="TCP port, 0 = any free port "
                                                  "(default 5038).")] = None,
    host: Annotated[str | None, typer.Option(help="Address (default 127.0.0.1).")] = None,
    agents: Annotated[int | None, typer.Option(help="Simulated agents 1001.. logged in at "
                                                    "start (default 10).")] = None,
    time_scale: Annotated[float | None, typer.Option(
        help="Simulated seconds per real second (default 1).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed; a call's fate depends on seed "
                                                  "and ChannelId only (default 1).")] = None,
    world: Annotated[Path | None, typer.Option(help="TOML file: simulator settings plus a "
                                                    "world table (WorldModel fields).", exists=True,
                                               dir_okay=False)] = None,
    username: Annotated[str | None, typer.Option(help="AMI user (default dialer).")] = None,
    secret: Annotated[str | None, typer.Option(help="AMI secret (default dialer).")] = None,
    queue: Annotated[list[str] | None, typer.Option(help="Queue name (repeatable); default "
                                                         "campaign1.")] = None,
    auto_queues: Annotated[bool, typer.Option(help="Create queues on first use.")] = False,
    human_rate: Annotated[float | None, typer.Option(help="Share answered by a person.")] = None,
    machine_rate: Annotated[float | None, typer.Option(help="Share answered by a machine.")
                            ] = None,
    busy_rate: Annotated[float | None, typer.Option(help="Share busy.")] = None,
    congestion_rate: Annotated[float | None, typer.Option(help="Share congestion.")] = None,
    invalid_rate: Annotated[float | None, typer.Option(help="Share invalid numbers.")] = None,
    number_plan: Annotated[str | None, typer.Option(
        help="world (default) or last-digit: the number's last digit picks the customer, "
             "like asterisk-conf's sim-pstn.")] = None,
    opt_out_probability: Annotated[float | None, typer.Option(
        help="Chance a timed-out caller presses the opt-out key.")] = None,
) -> None:
    import tomllib

    from ami.simulator import SimConfig

    overrides: dict[str, Any] = {"port": port, "host": host, "agents": agents,
                                 "time_scale": time_scale, "seed": seed, "username": username,
                                 "secret": secret, "auto_create_queues": auto_queues or None,
                                 "opt_out_probability": opt_out_probability,
                                 "number_plan": number_plan}
    if queue:
        overrides["queues"] = tuple(queue)
    try:
        data: dict[str, Any] = (tomllib.loads(world.read_text(encoding="utf-8"))
                                if world is not None else {})
        # flags > file > these command defaults > SimConfig defaults
        data.setdefault("port", 5038)
        data.setdefault("agents", 10)
        config = SimConfig.from_dict(data, **overrides)
        shares = {k: v for k, v in {"human_rate": human_rate, "machine_rate": machine_rate,
                                    "busy_rate": busy_rate, "congestion_rate": congestion_rate,
                                    "invalid_rate": invalid_rate}.items() if v is not None}
        if shares:
            config.world = config.world.with_overrides(**shares)
    except (ValueError, TypeError, OSError, tomllib.TOMLDecodeError) as exc:
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
