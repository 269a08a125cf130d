"""Every SQL statement the agent commands and dispositions run, named.

SQLAlchemy text() with named parameters, in `Database.transaction()` (`record_disposition`
in the one its caller holds: the CLI's, the MQTT bus's, the demo's).
"""

# Every agent with its latest state, since when, its groups and the campaigns it works, by
# name or through a group (`agents list`).
LIST_AGENTS = """
SELECT a.id, a.name, a.active, a.groups,
       (SELECT s.state FROM agent_state_changes s WHERE s.agent_id = a.id ORDER BY s.at DESC, s.id DESC LIMIT 1) AS state,
       (SELECT s.at FROM agent_state_changes s WHERE s.agent_id = a.id ORDER BY s.at DESC, s.id DESC LIMIT 1) AS since,
       ARRAY(SELECT c.name FROM campaigns c WHERE c.settings->'agents' ? a.id
             OR c.settings->'agent_groups' ?| a.groups::text[] ORDER BY c.name) AS campaigns
FROM agents a ORDER BY a.id
"""

# An agent, added or renamed (:new_name NULL keeps the old one).
UPSERT_AGENT = (
    "INSERT INTO agents (id, name) VALUES (:agent, :name)"
    " ON CONFLICT (id) DO UPDATE SET name = coalesce(:new_name, agents.name)"
)

# Whether the agent exists.
AGENT_EXISTS = "SELECT 1 FROM agents WHERE id = :agent"

# A campaign's settings by name, locked while its agents list changes.
CAMPAIGN_FOR_UPDATE = "SELECT id, state, settings FROM campaigns WHERE name = :name FOR UPDATE"

# A campaign's settings with its new agents list.
UPDATE_CAMPAIGN_SETTINGS = (
    "UPDATE campaigns SET settings = CAST(:settings AS jsonb), updated_at = now() WHERE id = :id"
)

# The campaign's audit row of an agent assigned or removed (the state unchanged).
INSERT_STATE_CHANGE = (
    "INSERT INTO campaign_state_changes (campaign_id, from_state, to_state, changed_by, note)"
    " VALUES (:id, :state, :state, :by, :note)"
)

# --- dispositions ----------------------------------------------------------------------

# The attempt being dispositioned and its campaign's settings, locked.
ATTEMPT_FOR_DISPOSITION = """
SELECT a.id, a.campaign_id, a.agent_id, a.connected_at, a.ended_at, a.disposition,
       a.disposition_by, a.decided_at, a.contact_id, c.settings
FROM call_attempts a JOIN campaigns c ON c.id = a.campaign_id
WHERE a.id = :attempt
FOR UPDATE OF a
"""

# The attempt's disposition, who gave it, and the agent's note.
SET_DISPOSITION = """
UPDATE call_attempts SET disposition = :code, disposition_at = now(), disposition_by = :by,
    note = coalesce(:note, note)
WHERE id = :attempt
"""

# A callback the agent booked (:agent for a personal callback, else NULL).
INSERT_CALLBACK = """
INSERT INTO callbacks (campaign_id, contact_id, attempt_id, agent_id, scheduled_at, note)
VALUES (:campaign_id, :contact_id, :attempt, :agent, :at, :note)
"""

# --- notifications ---------------------------------------------------------------------

# A NOTIFY sent with the transaction that made the change (channels in dialer.db.notify).
NOTIFY = "SELECT pg_notify(:channel, :payload)"
# --- agent groups (SQLAlchemy text(), named parameters) ---------------------------------

# An agent's groups, locked while they change.
AGENT_GROUPS_FOR_UPDATE = "SELECT groups FROM agents WHERE id = :agent FOR UPDATE"

# The agent's new groups.
SET_AGENT_GROUPS = "UPDATE agents SET groups = CAST(:groups AS varchar(32)[]) WHERE id = :agent"

# The campaigns whose agent_groups name any of :groups (their engines re-read the members).
CAMPAIGNS_USING_GROUPS = (
    "SELECT id, state FROM campaigns WHERE settings->'agent_groups' ?| CAST(:groups AS text[])"
    " AND state NOT IN ('stopped', 'completed')"
)

# Every agent and whether active, for the broker's password file (`agents mqtt-passwords`).
AGENTS_FOR_LOGINS = "SELECT id, active FROM agents ORDER BY id"

# --- preview offers (dialer/agents/offers.py) ------------------------------------------

# The agent's open offer, else his latest one, with its contact and campaign (`preview show`).
AGENT_OFFER = """
SELECT o.id, o.state, o.offered_at, o.expires_at, o.more_time, o.decided_at, o.decided_by,
       o.attempt_id, o.note, c.name AS campaign, c.settings->>'script' AS script,
       c.settings->'preview' AS preview, ct.id AS contact_id, ct.number, ct.fields,
       greatest(0, extract(epoch FROM o.expires_at - now())) AS seconds_left
FROM preview_offers o JOIN campaigns c ON c.id = o.campaign_id JOIN contacts ct ON ct.id = o.contact_id
WHERE o.agent_id = :agent
ORDER BY (o.state = 'offered') DESC, o.id DESC
LIMIT 1
"""

# The offer an answer is about, locked: by its id, or the agent's open one (:offer NULL).
OFFER_FOR_DECISION = """
SELECT o.id, o.agent_id, o.state, o.more_time, o.expires_at, o.expires_at <= now() AS past,
       c.settings->'preview' AS preview
FROM preview_offers o JOIN campaigns c ON c.id = o.campaign_id
WHERE (CAST(:offer AS bigint) IS NOT NULL AND o.id = CAST(:offer AS bigint))
   OR (CAST(:offer AS bigint) IS NULL AND o.agent_id = :agent AND o.state = 'offered')
FOR UPDATE OF o
"""

# Accepted or skipped by the agent (still open and in time: the engine's timeout races it).
DECIDE_OFFER = """
UPDATE preview_offers SET state = :state, decided_at = now(), decided_by = :by
WHERE id = :offer AND state = 'offered' AND expires_at > now()
RETURNING id, state, expires_at
"""

# More time: the offer stays open :seconds longer, at most :max times.
EXTEND_OFFER = """
UPDATE preview_offers SET expires_at = expires_at + make_interval(secs => :seconds), more_time = more_time + 1
WHERE id = :offer AND state = 'offered' AND expires_at > now() AND more_time < :max
RETURNING id, state, expires_at
"""
