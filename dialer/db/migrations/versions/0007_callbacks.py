"""callbacks: an index on the open personal callbacks by contact (the claim leaves them out)

Revision ID: 0007_callbacks
Revises: 0006_preview
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_callbacks"
down_revision = "0006_preview"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # CLAIM_CONTACTS skips contacts with an open personal callback: one look-up per contact.
    op.create_index(
        "ix_callbacks_personal_open",
        "callbacks",
        ["contact_id"],
        unique=False,
        postgresql_where=sa.text("done_at IS NULL AND agent_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_callbacks_personal_open", table_name="callbacks")
