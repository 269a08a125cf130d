"""call_attempts.recording_seconds: how long the call was recorded

Recorded seconds run from the recording's start (the dialplan's DialerRecording UserEvent,
sent right after MixMonitor) to the call's end; NULL when the call was not recorded.

Revision ID: 0003_recording_duration
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_recording_duration"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("call_attempts", sa.Column("recording_seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("call_attempts", "recording_seconds")
