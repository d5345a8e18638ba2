"""session rooms: who the bot let into each session's private room, at which power level

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('session_room_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('invited_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('session_id', 'user_id')
    )
    op.create_index(op.f('ix_session_room_members_session_id'), 'session_room_members', ['session_id'], unique=False)
    op.create_index(op.f('ix_session_room_members_user_id'), 'session_room_members', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_session_room_members_user_id'), table_name='session_room_members')
    op.drop_index(op.f('ix_session_room_members_session_id'), table_name='session_room_members')
    op.drop_table('session_room_members')
