"""Every SQL statement `dialer status` runs, named (SQLAlchemy text(), in `Database.transaction()`)."""

# Engines heard from in the last day, with their live view and its age.
ENGINES = """
SELECT id, heartbeat_at, status, now() - heartbeat_at AS age FROM engines
WHERE heartbeat_at > now() - interval '1 day' ORDER BY id
"""

# Campaigns not finished (or changed today): contacts left to dial and attempts in the last hour.
CAMPAIGNS = """
SELECT c.name, c.state,
  (SELECT count(*) FROM contacts k WHERE k.campaign_id = c.id AND k.state IN ('ready', 'claimed')) AS dialable,
  (SELECT count(*) FROM call_attempts a WHERE a.campaign_id = c.id AND a.created_at > now() - interval '1 hour') AS attempts_hour
FROM campaigns c WHERE c.state NOT IN ('stopped', 'completed', 'draft') OR c.updated_at > now() - interval '1 day'
ORDER BY c.name
"""
