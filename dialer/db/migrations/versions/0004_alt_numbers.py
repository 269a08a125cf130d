"""contacts.number_index and contacts.numbers_done: which of a contact's numbers is dialled
next, and which are finished (alternate numbers, compliance/alternates.py)

Revision ID: 0004_alt_numbers
Revises: 0003_recording_duration
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_alt_numbers"
down_revision = "0003_recording_duration"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # 0: the main number, i: alt_numbers[i] (1-based, as PostgreSQL arrays).
    op.add_column("contacts", sa.Column("number_index", sa.SmallInteger(), server_default="0", nullable=False))
    op.add_column(
        "contacts",
        sa.Column("numbers_done", postgresql.ARRAY(sa.SmallInteger()), server_default="{}", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("contacts", "numbers_done")
    op.drop_column("contacts", "number_index")
