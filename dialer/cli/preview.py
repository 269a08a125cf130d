"""`dialer preview show|accept|skip|more-time --agent ID`: an agent's preview offer.

The same checks as an answer over MQTT (`dialer.agents.offers.decide_offer`); the engine
that made the offer hears the decision by NOTIFY and acts on it within a second.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import typer

from dialer.agents.offers import agent_offer, decide_offer
from dialer.cli.common import console, run, who, with_database
from dialer.db.database import Database

preview_app = typer.Typer(help="Preview dialling: an agent's offer, and his answer to it.", no_args_is_help=True)

AGENT = typer.Option(..., "--agent", help="the agent's number, e.g. 1001")
OFFER = typer.Option(None, "--offer", help="the offer id (checked against the agent's open offer)")


@preview_app.command("show")
def show(agent: str = AGENT, as_json: bool = typer.Option(False, "--json", help="the offer as JSON")) -> None:
    """The agent's open offer: campaign, contact, script, time left (or his latest one)."""

    async def main(db: Database) -> Mapping[str, Any] | None:
        async with db.transaction() as tx:
            return await agent_offer(tx, agent)

    offer = run(lambda: with_database(main))
    if offer is None:
        console.print(f"agent {agent} has never been offered a contact")
        return
    if as_json:
        console.print_json(json.dumps(offer, default=str))
        return
    fields = offer["fields"] if isinstance(offer["fields"], dict) else json.loads(offer["fields"] or "{}")
    if offer["state"] == "offered":
        console.print(f"offer {offer['id']} to agent {agent} (campaign {offer['campaign']}): "
                      f"{int(offer['seconds_left'])} s left to accept, skip or ask for more time")
    else:
        console.print(f"agent {agent} has no open offer; his latest, {offer['id']} (campaign {offer['campaign']}),"
                      f" was {offer['state']}" + (f" by {offer['decided_by']}" if offer["decided_by"] else "")
                      + (f": attempt {offer['attempt_id']}" if offer["attempt_id"] else "")
                      + (f" ({offer['note']})" if offer["note"] else ""))
    console.print(f"contact {offer['contact_id']}: {offer['number']}")
    for key, value in fields.items():
        console.print(f"  {key}: {value}")
    if offer["script"]:
        console.print(f"script: {offer['script']}")


def _decide(agent: str, action: str, offer_id: int | None) -> None:
    async def main(db: Database) -> Mapping[str, Any]:
        async with db.transaction() as tx:
            return await decide_offer(tx, agent, action, offer_id=offer_id, by=f"{who()} (cli)")

    done = run(lambda: with_database(main))
    if action == "more_time":
        console.print(f"offer {done['id']}: open until {done['expires_at']:%H:%M:%S} UTC")
    else:
        console.print(f"offer {done['id']}: {done['state']}")


@preview_app.command("accept")
def accept(agent: str = AGENT, offer: int = OFFER) -> None:
    """Accept the offer: the customer is called and put through to the agent."""
    _decide(agent, "accept", offer)


@preview_app.command("skip")
def skip(agent: str = AGENT, offer: int = OFFER) -> None:
    """Skip the offer: the contact goes back to the list (no attempt), the agent gets another."""
    _decide(agent, "skip", offer)


@preview_app.command("more-time")
def more_time(agent: str = AGENT, offer: int = OFFER) -> None:
    """Keep the offer open longer (the campaign's preview.more_time_s, at most max_more_time times)."""
    _decide(agent, "more_time", offer)


def register(app: typer.Typer) -> None:
    app.add_typer(preview_app, name="preview")
