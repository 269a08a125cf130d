"""call_attempts.recording_purged_at: when `dialer recordings purge` deleted the recording

The path stays on the attempt (the audit trail says what was recorded and where); this
column says the file is gone, and when, so a purge never counts it twice.

Revision ID: 0005_recording_purge
Revises: 0004_alt_numbers
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_recording_purge"
down_revision = "0004_alt_numbers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("call_attempts", sa.Column("recording_purged_at", sa.DateTime(timezone=True), nullable=True))
    # The purge looks for recorded attempts not purged yet, oldest first.
    op.create_index(
        "ix_call_attempts_recordings_kept", "call_attempts", ["ended_at"],
        postgresql_where=sa.text("recording_path IS NOT NULL AND recording_purged_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_call_attempts_recordings_kept", table_name="call_attempts")
    op.drop_column("call_attempts", "recording_purged_at")
