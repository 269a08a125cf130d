"""preview_offers: contacts offered to agents in preview dialling, and what became of them

Revision ID: 0006_preview
Revises: 0005_recording_purge
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006_preview"
down_revision = "0005_recording_purge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "preview_offers",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("engine_id", sa.String(length=64), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("more_time", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("state", sa.String(length=16), server_default="offered", nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempt_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint("state IN ('offered', 'accepted', 'skipped', 'expired')",
                           name=op.f("ck_preview_offers_state")),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE",
                                name=op.f("fk_preview_offers_campaign_id_campaigns")),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE",
                                name=op.f("fk_preview_offers_contact_id_contacts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preview_offers")),
    )
    # One open offer per agent and per contact: the database refuses a second one.
    op.create_index("ix_preview_offers_open_agent", "preview_offers", ["agent_id"], unique=True,
                    postgresql_where=sa.text("state = 'offered'"))
    op.create_index("ix_preview_offers_open_contact", "preview_offers", ["contact_id"], unique=True,
                    postgresql_where=sa.text("state = 'offered'"))
    # The engine's pass: its offers still open or decided but not yet acted on.
    op.create_index("ix_preview_offers_unsettled", "preview_offers", ["engine_id", "campaign_id"],
                    postgresql_where=sa.text("settled_at IS NULL"))
    # Recent skips of an agent (not offered to him again for a while) and `dialer preview show`.
    op.create_index("ix_preview_offers_agent", "preview_offers", ["agent_id", "offered_at"])


def downgrade() -> None:
    op.drop_table("preview_offers")
