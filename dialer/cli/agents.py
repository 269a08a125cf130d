"""`dialer agents ...`: agents and the campaigns they work on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from dialer.agents import groups as agent_groups
from dialer.agents import mqtt_logins
from dialer.agents import service as agent_service
from dialer.cli.common import console, fail, run, settings, who, with_database
from dialer.db.database import Database
from dialer.outputs.bus import MqttSettings

agents_app = typer.Typer(help="Agents: list them, assign them to campaigns and groups.", no_args_is_help=True)


@agents_app.command("list")
def list_() -> None:
    """Agents with their last known state and campaigns."""
    rows: list[dict[str, Any]] = run(lambda: with_database(agent_service.list_agents))
    if not rows:
        console.print("no agents yet: `dialer agents add 1001 --campaign NAME`")
        return
    table = Table("agent", "name", "state", "since (UTC)", "groups", "campaigns")
    for row in rows:
        table.add_row(row["id"], row["name"], row["state"] or "-",
                      row["since"].strftime("%Y-%m-%d %H:%M:%S") if row["since"] else "-",
                      ", ".join(row["groups"] or []) or "-", ", ".join(row["campaigns"]) or "-")
    console.print(table)


@agents_app.command("add")
def add(
    agent_id: str = typer.Argument(..., help="the agent's number (the softphone endpoint), e.g. 1001"),
    name: str = typer.Option(None, "--name"),
    campaign: list[str] = typer.Option([], "--campaign", help="assign to this campaign (repeatable)"),
) -> None:
    """Create an agent, or assign one to campaigns; running engines add it to the queue."""

    async def main(db: Database) -> None:
        await agent_service.assign(db, agent_id, name, campaign, who())

    run(lambda: with_database(main))
    console.print(f"agent {agent_id} ready" + (f", on {', '.join(campaign)}" if campaign else ""))


@agents_app.command("remove")
def remove(
    agent_id: str = typer.Argument(...),
    campaign: list[str] = typer.Option(..., "--campaign", help="take off this campaign (repeatable)"),
) -> None:
    """Take an agent off campaigns."""

    async def main(db: Database) -> None:
        await agent_service.assign(db, agent_id, None, campaign, who(), remove=True)

    run(lambda: with_database(main))
    console.print(f"agent {agent_id} taken off {', '.join(campaign)}")


@agents_app.command("group")
def group(
    agent_id: str = typer.Argument(...),
    groups: list[str] = typer.Argument(..., help="groups (skills), e.g. senior key-accounts"),
    remove: bool = typer.Option(False, "--remove", help="take the agent out of these groups"),
) -> None:
    """Put an agent in groups (or take him out); campaigns whose agent_groups name one use him."""

    async def main(db: Database) -> list[str]:
        return await agent_groups.change_groups(db, agent_id, groups, remove=remove)

    now: list[str] = run(lambda: with_database(main))
    console.print(f"agent {agent_id}: groups {', '.join(now) or '-'}")


@agents_app.command("pause")
def pause(
    agent_id: str = typer.Argument(...),
    reason: str = typer.Option("break", "--reason", help="break, meeting, training, ..."),
) -> None:
    """Make an agent not ready (with a reason); no calls reach the agent until unpaused."""

    async def main(db: Database) -> None:
        await agent_service.pause(db, agent_id, True, reason)

    run(lambda: with_database(main))
    console.print(f"agent {agent_id}: pause ({reason}) sent to the running engines")


@agents_app.command("unpause")
def unpause(agent_id: str = typer.Argument(...)) -> None:
    """Make an agent ready again."""

    async def main(db: Database) -> None:
        await agent_service.pause(db, agent_id, False, None)

    run(lambda: with_database(main))
    console.print(f"agent {agent_id}: unpause sent to the running engines")


@agents_app.command("mqtt-passwords")
def mqtt_passwords(
    out: Path = typer.Option(..., "--out", help="the Mosquitto password file (created or updated)"),
    reset: list[str] = typer.Option([], "--reset", help="give this agent a new password (repeatable)"),
) -> None:
    """The broker's password file: one login per active agent (username = agent id).

    New agents get a random password, shown once here; existing logins are kept, inactive
    agents' removed, and the engine's login (user and password of DIALER_MQTT_URL) written.
    Reload the broker afterwards (SIGHUP).
    """
    engine_login = None
    if settings().mqtt_url:
        try:
            mqtt = MqttSettings.from_url(settings().mqtt_url or "")
        except ValueError as exc:
            fail(f"DIALER_MQTT_URL: {exc}")
        if mqtt.username and mqtt.password:
            engine_login = (mqtt.username, mqtt.password)

    async def main(db: Database) -> mqtt_logins.LoginChanges:
        return await mqtt_logins.make_password_file(db, out, reset=set(reset), engine_login=engine_login)

    changes: mqtt_logins.LoginChanges = run(lambda: with_database(main))
    if changes.engine_login:
        console.print(f"engine login {changes.engine_login}: from DIALER_MQTT_URL")
    for agent_id in changes.removed:
        console.print(f"agent {agent_id}: inactive, login removed")
    if changes.new_passwords:
        console.print("new MQTT passwords (shown only now; give each to its agent):")
        for agent_id, password in changes.new_passwords.items():
            console.print(f"  {agent_id}  {password}", soft_wrap=True)
    console.print(f"{out}: {len(changes.entries)} logins; reload the broker (SIGHUP) to use them")


def register(app: typer.Typer) -> None:
    app.add_typer(agents_app, name="agents")
