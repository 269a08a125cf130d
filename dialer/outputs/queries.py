"""Every SQL statement the reports, the attempts export and the recordings purge run, named.

Reports go through SQLAlchemy text() with named parameters; the export streams with an
asyncpg cursor, so its statements take positional parameters.
"""

# --- reports: `dialer report` (named parameters) ----------------------------------------
# Parameters: :start, :end, :now, :campaign (name or NULL), :default_success, :human,
# :abandon (text arrays). The figures are defined in dialer.outputs.reports' docstring.

# The campaigns picked, their success codes, the period's attempts and agents' logged-in time.
_PERIOD_CTES = """
WITH picked AS (
  SELECT id, name, settings FROM campaigns
  WHERE CAST(:campaign AS text) IS NULL OR name = CAST(:campaign AS text)
),
success_codes AS (
  SELECT p.id AS campaign_id, d->>'code' AS code
  FROM picked p CROSS JOIN LATERAL jsonb_array_elements(p.settings->'dispositions') d
  WHERE jsonb_typeof(p.settings->'dispositions') = 'array'
    AND coalesce((d->>'success')::boolean, false)
  UNION ALL
  SELECT p.id, code FROM picked p CROSS JOIN unnest(CAST(:default_success AS text[])) code
  WHERE jsonb_typeof(p.settings->'dispositions') IS DISTINCT FROM 'array'
),
att AS (
  SELECT a.campaign_id, a.agent_id, a.outcome, a.connected_at, a.ended_at, a.wrapup_ended_at,
         a.recording_path, a.recording_seconds,
         EXISTS (SELECT 1 FROM success_codes s
                 WHERE s.campaign_id = a.campaign_id AND s.code = a.disposition) AS success
  FROM call_attempts a JOIN picked p ON p.id = a.campaign_id
  WHERE coalesce(a.originated_at, a.created_at) >= :start
    AND coalesce(a.originated_at, a.created_at) < :end
),
logged_in AS (
  SELECT s.agent_id,
         sum(greatest(0, extract(epoch FROM
             least(coalesce(s.logout_at, :now), :end) - greatest(s.login_at, :start)))) AS seconds
  FROM agent_sessions s
  WHERE s.login_at < :end AND coalesce(s.logout_at, :now) > :start
  GROUP BY s.agent_id
)
"""

# The figures of a group of attempts (same expressions for campaigns and agents).
_FIGURES = """
  count(a.campaign_id) AS attempts,
  count(a.connected_at) AS connects,
  count(*) FILTER (WHERE a.success) AS successes,
  count(*) FILTER (WHERE a.outcome = ANY(CAST(:human AS text[]))) AS human_answered,
  count(*) FILTER (WHERE a.outcome = ANY(CAST(:abandon AS text[]))) AS abandoned,
  coalesce(sum(extract(epoch FROM a.ended_at - a.connected_at)), 0)::float AS talk_seconds,
  avg(extract(epoch FROM a.ended_at - a.connected_at))::float AS avg_talk_seconds,
  avg(extract(epoch FROM a.wrapup_ended_at - a.ended_at))
      FILTER (WHERE a.connected_at IS NOT NULL)::float AS avg_wrapup_seconds,
  count(a.recording_path) AS recorded_calls,
  coalesce(sum(a.recording_seconds), 0)::float AS recorded_seconds
"""

# A campaign's figures over the period, one row per campaign with attempts (or the one asked for).
CAMPAIGN_REPORT = (
    _PERIOD_CTES
    + """,
campaign_agents AS (
  SELECT DISTINCT campaign_id, agent_id FROM att WHERE agent_id IS NOT NULL
),
campaign_hours AS (
  SELECT ca.campaign_id, sum(l.seconds) AS seconds
  FROM campaign_agents ca JOIN logged_in l ON l.agent_id = ca.agent_id
  GROUP BY ca.campaign_id
)
SELECT p.name AS name, NULL AS agent_name,"""
    + _FIGURES
    + """,
  coalesce(max(h.seconds), 0)::float AS logged_in_seconds
FROM picked p
LEFT JOIN att a ON a.campaign_id = p.id
LEFT JOIN campaign_hours h ON h.campaign_id = p.id
GROUP BY p.name
HAVING count(a.campaign_id) > 0 OR CAST(:campaign AS text) IS NOT NULL
ORDER BY p.name
"""
)

# Agents who took calls in the period, and (without --campaign) agents who were logged
# in but took none: their idle hours are exactly what ops look for.
AGENT_REPORT = (
    _PERIOD_CTES
    + """,
agents_seen AS (
  SELECT agent_id FROM att WHERE agent_id IS NOT NULL
  UNION
  SELECT agent_id FROM logged_in WHERE CAST(:campaign AS text) IS NULL
)
SELECT s.agent_id AS name, g.name AS agent_name,"""
    + _FIGURES
    + """,
  coalesce(max(l.seconds), 0)::float AS logged_in_seconds
FROM agents_seen s
LEFT JOIN agents g ON g.id = s.agent_id
LEFT JOIN att a ON a.agent_id = s.agent_id
LEFT JOIN logged_in l ON l.agent_id = s.agent_id
GROUP BY s.agent_id, g.name
ORDER BY s.agent_id
"""
)

# Whether the campaign exists.
CAMPAIGN_EXISTS = "SELECT 1 FROM campaigns WHERE name = :campaign"


# --- attempts export: `dialer attempts export` (positional, asyncpg cursor) -------------

# Whether the campaign exists.
EXPORT_CAMPAIGN_EXISTS = "SELECT 1 FROM campaigns WHERE name = $1"

# Every attempt, oldest first ($1: campaign name or NULL, $2: created since or NULL).
EXPORT_ATTEMPTS = """
SELECT a.id::text AS attempt_id, c.name AS campaign, a.contact_id, a.number,
       CASE WHEN a.number = ct.number THEN 0
            ELSE array_position(ct.alt_numbers::text[], a.number::text) END AS number_index,
       a.originated_at, a.answered_at, a.connected_at, a.ended_at,
       a.outcome, a.disposition, a.agent_id AS agent, a.hangup_cause, a.amd_result,
       a.recording_path, a.recording_seconds, a.recording_purged_at
FROM call_attempts a JOIN campaigns c ON c.id = a.campaign_id JOIN contacts ct ON ct.id = a.contact_id
WHERE ($1::text IS NULL OR c.name = $1) AND ($2::timestamptz IS NULL OR a.created_at >= $2)
ORDER BY a.created_at, a.id
"""


# --- recordings retention: `dialer recordings purge` ------------------------------------

# The campaigns whose recordings may be purged ($campaign: a name or NULL for all).
RECORDING_CAMPAIGNS = """
SELECT id, name, settings FROM campaigns
WHERE CAST(:campaign AS text) IS NULL OR name = CAST(:campaign AS text)
ORDER BY name
"""

# A campaign's recordings past retention and not purged yet, oldest first, a batch at a time
# after (:after_at, :after_id) (keyset: a dry run marks nothing; ix_call_attempts_recordings_kept).
RECORDINGS_PAST_RETENTION = """
SELECT id, ended_at, recording_path FROM call_attempts
WHERE campaign_id = :campaign_id AND recording_path IS NOT NULL AND recording_purged_at IS NULL
  AND ended_at < now() - make_interval(days => :days)
  AND (CAST(:after_at AS timestamptz) IS NULL
       OR (ended_at, id) > (CAST(:after_at AS timestamptz), CAST(:after_id AS uuid)))
ORDER BY ended_at, id
LIMIT :batch
"""

# How many of a campaign's recordings are past retention (for the progress bar).
COUNT_RECORDINGS_PAST_RETENTION = """
SELECT count(*) FROM call_attempts
WHERE campaign_id = :campaign_id AND recording_path IS NOT NULL AND recording_purged_at IS NULL
  AND ended_at < now() - make_interval(days => :days)
"""

# The files of these attempts are gone (deleted now, or already missing).
MARK_RECORDINGS_PURGED = """
UPDATE call_attempts SET recording_purged_at = now() WHERE id = ANY(CAST(:ids AS uuid[]))
"""
