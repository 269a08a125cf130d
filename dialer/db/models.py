"""SQLAlchemy 2 models: the schema of DESIGN.md §6.

Schema changes go through Alembic migrations in `dialer/db/migrations/versions/`; these
models describe the head revision and a test checks the two agree.

A table whose concept also has a live object elsewhere is named with `Row` (`AgentRow`,
`AgentStateChangeRow`, `EngineRow`; the engine's `Agent`, `AgentStateChange` and `Engine`
are dialer.engine's).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class CampaignState(str, Enum):
    DRAFT = "draft"
    APPROVED = "approved"
    PILOT = "pilot"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    COMPLETED = "completed"


class ContactState(str, Enum):
    READY = "ready"  # dialable once next_attempt_at has passed
    CLAIMED = "claimed"  # in an engine's hopper (claimed_by, claimed_at)
    IN_CALL = "in_call"  # an attempt is in progress
    DONE = "done"  # a final outcome was reached
    EXHAUSTED = "exhausted"  # attempt limits reached without a final outcome
    BLOCKED = "blocked"  # on a do-not-call list, never dialled again by this campaign


def _states(enum: type[Enum]) -> str:
    return ", ".join(f"'{member.value}'" for member in enum)


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    state: Mapped[str] = mapped_column(String(16), default=CampaignState.DRAFT.value)
    dial_mode: Mapped[str] = mapped_column(String(16))
    regulation: Mapped[str] = mapped_column(String(16))
    # The validated campaign definition (dialer.campaigns.definition.CampaignDefinition) as JSON.
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB)
    pilot_limit: Mapped[int] = mapped_column(Integer, default=100)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (CheckConstraint(f"state IN ({_states(CampaignState)})", name="state"),)


class CampaignStateChange(Base):
    """Audit trail: who moved a campaign from which state to which, and when."""

    __tablename__ = "campaign_state_changes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    changed_by: Mapped[str] = mapped_column(String(100))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_campaign_state_changes_campaign", "campaign_id", "changed_at"),)


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(20))  # E.164
    alt_numbers: Mapped[list[str]] = mapped_column(ARRAY(String(20)), server_default="{}")
    # The number the next attempt dials: 0 the main one, i alt_numbers[i] (1-based); and the
    # numbers finished (invalid, on a DNC list...), by the same index (compliance/alternates.py).
    number_index: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    numbers_done: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger), server_default="{}")
    timezone: Mapped[str | None] = mapped_column(String(64))
    fields: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    state: Mapped[str] = mapped_column(String(16), server_default=ContactState.READY.value)
    priority: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("'-infinity'")
    )
    last_outcome: Mapped[str | None] = mapped_column(String(32))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    import_batch_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(f"state IN ({_states(ContactState)})", name="state"),
        Index("uq_contacts_campaign_number", "campaign_id", "number", unique=True),
        # The claim query's index: only dialable rows, in claim order, so the hopper
        # refill at ten million contacts reads a handful of index pages.
        Index(
            "ix_contacts_dialable",
            "campaign_id",
            text("priority DESC"),
            "next_attempt_at",
            "id",
            postgresql_where=text("state = 'ready'"),
        ),
        Index("ix_contacts_claimed_by", "claimed_by", postgresql_where=text("claimed_by IS NOT NULL")),
        Index("ix_contacts_number", "number"),
    )


class CallAttempt(Base):
    """One row per dial: written before its Originate, closed from AMI events."""

    __tablename__ = "call_attempts"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(20))
    attempt_no: Mapped[int] = mapped_column(Integer)
    engine_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    originated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    connected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    wrapup_ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(32))
    originate_reason: Mapped[int | None] = mapped_column(SmallInteger)
    hangup_cause: Mapped[int | None] = mapped_column(SmallInteger)
    amd_result: Mapped[str | None] = mapped_column(String(16))
    agent_id: Mapped[str | None] = mapped_column(String(32))
    disposition: Mapped[str | None] = mapped_column(String(32))
    disposition_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disposition_by: Mapped[str | None] = mapped_column(String(64))
    recording_path: Mapped[str | None] = mapped_column(Text)
    # Recorded seconds: from the recording's start (the dialplan's DialerRecording event,
    # right after MixMonitor) to the call's end; NULL when not recorded or the start unseen.
    recording_seconds: Mapped[float | None] = mapped_column(Float)
    # When `dialer recordings purge` deleted the file (its retention passed); the path stays.
    recording_purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    # When the attempt policy's decision (retry, callback, final) was applied to the contact.
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_call_attempts_campaign_created", "campaign_id", "created_at"),
        Index(
            "ix_call_attempts_undecided",
            "engine_id",
            postgresql_where=text("decided_at IS NULL AND ended_at IS NOT NULL"),
        ),
        Index("ix_call_attempts_contact", "contact_id", "created_at"),
        Index("ix_call_attempts_number", "number", "created_at"),
        Index("ix_call_attempts_open", "engine_id", postgresql_where=text("ended_at IS NULL")),
        Index(
            "ix_call_attempts_recordings_kept",
            "ended_at",
            postgresql_where=text("recording_path IS NOT NULL AND recording_purged_at IS NULL"),
        ),
    )


class DncNumber(Base):
    """Do-not-call: campaign_id NULL is the global list."""

    __tablename__ = "dnc_numbers"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    number: Mapped[str] = mapped_column(String(20))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    added_by: Mapped[str | None] = mapped_column(String(100))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("uq_dnc_global", "number", unique=True, postgresql_where=text("campaign_id IS NULL")),
        Index(
            "uq_dnc_campaign",
            "campaign_id",
            "number",
            unique=True,
            postgresql_where=text("campaign_id IS NOT NULL"),
        ),
        # Look-up by number covering scope and expiry: index-only DNC checks.
        Index("ix_dnc_number", "number", "campaign_id", "expires_at"),
    )


class AgentRow(Base):
    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # e.g. "1001"
    name: Mapped[str] = mapped_column(String(100))
    groups: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default="{}")
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CampaignAgent(Base):
    __tablename__ = "campaign_agents"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )


class AgentSession(Base):
    """An agent's time logged in, with state changes for occupancy and reports."""

    __tablename__ = "agent_sessions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    engine_id: Mapped[str] = mapped_column(String(64))
    login_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    logout_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_agent_sessions_agent", "agent_id", "login_at"),)


class AgentStateChangeRow(Base):
    __tablename__ = "agent_state_changes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_agent_state_changes_agent", "agent_id", "at"),)


class Callback(Base):
    """A callback an agent booked for a time the contact chose."""

    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    attempt_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    agent_id: Mapped[str | None] = mapped_column(String(32))  # set: personal callback
    scheduled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_callbacks_due", "campaign_id", "scheduled_at", postgresql_where=text("done_at IS NULL")),
        # Open personal callbacks by contact: the claim query leaves their contacts out.
        Index("ix_callbacks_personal_open", "contact_id",
              postgresql_where=text("done_at IS NULL AND agent_id IS NOT NULL")),
    )


class PreviewOffer(Base):
    """A contact offered to an agent in preview dialling, and what the agent (or the
    timeout) decided: offered -> accepted | skipped | expired; `settled_at` once the
    engine acted on it (the call placed, or the contact handed back)."""

    __tablename__ = "preview_offers"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(Integer, ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("contacts.id", ondelete="CASCADE"))
    agent_id: Mapped[str] = mapped_column(String(32))
    engine_id: Mapped[str] = mapped_column(String(64))
    offered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    more_time: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    state: Mapped[str] = mapped_column(String(16), server_default="offered")
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(Text)
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempt_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("state IN ('offered', 'accepted', 'skipped', 'expired')", name="state"),
        Index("ix_preview_offers_open_agent", "agent_id", unique=True, postgresql_where=text("state = 'offered'")),
        Index("ix_preview_offers_open_contact", "contact_id", unique=True,
              postgresql_where=text("state = 'offered'")),
        Index("ix_preview_offers_unsettled", "engine_id", "campaign_id", postgresql_where=text("settled_at IS NULL")),
        Index("ix_preview_offers_agent", "agent_id", "offered_at"),
    )


class EngineRow(Base):
    """A running engine's heartbeat; claims of an engine whose heartbeat is stale are released."""

    __tablename__ = "engines"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The engine's live view (campaigns, calls, agents, dial level), for `dialer status`.
    status: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class ImportBatch(Base):
    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    file_name: Mapped[str] = mapped_column(Text)
    rows_read: Mapped[int] = mapped_column(Integer)
    rows_imported: Mapped[int] = mapped_column(Integer)
    rows_rejected: Mapped[int] = mapped_column(Integer)
    imported_by: Mapped[str] = mapped_column(String(100))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
