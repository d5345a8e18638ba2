"""sessions: closed groups of an event or workshop, their members, written-round contributions

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('workshop_id', sa.Integer(), nullable=True),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('facilitator', sa.String(length=255), nullable=True),
    sa.Column('room_id', sa.String(length=255), nullable=True),
    sa.Column('room_state', sa.String(length=16), nullable=False),
    sa.Column('method', sa.String(length=64), nullable=True),
    sa.Column('phase', sa.Integer(), nullable=True),
    sa.Column('turn', sa.Integer(), nullable=True),
    sa.Column('case_bringer', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_sessions_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workshop_id'], ['event_workshops.id'], name=op.f('fk_sessions_workshop_id_event_workshops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sessions')),
    sa.UniqueConstraint('event_id', 'slot', 'number', name=op.f('uq_sessions_event_id')),
    sa.UniqueConstraint('room_id', name=op.f('uq_sessions_room_id'))
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sessions_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sessions_facilitator'), ['facilitator'], unique=False)

    op.create_table('session_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_session_members_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_session_members_session_id_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_members')),
    sa.UniqueConstraint('event_id', 'slot', 'user_id', name=op.f('uq_session_members_event_id'))
    )
    with op.batch_alter_table('session_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_members_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_session_members_user_id'), ['user_id'], unique=False)

    op.create_table('session_contributions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('phase', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revealed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_session_contributions_session_id_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_contributions')),
    sa.UniqueConstraint('session_id', 'phase', 'user_id', name=op.f('uq_session_contributions_session_id'))
    )
    with op.batch_alter_table('session_contributions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_contributions_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_session_contributions_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_table('session_contributions')
    op.drop_table('session_members')
    op.drop_table('sessions')
