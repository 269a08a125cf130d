"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 15:13:07.455616
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agents',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('groups', postgresql.ARRAY(sa.String(length=32)), server_default='{}', nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agents'))
    )
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('dial_mode', sa.String(length=16), nullable=False),
    sa.Column('regulation', sa.String(length=16), nullable=False),
    sa.Column('settings', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('pilot_limit', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("state IN ('draft', 'approved', 'pilot', 'running', 'paused', 'stopped', 'completed')", name=op.f('ck_campaigns_state')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    sa.UniqueConstraint('name', name=op.f('uq_campaigns_name'))
    )
    op.create_table('engines',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_engines'))
    )
    op.create_table('agent_sessions',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('agent_id', sa.String(length=32), nullable=False),
    sa.Column('engine_id', sa.String(length=64), nullable=False),
    sa.Column('login_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('logout_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_sessions_agent_id_agents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_sessions'))
    )
    op.create_index('ix_agent_sessions_agent', 'agent_sessions', ['agent_id', 'login_at'], unique=False)
    op.create_table('agent_state_changes',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('agent_id', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_state_changes_agent_id_agents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_state_changes'))
    )
    op.create_index('ix_agent_state_changes_agent', 'agent_state_changes', ['agent_id', 'at'], unique=False)
    op.create_table('campaign_agents',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_campaign_agents_agent_id_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_agents_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', 'agent_id', name=op.f('pk_campaign_agents'))
    )
    op.create_table('campaign_state_changes',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('changed_by', sa.String(length=100), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_state_changes_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_state_changes'))
    )
    op.create_index('ix_campaign_state_changes_campaign', 'campaign_state_changes', ['campaign_id', 'changed_at'], unique=False)
    op.create_table('contacts',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('alt_numbers', postgresql.ARRAY(sa.String(length=20)), server_default='{}', nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.Column('fields', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('state', sa.String(length=16), server_default='ready', nullable=False),
    sa.Column('priority', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text("'-infinity'"), nullable=False),
    sa.Column('last_outcome', sa.String(length=32), nullable=True),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('import_batch_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("state IN ('ready', 'claimed', 'in_call', 'done', 'exhausted', 'blocked')", name=op.f('ck_contacts_state')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_contacts_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts'))
    )
    op.create_index('ix_contacts_claimed_by', 'contacts', ['claimed_by'], unique=False, postgresql_where=sa.text('claimed_by IS NOT NULL'))
    op.create_index('ix_contacts_dialable', 'contacts', ['campaign_id', sa.literal_column('priority DESC'), 'next_attempt_at', 'id'], unique=False, postgresql_where=sa.text("state = 'ready'"))
    op.create_index('ix_contacts_number', 'contacts', ['number'], unique=False)
    op.create_index('uq_contacts_campaign_number', 'contacts', ['campaign_id', 'number'], unique=True)
    op.create_table('dnc_numbers',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('added_by', sa.String(length=100), nullable=True),
    sa.Column('added_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_dnc_numbers_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dnc_numbers'))
    )
    op.create_index('ix_dnc_number', 'dnc_numbers', ['number', 'campaign_id', 'expires_at'], unique=False)
    op.create_index('uq_dnc_campaign', 'dnc_numbers', ['campaign_id', 'number'], unique=True, postgresql_where=sa.text('campaign_id IS NOT NULL'))
    op.create_index('uq_dnc_global', 'dnc_numbers', ['number'], unique=True, postgresql_where=sa.text('campaign_id IS NULL'))
    op.create_table('import_batches',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.Text(), nullable=False),
    sa.Column('rows_read', sa.Integer(), nullable=False),
    sa.Column('rows_imported', sa.Integer(), nullable=False),
    sa.Column('rows_rejected', sa.Integer(), nullable=False),
    sa.Column('imported_by', sa.String(length=100), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_import_batches_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_batches'))
    )
    op.create_table('call_attempts',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.BigInteger(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('attempt_no', sa.Integer(), nullable=False),
    sa.Column('engine_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('originated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('connected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('wrapup_ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('originate_reason', sa.SmallInteger(), nullable=True),
    sa.Column('hangup_cause', sa.SmallInteger(), nullable=True),
    sa.Column('amd_result', sa.String(length=16), nullable=True),
    sa.Column('agent_id', sa.String(length=32), nullable=True),
    sa.Column('disposition', sa.String(length=32), nullable=True),
    sa.Column('disposition_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disposition_by', sa.String(length=64), nullable=True),
    sa.Column('recording_path', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_call_attempts_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_call_attempts_contact_id_contacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_attempts'))
    )
    op.create_index('ix_call_attempts_campaign_created', 'call_attempts', ['campaign_id', 'created_at'], unique=False)
    op.create_index('ix_call_attempts_contact', 'call_attempts', ['contact_id', 'created_at'], unique=False)
    op.create_index('ix_call_attempts_number', 'call_attempts', ['number', 'created_at'], unique=False)
    op.create_index('ix_call_attempts_open', 'call_attempts', ['engine_id'], unique=False, postgresql_where=sa.text('ended_at IS NULL'))
    op.create_table('callbacks',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.BigInteger(), nullable=False),
    sa.Column('attempt_id', sa.UUID(), nullable=True),
    sa.Column('agent_id', sa.String(length=32), nullable=True),
    sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_callbacks_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_callbacks_contact_id_contacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callbacks'))
    )
    op.create_index('ix_callbacks_due', 'callbacks', ['campaign_id', 'scheduled_at'], unique=False, postgresql_where=sa.text('done_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_callbacks_due', table_name='callbacks', postgresql_where=sa.text('done_at IS NULL'))
    op.drop_table('callbacks')
    op.drop_index('ix_call_attempts_open', table_name='call_attempts', postgresql_where=sa.text('ended_at IS NULL'))
    op.drop_index('ix_call_attempts_number', table_name='call_attempts')
    op.drop_index('ix_call_attempts_contact', table_name='call_attempts')
    op.drop_index('ix_call_attempts_campaign_created', table_name='call_attempts')
    op.drop_table('call_attempts')
    op.drop_table('import_batches')
    op.drop_index('uq_dnc_global', table_name='dnc_numbers', postgresql_where=sa.text('campaign_id IS NULL'))
    op.drop_index('uq_dnc_campaign', table_name='dnc_numbers', postgresql_where=sa.text('campaign_id IS NOT NULL'))
    op.drop_index('ix_dnc_number', table_name='dnc_numbers')
    op.drop_table('dnc_numbers')
    op.drop_index('uq_contacts_campaign_number', table_name='contacts')
    op.drop_index('ix_contacts_number', table_name='contacts')
    op.drop_index('ix_contacts_dialable', table_name='contacts', postgresql_where=sa.text("state = 'ready'"))
    op.drop_index('ix_contacts_claimed_by', table_name='contacts', postgresql_where=sa.text('claimed_by IS NOT NULL'))
    op.drop_table('contacts')
    op.drop_index('ix_campaign_state_changes_campaign', table_name='campaign_state_changes')
    op.drop_table('campaign_state_changes')
    op.drop_table('campaign_agents')
    op.drop_index('ix_agent_state_changes_agent', table_name='agent_state_changes')
    op.drop_table('agent_state_changes')
    op.drop_index('ix_agent_sessions_agent', table_name='agent_sessions')
    op.drop_table('agent_sessions')
    op.drop_table('engines')
    op.drop_table('campaigns')
    op.drop_table('agents')
