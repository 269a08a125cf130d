"""Every SQL statement the contact and do-not-call commands run, named.

Single entries go through SQLAlchemy text() with named parameters; the bulk imports stage
rows with COPY on a raw asyncpg connection, so their statements take positional parameters.
"""

# --- do-not-call entries: `dnc add|remove|check` (named parameters) ---------------------

# A campaign's id and default_region by name (numbers without +country code are read in it).
CAMPAIGN_REGION = "SELECT id, settings->>'default_region' AS region FROM campaigns WHERE name = :n"

_UPSERT_DNC = """
INSERT INTO dnc_numbers (number, campaign_id, source, reason, added_by, expires_at)
VALUES (:number, :campaign_id, :source, :reason, :by, :expires_at)
ON CONFLICT {target} DO UPDATE SET source = EXCLUDED.source, reason = EXCLUDED.reason,
    added_by = EXCLUDED.added_by, added_at = now(), expires_at = EXCLUDED.expires_at
RETURNING (xmax = 0) AS inserted
"""

# A global DNC entry, added or refreshed; returns whether it is new.
UPSERT_GLOBAL_DNC = _UPSERT_DNC.format(target="(number) WHERE campaign_id IS NULL")

# A campaign's DNC entry, added or refreshed; returns whether it is new.
UPSERT_CAMPAIGN_DNC = _UPSERT_DNC.format(target="(campaign_id, number) WHERE campaign_id IS NOT NULL")

# The number's contacts still to dial, blocked (in the campaign, or everywhere when NULL);
# not those with alternate numbers: DNC is per number, the engine skips the listed one.
BLOCK_CONTACTS = (
    "UPDATE contacts SET state = 'blocked' WHERE number = :number"
    " AND state IN ('ready', 'claimed') AND cardinality(alt_numbers) = 0"
    " AND (CAST(:campaign_id AS integer) IS NULL OR campaign_id = :campaign_id)"
)

# A number off the global DNC list.
DELETE_GLOBAL_DNC = "DELETE FROM dnc_numbers WHERE number = :n AND campaign_id IS NULL"

# A number off a campaign's DNC list.
DELETE_CAMPAIGN_DNC = "DELETE FROM dnc_numbers WHERE number = :n AND campaign_id = :c"

# A number's live DNC entries that block it for the campaign (every list when NULL).
LIVE_DNC_ENTRIES = (
    "SELECT d.number, coalesce(c.name, 'global') AS scope, d.source, d.reason,"
    " d.added_at, d.expires_at FROM dnc_numbers d"
    " LEFT JOIN campaigns c ON c.id = d.campaign_id"
    " WHERE d.number = :n AND (d.expires_at IS NULL OR d.expires_at > now())"
    " AND (d.campaign_id IS NULL OR CAST(:c AS integer) IS NULL OR d.campaign_id = :c)"
    " ORDER BY d.added_at"
)

# --- DNC registry import: `dnc import` (positional, beside COPY) ------------------------

# A campaign's id by name.
DNC_IMPORT_CAMPAIGN_ID = "SELECT id, settings->>'default_region' AS region FROM campaigns WHERE name = $1"

# The staging table the file's numbers are copied into.
DNC_STAGING = """
CREATE TEMP TABLE dnc_staging (number text NOT NULL) ON COMMIT DROP
"""

# Staged numbers not yet listed, added to the list ($1: the campaign, NULL for global).
DNC_MERGE = """
INSERT INTO dnc_numbers (number, campaign_id, source, reason, added_by, expires_at)
SELECT DISTINCT s.number, $1::integer, $2, $3, $4, $5::timestamptz FROM dnc_staging s
ON CONFLICT DO NOTHING
"""

# The distinct numbers staged.
DNC_STAGED_COUNT = "SELECT count(DISTINCT number) FROM dnc_staging"

# Contacts still to dial whose number was staged, blocked ($1: the campaign, NULL for all);
# not those with alternate numbers (DNC is per number: the engine skips the listed one).
DNC_BLOCK_CONTACTS = """
UPDATE contacts k SET state = 'blocked'
FROM dnc_staging s
WHERE k.number = s.number AND k.state IN ('ready', 'claimed') AND cardinality(k.alt_numbers) = 0
  AND ($1::integer IS NULL OR k.campaign_id = $1)
"""

# --- contact import: `contacts import` (positional, beside COPY) ------------------------

# The campaign's id and state by name, held while contacts are added.
CAMPAIGN_FOR_IMPORT = (
    "SELECT id, state, settings->>'default_region' AS default_region FROM campaigns WHERE name = $1 FOR SHARE"
)


def staging_table(width: int) -> str:
    """The staging table: one text column per CSV column, so the raw row travels as CSV."""
    raw_columns = ", ".join(f"c{i} text" for i in range(width))
    return (
        "CREATE TEMP TABLE import_staging (line_no integer NOT NULL, number text NOT NULL,"
        f" alt_numbers text, timezone text, priority smallint NOT NULL, {raw_columns}, reject text)"
        " ON COMMIT DROP"
    )


# Planner statistics for the staged rows before the joins below.
ANALYZE_STAGING = "ANALYZE import_staging"


def _raw_array(width: int) -> str:
    return "ARRAY[" + ", ".join(f"s.c{i}" for i in range(width)) + "]"


_REJECT_EXISTING = """
UPDATE import_staging s SET reject = 'already in campaign'
FROM contacts c
WHERE c.campaign_id = $1 AND c.number = s.number AND s.reject IS NULL
RETURNING s.line_no, s.reject, {raw} AS raw
"""

# A row with alternate numbers is kept even when its main number is listed: DNC is per
# number (the engine skips the listed one when its turn comes).
_REJECT_DNC = """
UPDATE import_staging s SET reject = 'on do-not-call list'
WHERE s.reject IS NULL AND coalesce(s.alt_numbers, '') = '' AND EXISTS (
    SELECT 1 FROM dnc_numbers d
    WHERE d.number = s.number
      AND (d.campaign_id IS NULL OR d.campaign_id = $1)
      AND (d.expires_at IS NULL OR d.expires_at > now())
)
RETURNING s.line_no, s.reject, {raw} AS raw
"""


def rejects(width: int) -> tuple[str, str]:
    """Staged rows refused, in order: numbers already in the campaign, then numbers on a DNC
    list; each returns the line, the reason and the raw row."""
    return _REJECT_EXISTING.format(raw=_raw_array(width)), _REJECT_DNC.format(raw=_raw_array(width))


# The import's batch row, counts filled in at the end; returns its id.
INSERT_IMPORT_BATCH = (
    "INSERT INTO import_batches (campaign_id, file_name, rows_read, rows_imported,"
    " rows_rejected, imported_by) VALUES ($1, $2, 0, 0, 0, $3) RETURNING id"
)

_INSERT_CONTACTS = """
INSERT INTO contacts (campaign_id, number, alt_numbers, timezone, priority, fields, import_batch_id)
SELECT $1, s.number, coalesce(string_to_array(s.alt_numbers, ','), '{{}}'), s.timezone, s.priority,
       {fields}, $2
FROM import_staging s
WHERE s.reject IS NULL
ORDER BY s.line_no
ON CONFLICT (campaign_id, number) DO NOTHING
"""


def insert_contacts(field_cols: list[tuple[int, str]]) -> tuple[str, list[str]]:
    """The staged rows not refused, inserted as contacts, with the free-field columns picked
    by (integer) position; and the free fields' names ($3)."""
    if not field_cols:
        return _INSERT_CONTACTS.format(fields="'{}'::jsonb"), []
    values = ", ".join(f"s.c{index}" for index, _ in field_cols)
    return _INSERT_CONTACTS.format(fields=f"jsonb_object($3::text[], ARRAY[{values}])"), [
        name for _, name in field_cols
    ]


# The import batch's final counts.
FINISH_IMPORT_BATCH = (
    "UPDATE import_batches SET rows_read = $2, rows_imported = $3, rows_rejected = $4"
    " WHERE id = $1"
)
