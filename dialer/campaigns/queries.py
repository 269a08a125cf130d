"""Every SQL statement the campaign commands run, named; SQLAlchemy text() with named parameters."""

_COLUMNS = "id, name, state, dial_mode, regulation, settings, created_at, updated_at"
_SELECT = f"SELECT {_COLUMNS} FROM campaigns"

# One campaign by name, locked for a settings or state change.
CAMPAIGN_FOR_UPDATE = f"{_SELECT} WHERE name = :name FOR UPDATE"

# One campaign by name.
CAMPAIGN = f"{_SELECT} WHERE name = :name"

# A new campaign, in draft, from its definition.
INSERT_CAMPAIGN = (
    "INSERT INTO campaigns (name, state, dial_mode, regulation, settings, pilot_limit)"
    " VALUES (:name, 'draft', :mode, :reg, CAST(:settings AS jsonb), :pilot)"
    f" RETURNING {_COLUMNS}"
)

# A campaign's new settings from its re-applied definition.
UPDATE_SETTINGS = (
    "UPDATE campaigns SET dial_mode = :mode, regulation = :reg,"
    " settings = CAST(:settings AS jsonb), pilot_limit = :pilot, updated_at = now()"
    " WHERE id = :id"
    f" RETURNING {_COLUMNS}"
)

# The state a paused campaign was paused from (pilot or running), so resume goes back there.
PAUSED_FROM = (
    "SELECT from_state FROM campaign_state_changes WHERE campaign_id = :id"
    " AND to_state = 'paused' ORDER BY changed_at DESC, id DESC LIMIT 1"
)

# A campaign's new life-cycle state.
SET_STATE = "UPDATE campaigns SET state = :state, updated_at = now() WHERE id = :id"

# The audit row of a state or settings change.
INSERT_STATE_CHANGE = (
    "INSERT INTO campaign_state_changes (campaign_id, from_state, to_state, changed_by, note)"
    " VALUES (:id, :from_state, :to_state, :by, :note)"
)

# Every campaign with its contacts, and those still to dial (`campaign list`).
LIST_CAMPAIGNS = (
    "SELECT c.id, c.name, c.state, c.dial_mode, c.regulation, c.updated_at,"
    " count(k.id) AS contacts,"
    " count(k.id) FILTER (WHERE k.state IN ('ready', 'claimed')) AS dialable"
    " FROM campaigns c LEFT JOIN contacts k ON k.campaign_id = c.id"
    " GROUP BY c.id ORDER BY c.name"
)

# A campaign's contacts counted by state (`campaign show`).
CONTACTS_BY_STATE = "SELECT state, count(*) FROM contacts WHERE campaign_id = :id GROUP BY state"

# A campaign's audit trail, oldest first (`campaign show`).
AUDIT_TRAIL = (
    "SELECT from_state, to_state, changed_by, changed_at, note"
    " FROM campaign_state_changes WHERE campaign_id = :id ORDER BY changed_at, id"
)

# A campaign's attempts so far (`campaign show`).
ATTEMPT_COUNT = "SELECT count(*) FROM call_attempts WHERE campaign_id = :id"

# A NOTIFY sent with the transaction that made the change (channels in dialer.db.notify).
NOTIFY = "SELECT pg_notify(:channel, :payload)"
