"""The PostgreSQL LISTEN/NOTIFY channels between the operator commands and the engines.

Every NOTIFY is sent inside the transaction that made the change, so an engine hears of it
when the change is committed; each engine LISTENs on all of them (`dialer.engine.control`)
and also polls, so a notification missed while it was down costs only a few seconds.
"""

from __future__ import annotations

CAMPAIGN_CHANNEL = "dialer_campaign"
"""A campaign's state or settings changed. Payload: JSON `{"campaign_id": int, "state": str}`.
Sent by `dialer campaign ...` (`dialer.campaigns.service`), `dialer agents add|remove`
(`dialer.agents.service`), `dialer agents group` (`dialer.agents.groups`, to the campaigns
using the groups changed) and by an engine that pauses a finished pilot or completes a
campaign (`dialer.engine.store`). Heard by every engine, which reloads that campaign."""

AGENT_CHANNEL = "dialer_agent"
"""Pause or unpause an agent. Payload: JSON `{"agent": str, "paused": bool, "reason": str | null}`.
Sent by `dialer agents pause|unpause` (`dialer.agents.service`). Heard by every engine,
which sends QueuePause for the agent's queues (or remembers it until he joins them)."""

DISPOSITION_CHANNEL = "dialer_disposition"
"""An agent's disposition was stored. Payload: the attempt id (a UUID as text).
Sent by `dialer.agents.dispositions.record_disposition` (the CLI and the MQTT bus). Heard
by every engine, which applies the attempt policy to the contact at once (it also polls)."""

PREVIEW_CHANNEL = "dialer_preview"
"""An agent decided a preview offer (accept, skip, more time). Payload: the offer id (text).
Sent by `dialer.agents.offers.decide_offer` (`dialer preview ...` and the MQTT bus). Heard
by every engine, whose preview campaigns act on their decided offers at once (they also
look at every pacing tick)."""
