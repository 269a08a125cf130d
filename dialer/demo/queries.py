"""Every SQL statement `dialer demo` runs, named; SQLAlchemy text() with named parameters."""

# Earlier demos' campaigns and their states.
DEMO_CAMPAIGNS = "SELECT name, state FROM campaigns WHERE name LIKE 'demo%'"

# The campaign's contacts still to dial, with their numbers and time zones.
DIALABLE_CONTACTS = (
    "SELECT k.number, k.timezone FROM contacts k JOIN campaigns c ON c.id = k.campaign_id"
    " WHERE c.name = :name AND k.state IN ('ready', 'claimed')"
)

# The campaign's attempts counted by outcome, most frequent first.
OUTCOME_COUNTS = (
    "SELECT outcome, count(*) AS n FROM call_attempts a JOIN campaigns c ON c.id = a.campaign_id"
    " WHERE c.name = :name GROUP BY outcome ORDER BY n DESC"
)

# The campaign's attempts, connects, attempts still open and average talk time.
ATTEMPT_TOTALS = (
    "SELECT count(*) AS attempts, count(*) FILTER (WHERE connected_at IS NOT NULL) AS connects,"
    " count(*) FILTER (WHERE ended_at IS NULL) AS open,"
    " avg(extract(epoch FROM ended_at - connected_at)) AS talk"
    " FROM call_attempts a JOIN campaigns c ON c.id = a.campaign_id WHERE c.name = :name"
)

# The campaign's state.
CAMPAIGN_STATE = "SELECT state FROM campaigns WHERE name = :name"
