"""call_attempts.decided_at (when the attempt policy was applied); engines.status

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("engines", sa.Column("status", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column("call_attempts", sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))
    # Attempts closed before this revision were decided when they were closed.
    op.execute("UPDATE call_attempts SET decided_at = ended_at WHERE ended_at IS NOT NULL")
    op.create_index(
        "ix_call_attempts_undecided",
        "call_attempts",
        ["engine_id"],
        unique=False,
        postgresql_where=sa.text("decided_at IS NULL AND ended_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_column("engines", "status")
    op.drop_index("ix_call_attempts_undecided", table_name="call_attempts")
    op.drop_column("call_attempts", "decided_at")
