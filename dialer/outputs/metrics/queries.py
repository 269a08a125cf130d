"""Every SQL statement the metrics recompute runs, named (SQLAlchemy `text()`, named binds).

All read-only, bounded by the last hour or the campaign's regulation window.
"""

from sqlalchemy import text

CAMPAIGNS = text("""
SELECT id, name, regulation FROM campaigns
""")

# Originates in the last hour, per campaign and second: calls_this_hour, calls_last_60m.
ORIGINATES_LAST_HOUR = text("""
SELECT c.name AS campaign,
       floor(extract(epoch FROM a.originated_at))::bigint AS second,
       count(*) AS n
FROM call_attempts a JOIN campaigns c ON c.id = a.campaign_id
WHERE a.originated_at > :since AND a.originated_at <= :now
GROUP BY 1, 2
""")

# Attempts that ended in the last hour, per campaign and second: the connect rates.
ENDINGS_LAST_HOUR = text("""
SELECT c.name AS campaign,
       floor(extract(epoch FROM a.ended_at))::bigint AS second,
       count(*) AS ended,
       count(a.answered_at) AS answered,
       count(a.connected_at) AS connected
FROM call_attempts a JOIN campaigns c ON c.id = a.campaign_id
WHERE a.ended_at > :since AND a.ended_at <= :now
GROUP BY 1, 2
""")

# Abandonment counts of one campaign over its window, classified exactly as
# compliance.abandonment.classify does (live / abandon / machine) with the connect wait of
# compliance.abandonment.connect_wait_s (from the queue join, else the answer: AMD and the
# greeting are not waiting for an agent); a queue hang-up never reached an agent, so it is
# always an abandon. Each call is filed when the engine's ledger files it: a connected
# call at its connect, any other at its end.
ABANDON_COUNTS = text("""
SELECT
  count(*) FILTER (WHERE outcome IN ('answered', 'abandoned', 'queue_hangup', 'opt_out')) AS live,
  count(*) FILTER (
    WHERE outcome IN ('abandoned', 'opt_out', 'queue_hangup')
       OR (outcome = 'answered' AND coalesce(queued_at, answered_at) IS NOT NULL AND connected_at IS NOT NULL
           AND connected_at - coalesce(queued_at, answered_at) > make_interval(secs => :deadline))
  ) AS abandons,
  count(*) FILTER (WHERE outcome = 'machine') AS machines
FROM call_attempts
WHERE campaign_id = :campaign_id AND ended_at IS NOT NULL
  AND coalesce(connected_at, ended_at) > :since AND coalesce(connected_at, ended_at) <= :now
""")
