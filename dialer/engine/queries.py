"""Every SQL statement the engine runs, named. Parameters are positional (asyncpg)."""

from dialer.db.notify import CAMPAIGN_CHANNEL

# --- engines: heartbeat and recovery of stalled work ----------------------------------

REGISTER_ENGINE = """
INSERT INTO engines (id, host, pid, started_at, heartbeat_at)
VALUES ($1, $2, $3, now(), now())
ON CONFLICT (id) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid,
    started_at = now(), heartbeat_at = now()
"""

HEARTBEAT = "UPDATE engines SET heartbeat_at = now(), status = $2::jsonb WHERE id = $1"

# Contacts an engine had claimed but not dialled go back to the pool.
RELEASE_OWN_CLAIMS = """
UPDATE contacts SET state = 'ready', claimed_by = NULL, claimed_at = NULL
WHERE claimed_by = $1 AND state = 'claimed'
"""

def _stale(me: str) -> str:
    """An engine `e` is stale when its heartbeat is older than $1 seconds, or has said
    "unhealthy" (a critical loop failing or stalled) for longer than that; never to itself
    (`me`: the parameter holding this engine's id)."""
    return f"""
e.id <> {me} AND (e.heartbeat_at < now() - make_interval(secs => $1)
    OR (e.status #>> '{{health,unhealthy_since}}')::timestamptz < now() - make_interval(secs => $1))
"""


# Claims of stale engines ($2: this engine).
RELEASE_STALE_CLAIMS = f"""
UPDATE contacts c SET state = 'ready', claimed_by = NULL, claimed_at = NULL
FROM engines e
WHERE c.claimed_by = e.id AND c.state = 'claimed' AND {_stale("$2")}
"""

# Attempts left open by an engine whose heartbeat is stale. One whose call had reached an
# agent (connected_at was stored as it happened) is closed answered with that agent, its end
# not seen: the contact stays in_call until a disposition (the agent's, or the system's
# after the timeout) decides it, as for any answered call. Any other: the outcome is
# unknown, and the contact goes back to the retry pool not before $2 seconds (a call might
# still be up on that engine's Asterisk: never dial it twice at once).
CLOSE_STALE_ATTEMPTS = f"""
WITH closed AS (
    UPDATE call_attempts a SET ended_at = now(),
        outcome = CASE WHEN a.connected_at IS NOT NULL THEN 'answered' ELSE 'unknown' END,
        note = 'engine ' || a.engine_id || ' stopped responding'
            || CASE WHEN a.connected_at IS NOT NULL
                    THEN ': the call had reached its agent, its end was not seen' ELSE '' END
    FROM engines e
    WHERE a.engine_id = e.id AND a.ended_at IS NULL AND {_stale("$3")}
    RETURNING a.contact_id, a.outcome
), released AS (
    UPDATE contacts c SET state = 'ready', claimed_by = NULL, claimed_at = NULL,
        last_outcome = 'unknown', next_attempt_at = now() + make_interval(secs => $2)
    FROM closed WHERE c.id = closed.contact_id AND c.state = 'in_call' AND closed.outcome = 'unknown'
)
SELECT count(*) FROM closed
"""

OPEN_ATTEMPTS_OF_ENGINE = """
SELECT a.id, a.campaign_id, c.name AS campaign, a.contact_id, a.number, a.attempt_no,
       a.originated_at, a.answered_at, a.queued_at, a.connected_at, a.agent_id, a.amd_result,
       a.recording_path, ct.fields, ct.timezone,
       CASE WHEN a.number = ct.number THEN 0
            ELSE array_position(ct.alt_numbers::text[], a.number::text) END AS number_index
FROM call_attempts a JOIN campaigns c ON c.id = a.campaign_id JOIN contacts ct ON ct.id = a.contact_id
WHERE a.engine_id = $1 AND a.ended_at IS NULL
"""

# --- campaigns ------------------------------------------------------------------------

DIALLING_CAMPAIGNS = """
SELECT id, name, state, settings FROM campaigns WHERE state IN ('pilot', 'running')
"""

CAMPAIGN_BY_ID = "SELECT id, name, state, settings FROM campaigns WHERE id = $1"

PILOT_ATTEMPTS = "SELECT count(*) FROM call_attempts WHERE campaign_id = $1"

SET_CAMPAIGN_STATE = """
WITH old AS (SELECT state FROM campaigns WHERE id = $1 FOR UPDATE),
changed AS (
    UPDATE campaigns SET state = $2, updated_at = now() WHERE id = $1 AND state = $3
    RETURNING id
)
INSERT INTO campaign_state_changes (campaign_id, from_state, to_state, changed_by, note)
SELECT id, $3, $2, $4, $5 FROM changed
RETURNING campaign_id
"""

NOTIFY_CAMPAIGN = f"SELECT pg_notify('{CAMPAIGN_CHANNEL}', $1)"

DIALABLE_LEFT = """
SELECT count(*) FROM contacts WHERE campaign_id = $1 AND state IN ('ready', 'claimed')
"""

# Contacts not finished: dialable now or later, claimed, or on a call.
UNDONE_CONTACTS = """
SELECT count(*) FROM contacts WHERE campaign_id = $1 AND state IN ('ready', 'claimed', 'in_call')
"""

# --- claiming contacts ------------------------------------------------------------------

# What a claim returns of each contact (`store.claimed_contact` reads it): the number on
# turn (the main one, or the alternate `number_index` points at), all its numbers, which are
# finished, and whether a callback is due.
CLAIMED_COLUMNS = """c.id, (ARRAY[c.number::text] || c.alt_numbers::text[])[c.number_index + 1] AS number,
    ARRAY[c.number::text] || c.alt_numbers::text[] AS numbers, c.number_index, c.numbers_done,
    c.timezone, c.attempts, c.fields, c.last_attempt_at,
    EXISTS (SELECT 1 FROM callbacks cb WHERE cb.contact_id = c.id AND cb.done_at IS NULL
            AND cb.scheduled_at <= now()) AS callback_due"""

# The hopper refill: the next dialable contacts in claim order, skipping rows another
# engine holds, index-only on ix_contacts_dialable. `number` is the one whose turn it is
# (the main, or an alternate: number_index), `numbers` all of them, main first.
# A contact with an open personal callback (booked by an agent for himself) is his
# (dialer.engine.personal), not the hopper's: while its grace ($4 minutes) runs, and for
# good when the campaign reschedules rather than hands it to the pool ($5 false).
CLAIM_CONTACTS = f"""
WITH picked AS (
    SELECT id FROM contacts
    WHERE campaign_id = $1 AND state = 'ready' AND next_attempt_at <= now()
      AND NOT EXISTS (SELECT 1 FROM callbacks p WHERE p.contact_id = contacts.id AND p.done_at IS NULL
                      AND p.agent_id IS NOT NULL
                      AND (NOT $5::bool OR p.scheduled_at > now() - make_interval(mins => $4::int)))
    ORDER BY priority DESC, next_attempt_at, id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE contacts c SET state = 'claimed', claimed_by = $3, claimed_at = now()
FROM picked WHERE c.id = picked.id
RETURNING {CLAIMED_COLUMNS}
"""

# Claim the given contacts of a campaign ($2) when ready, whatever their next attempt time
# (an agent-direct call: a personal callback, a preview pick); same columns as CLAIM_CONTACTS.
CLAIM_CONTACT_IDS = f"""
WITH picked AS (
    SELECT id FROM contacts
    WHERE campaign_id = $1 AND id = ANY($2::bigint[]) AND state = 'ready'
    FOR UPDATE SKIP LOCKED
)
UPDATE contacts c SET state = 'claimed', claimed_by = $3, claimed_at = now()
FROM picked WHERE c.id = picked.id
RETURNING {CLAIMED_COLUMNS}
"""

# Personal callbacks due now in a campaign, oldest first, whose contact is free to dial.
PERSONAL_CALLBACKS_DUE = """
SELECT cb.id, cb.contact_id, cb.agent_id, cb.scheduled_at, c.timezone
FROM callbacks cb JOIN contacts c ON c.id = cb.contact_id
WHERE cb.campaign_id = $1 AND cb.done_at IS NULL AND cb.agent_id IS NOT NULL
  AND cb.scheduled_at <= now() AND c.state = 'ready'
ORDER BY cb.scheduled_at, cb.id
LIMIT $2
"""

# A personal callback booked again for $2 (its contact waits for it too), with why ($3).
RESCHEDULE_CALLBACK = """
WITH cb AS (
    UPDATE callbacks SET scheduled_at = $2, note = $3 WHERE id = $1 AND done_at IS NULL
    RETURNING contact_id
)
UPDATE contacts c SET next_attempt_at = $2 FROM cb WHERE c.id = cb.contact_id AND c.state = 'ready'
"""

# A contact's due callbacks are done once the call for them is placed.
CALLBACKS_DONE = """
UPDATE callbacks SET done_at = now()
WHERE contact_id = ANY($1::bigint[]) AND done_at IS NULL AND scheduled_at <= now()
"""

# Each contact's attempts of the last two days ($2: now), oldest first, with the number
# each dialled (the gap is per number, the counts per contact): enough to count
# its attempts in any local day (the policy counts them in the contact's own day zone).
RECENT_ATTEMPTS = """
SELECT contact_id, array_agg(created_at ORDER BY created_at) AS times,
       array_agg(number::text ORDER BY created_at) AS numbers
FROM call_attempts
WHERE contact_id = ANY($1::bigint[]) AND created_at > $2::timestamptz - interval '2 days'
GROUP BY contact_id
"""

# Across all campaigns, each number's last call (minimum gap), its last abandoned one ($2:
# compliance.outcomes.ABANDON_OUTCOMES; 72 h rule) and its last machine (24 h rule).
NUMBER_HISTORY = """
SELECT number, max(created_at) AS last_attempt_at,
       max(ended_at) FILTER (WHERE outcome = ANY($2::text[])) AS last_abandon_at,
       max(ended_at) FILTER (WHERE outcome = 'machine') AS last_machine_at
FROM call_attempts WHERE number = ANY($1::text[])
GROUP BY number
"""

# Release claimed contacts; $2 is when each may be dialled next (NULL: unchanged).
RELEASE_CONTACTS = """
UPDATE contacts c SET state = 'ready', claimed_by = NULL, claimed_at = NULL,
    next_attempt_at = coalesce(v.next_at, c.next_attempt_at)
FROM unnest($1::bigint[], $2::timestamptz[]) AS v(id, next_at)
WHERE c.id = v.id AND c.claimed_by = $3 AND c.state = 'claimed'
"""

BLOCK_CONTACTS = """
UPDATE contacts SET state = 'blocked', claimed_by = NULL, claimed_at = NULL, last_outcome = 'dnc'
WHERE id = ANY($1::bigint[])
"""

# A claimed contact whose number on turn is on a DNC list while others are left: that number
# is finished ($3: the finished indexes), the turn passes to the next ($2), and the contact
# goes back to the pool, due now (DNC is per number).
SKIP_NUMBERS = """
UPDATE contacts c SET state = 'ready', claimed_by = NULL, claimed_at = NULL,
    number_index = v.next_index,
    numbers_done = ARRAY(SELECT DISTINCT unnest(c.numbers_done || v.done_index) ORDER BY 1)
FROM unnest($1::bigint[], $2::smallint[], $3::smallint[]) AS v(id, next_index, done_index)
WHERE c.id = v.id AND c.claimed_by = $4 AND c.state = 'claimed'
"""

# Claimed contacts that may never be dialled again (e.g. total attempts reached): finished,
# with the reason the claim was refused ($2), so the campaign can complete.
FINISH_CONTACTS = """
UPDATE contacts c SET state = 'exhausted', claimed_by = NULL, claimed_at = NULL, last_outcome = v.reason
FROM unnest($1::bigint[], $2::text[]) AS v(id, reason)
WHERE c.id = v.id AND c.claimed_by = $3 AND c.state = 'claimed'
"""

# Serialises every transaction about to dial one of these numbers ($1), whatever campaign
# or engine: the spacing rules read the numbers' history after this, and the lock holds
# until the attempts are committed. Locks are taken in one order (by hash) so that two
# engines locking overlapping batches cannot deadlock.
LOCK_NUMBERS = """
SELECT pg_advisory_xact_lock(h)
FROM (SELECT DISTINCT hashtext(n) AS h FROM unnest($1::text[]) AS n ORDER BY h) AS locks
"""

# DNC look-up right before Originate: includes numbers added a second ago.
DNC_BLOCKED = """
SELECT DISTINCT number FROM dnc_numbers
WHERE number = ANY($1::text[]) AND (campaign_id IS NULL OR campaign_id = $2)
  AND (expires_at IS NULL OR expires_at > now())
"""

# --- attempts ---------------------------------------------------------------------------

# Written, and committed, before the Originate is sent.
INSERT_ATTEMPTS = """
INSERT INTO call_attempts (id, campaign_id, contact_id, number, attempt_no, engine_id, originated_at)
SELECT v.id, $1, v.contact_id, v.number, v.attempt_no, $2, now()
FROM unnest($3::uuid[], $4::bigint[], $5::text[], $6::int[]) AS v(id, contact_id, number, attempt_no)
"""

# Only contacts this engine still holds: another engine may have released its claims
# while it was unhealthy (see RELEASE_STALE_CLAIMS), and a contact is never dialled twice.
CONTACTS_IN_CALL = """
UPDATE contacts SET state = 'in_call', attempts = attempts + 1, last_attempt_at = now()
WHERE id = ANY($1::bigint[]) AND claimed_by = $2 AND state = 'claimed'
RETURNING id
"""

# An Originate that never reached Asterisk: no call exists, so the attempt is undone.
CANCEL_ATTEMPT = "DELETE FROM call_attempts WHERE id = $1 AND ended_at IS NULL"

UNDO_CONTACT_ATTEMPT = """
UPDATE contacts SET state = 'ready', attempts = greatest(attempts - 1, 0), claimed_by = NULL,
    claimed_at = NULL
WHERE id = $1 AND state = 'in_call'
"""

# Progress of calls still up (answered, queued, connected, agent, AMD, recording's file),
# one batch per statement. A fact once stored is kept: NULL never overwrites it.
ATTEMPT_PROGRESS = """
UPDATE call_attempts a SET answered_at = coalesce(a.answered_at, v.answered_at),
    queued_at = coalesce(a.queued_at, v.queued_at),
    connected_at = coalesce(a.connected_at, v.connected_at),
    agent_id = coalesce(v.agent_id, a.agent_id), amd_result = coalesce(v.amd_result, a.amd_result),
    recording_path = coalesce(a.recording_path, v.recording_path)
FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::timestamptz[], $5::text[],
            $6::text[], $7::text[]) AS v(id, answered_at, queued_at, connected_at, agent_id,
            amd_result, recording_path)
WHERE a.id = v.id AND a.ended_at IS NULL
"""

# One closed attempt (the writer sends these in batches with executemany). Progress
# stored earlier is kept where the close knows less (e.g. after a restart).
CLOSE_ATTEMPT = """
UPDATE call_attempts SET answered_at = coalesce($2, answered_at),
    queued_at = coalesce($3, queued_at), connected_at = coalesce($4, connected_at), ended_at = $5,
    outcome = $6, originate_reason = $7, hangup_cause = $8,
    amd_result = coalesce($9, amd_result), agent_id = coalesce($10, agent_id),
    recording_path = coalesce($11, recording_path), note = $12, recording_seconds = $13
WHERE id = $1 AND ended_at IS NULL
"""

# The attempt policy's decision applied to the contact ($5: the attempt decided). Any
# engine may settle another's attempt, so: never while the contact is held by another
# engine than the attempt's (it was recovered and dialled again meanwhile), and never
# earlier than a time already set (the wait CLOSE_STALE_ATTEMPTS imposes on a contact whose
# call may still be up on a stalled engine's Asterisk). $6, $7: the number on turn next and
# the numbers finished (NULL: unchanged).
DECIDE_CONTACT = """
UPDATE contacts SET state = $2,
    next_attempt_at = greatest(coalesce($3, next_attempt_at), next_attempt_at),
    last_outcome = $4, claimed_by = NULL, claimed_at = NULL,
    number_index = coalesce($6, number_index), numbers_done = coalesce($7, numbers_done)
WHERE id = $1
  AND (state NOT IN ('claimed', 'in_call') OR claimed_by IS NULL
       OR claimed_by = (SELECT engine_id FROM call_attempts WHERE id = $5))
"""

MARK_DECIDED = "UPDATE call_attempts SET decided_at = now() WHERE id = $1"

SET_WRAPUP_ENDED = """
UPDATE call_attempts SET wrapup_ended_at = $2 WHERE id = $1 AND wrapup_ended_at IS NULL
"""

# Connected calls whose disposition has arrived (or is overdue) but not yet been applied
# to the contact, whichever engine placed them (its id changes when it moves host).
# The rows stay locked until the decision is written in the same transaction; another
# engine skips them, so each is settled once.
UNDECIDED_DISPOSITIONS = """
SELECT a.id, a.campaign_id, a.contact_id, a.number, a.outcome, a.disposition, a.agent_id,
       a.ended_at, c.timezone, ARRAY[c.number::text] || c.alt_numbers::text[] AS numbers,
       c.numbers_done, cb.scheduled_at AS callback_at, cb.agent_id AS callback_agent
FROM call_attempts a
JOIN contacts c ON c.id = a.contact_id
LEFT JOIN LATERAL (
    SELECT scheduled_at, agent_id FROM callbacks WHERE attempt_id = a.id ORDER BY id DESC LIMIT 1
) cb ON true
WHERE a.ended_at IS NOT NULL AND a.decided_at IS NULL
  AND (a.disposition IS NOT NULL OR a.ended_at < now() - make_interval(secs => $1))
ORDER BY a.ended_at
LIMIT $2
FOR UPDATE OF a SKIP LOCKED
"""

SET_SYSTEM_DISPOSITION = """
UPDATE call_attempts SET disposition = $2, disposition_at = now(), disposition_by = 'system'
WHERE id = $1 AND disposition IS NULL
"""

INSERT_DNC = """
INSERT INTO dnc_numbers (number, campaign_id, source, reason, added_by, expires_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING
"""

# Contacts of a number just put on a DNC list; one with alternate numbers is not blocked
# (DNC is per number: its listed number is skipped when its turn comes, see SKIP_NUMBERS).
BLOCK_NUMBER = """
UPDATE contacts SET state = 'blocked' WHERE number = $1 AND state IN ('ready', 'claimed')
  AND ($2::integer IS NULL OR campaign_id = $2) AND cardinality(alt_numbers) = 0
"""

# Outcomes inside the abandonment window, to rebuild the ledger at start, each filed when
# the live path files it (a connected call at its connect, any other at its end) and its
# connect wait computed as the live path does it (compliance.abandonment.connect_wait_s).
LEDGER_HISTORY = """
SELECT coalesce(connected_at, ended_at) AS counted_at, outcome, answered_at, queued_at, connected_at
FROM call_attempts
WHERE campaign_id = $1 AND ended_at IS NOT NULL
  AND coalesce(connected_at, ended_at) > now() - make_interval(secs => $2)
ORDER BY counted_at
"""

# --- agents -----------------------------------------------------------------------------

ENSURE_AGENTS = """
INSERT INTO agents (id, name) SELECT a, 'Agent ' || a FROM unnest($1::text[]) AS a
ON CONFLICT (id) DO NOTHING
"""

# The active agents in any of the groups $1 (a campaign's agent_groups), by id.
AGENTS_IN_GROUPS = "SELECT id FROM agents WHERE active AND groups::text[] && $1::text[] ORDER BY id"

AGENT_STATE_CHANGE = """
INSERT INTO agent_state_changes (agent_id, state, reason, at) VALUES ($1, $2, $3, $4)
"""

OPEN_AGENT_SESSION = """
INSERT INTO agent_sessions (agent_id, engine_id, login_at) VALUES ($1, $2, $3)
"""

CLOSE_AGENT_SESSION = """
UPDATE agent_sessions SET logout_at = $3
WHERE agent_id = $1 AND engine_id = $2 AND logout_at IS NULL
"""

CLOSE_ALL_AGENT_SESSIONS = """
UPDATE agent_sessions SET logout_at = now() WHERE engine_id = $1 AND logout_at IS NULL
"""

# Every ended attempt of these contacts, oldest first: their history for the attempt policy.
CONTACT_ATTEMPTS = """
SELECT contact_id, created_at, outcome, disposition, number FROM call_attempts
WHERE contact_id = ANY($1::bigint[]) AND ended_at IS NOT NULL ORDER BY created_at
"""

# These contacts' numbers (main first) and the indexes of those finished.
CONTACT_NUMBERS = """
SELECT id, ARRAY[number::text] || alt_numbers::text[] AS numbers, numbers_done FROM contacts
WHERE id = ANY($1::bigint[])
"""

# The schema revision the database is at (`dialer run` refuses an out-of-date schema).
SCHEMA_VERSION = "SELECT version_num FROM alembic_version"

# --- preview offers (dialer/engine/preview.py, run by dialer/engine/offer_store.py) ------

# An offer of a contact this engine holds ($2, claimed by $4) to an agent ($3), open for
# $5 seconds. Nothing when the agent (or the contact) already has an open offer: the
# partial unique indexes refuse a second one, whichever engine or campaign made it.
CREATE_OFFER = """
INSERT INTO preview_offers (campaign_id, contact_id, agent_id, engine_id, expires_at)
SELECT $1::integer, $2::bigint, $3::text, $4::text, now() + make_interval(secs => $5)
WHERE EXISTS (SELECT 1 FROM contacts WHERE id = $2 AND claimed_by = $4::text AND state = 'claimed')
ON CONFLICT DO NOTHING
RETURNING id, offered_at, expires_at
"""

# Open offers left over by another engine that no longer holds their contact (it stopped
# or went stale, and its claims were released): of the contact this engine now holds ($1),
# or of the agent it is about to make an offer to ($3). Closed, so that the contact and the
# agent can be offered again; an offer whose engine still holds its contact stays.
EXPIRE_LEFTOVER_OFFERS = """
UPDATE preview_offers o SET state = 'expired', decided_at = now(), decided_by = 'engine',
    settled_at = now(), note = 'left over: engine ' || o.engine_id || ' no longer holds the contact'
WHERE o.state = 'offered' AND o.engine_id <> $2 AND (o.contact_id = $1 OR o.agent_id = $3)
  AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.id = o.contact_id AND c.claimed_by = o.engine_id
                  AND c.state = 'claimed')
"""

# The offers a preview pass looks at: this engine's, of this campaign, not yet acted on.
UNSETTLED_OFFERS = """
SELECT id, contact_id, agent_id, state, offered_at, expires_at, more_time, decided_by,
       (state = 'offered' AND expires_at <= now()) AS due
FROM preview_offers WHERE engine_id = $1 AND campaign_id = $2 AND settled_at IS NULL
ORDER BY id
"""

# An open offer past its time: decided by the timeout ($2: 'expired', or 'accepted' when
# the campaign dials on timeout). Only if still open: an agent's answer in time wins.
TIME_OUT_OFFER = """
UPDATE preview_offers SET state = $2, decided_at = now(), decided_by = 'timeout'
WHERE id = $1 AND state = 'offered' AND expires_at <= now()
RETURNING id
"""

# The engine takes the decided offer in hand, once: the call for an accepted offer is placed
# by whoever sets this (never two calls for one offer), a skipped contact handed back.
SETTLE_OFFER = """
UPDATE preview_offers SET settled_at = now(), note = coalesce($2, note)
WHERE id = $1 AND settled_at IS NULL AND state <> 'offered'
RETURNING id
"""

# What an accepted offer gave: its attempt ($2), or why it gave none ($3).
SET_OFFER_OUTCOME = """
UPDATE preview_offers SET attempt_id = coalesce($2, attempt_id), note = coalesce($3, note) WHERE id = $1
"""

# After a restart: this engine's open offer's contact claimed again (RELEASE_OWN_CLAIMS
# let it go), unless another engine took it meanwhile. Columns as CLAIM_CONTACTS.
RECLAIM_OFFERED_CONTACT = f"""
UPDATE contacts c SET state = 'claimed', claimed_by = $2, claimed_at = now()
WHERE c.id = $1 AND (c.state = 'ready' OR (c.state = 'claimed' AND c.claimed_by = $2))
RETURNING {CLAIMED_COLUMNS}
"""

# An open offer whose contact could not be held again: closed unanswered.
DROP_OFFER = """
UPDATE preview_offers SET state = 'expired', decided_at = now(), decided_by = 'engine',
    settled_at = now(), note = $2
WHERE id = $1 AND state = 'offered'
"""

# (agent, contact) pairs skipped or left to expire within the last $2 seconds: not
# offered to the same agent again before then.
RECENT_SKIPS = """
SELECT agent_id, contact_id FROM preview_offers
WHERE campaign_id = $1 AND state IN ('skipped', 'expired') AND decided_at > now() - make_interval(secs => $2)
"""
