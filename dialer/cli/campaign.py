"""`dialer campaign ...`: apply definitions, move campaigns through their life cycle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from dialer.campaigns import service as campaign_service
from dialer.campaigns.definition import load_definition
from dialer.cli.common import console, fail, run, who, with_database
from dialer.db.database import Database
from dialer.db.models import CampaignState
from dialer.errors import UserError

campaign_app = typer.Typer(help="Campaigns: define, approve, start, pause, resume, stop.", no_args_is_help=True)

_STATE_STYLE = {
    "draft": "dim",
    "approved": "cyan",
    "pilot": "yellow",
    "running": "green",
    "paused": "yellow",
    "stopped": "red",
    "completed": "blue",
}


@campaign_app.command("apply")
def apply(file: Path = typer.Argument(..., help="campaign definition (TOML)")) -> None:
    """Create a campaign from a TOML file, or update its settings."""
    try:
        definition = load_definition(file)
    except UserError as exc:
        fail(str(exc))

    async def main(db: Database) -> campaign_service.ApplyResult:
        return await campaign_service.apply(db, definition, who())

    result = run(lambda: with_database(main))
    name = result.campaign.name
    if result.created:
        console.print(f"campaign {name} created (draft); next: `dialer campaign approve {name}`")
    elif result.changed:
        console.print(f"campaign {name} updated ({result.campaign.state.value})")
    else:
        console.print(f"campaign {name} unchanged")


@campaign_app.command("list")
def list_() -> None:
    """List campaigns with their state and contacts."""
    rows = run(lambda: with_database(campaign_service.list_campaigns))
    table = Table("name", "state", "mode", "regulation", "contacts", "dialable", "updated")
    for row in rows:
        style = _STATE_STYLE.get(row["state"], "")
        table.add_row(
            row["name"],
            f"[{style}]{row['state']}[/]",
            row["dial_mode"],
            row["regulation"],
            f"{row['contacts']:,}",
            f"{row['dialable']:,}",
            row["updated_at"].strftime("%Y-%m-%d %H:%M"),
        )
    if not rows:
        console.print("no campaigns yet: `dialer campaign apply FILE.toml`")
        return
    console.print(table)


@campaign_app.command("show")
def show(
    name: str,
    as_json: bool = typer.Option(False, "--json", help="print the settings as JSON"),
) -> None:
    """Show a campaign's settings, contacts by state and audit trail."""

    async def main(db: Database) -> dict[str, Any]:
        return await campaign_service.details(db, name)

    info = run(lambda: with_database(main))
    campaign = info["campaign"]
    if as_json:
        console.print_json(json.dumps(campaign.settings))
        return
    console.print(f"[bold]{campaign.name}[/]  {campaign.state.value}  ({campaign.dial_mode}, {campaign.regulation})")
    definition = campaign.definition
    if definition.description:
        console.print(definition.description, markup=False)
    console.print(
        f"queue {definition.queue_name}, dial {definition.dial_template}, ring {definition.ring_timeout_s}s,"
        f" connect {definition.connect_timeout_s}s, pilot limit {definition.pilot_limit}"
    )
    console.print(f"numbers without +country code read in {definition.default_region}; next number after: "
                  f"{', '.join(definition.alt_numbers_on) or 'never'}", markup=False)
    if definition.dispositions:
        own = ", ".join(f"{d.code} ({d.label})" for d in definition.dispositions)
        console.print(f"own dispositions: {own}", markup=False)
    counts = info["contacts"]
    contacts = Table("contact state", "count")
    for state, count in sorted(counts.items()):
        contacts.add_row(state, f"{count:,}")
    contacts.add_row("[bold]total[/]", f"{sum(counts.values()):,}")
    console.print(contacts)
    console.print(f"attempts: {info['attempts']:,}")
    audit = Table("when (UTC)", "from", "to", "by", "note")
    for entry in info["audit"]:
        audit.add_row(
            entry["changed_at"].strftime("%Y-%m-%d %H:%M:%S"),
            entry["from_state"] or "",
            entry["to_state"],
            entry["changed_by"],
            entry["note"] or "",
        )
    console.print(audit)


def _transition(command: str, help_text: str) -> None:
    def handler(
        name: str = typer.Argument(..., help="campaign name"),
        note: str = typer.Option(None, "--note", help="why, for the audit trail"),
    ) -> None:
        async def main(db: Database) -> tuple[CampaignState, CampaignState]:
            return await campaign_service.change_state(db, name, command, who(), note)

        before, after = run(lambda: with_database(main))
        console.print(f"campaign {name}: {before.value} -> {after.value}")

    handler.__doc__ = help_text
    campaign_app.command(command)(handler)


_transition("approve", "Approve a draft campaign for dialling.")
_transition("pilot", "Start a capped trial batch (pilot_limit attempts), then pause.")
_transition("start", "Start full dialling (from approved or pilot).")
_transition("pause", "Stop placing new calls; calls in progress finish.")
_transition("resume", "Resume a paused campaign.")
_transition("stop", "Stop for good; calls in progress finish, claimed contacts are released.")


def register(app: typer.Typer) -> None:
    app.add_typer(campaign_app, name="campaign")
