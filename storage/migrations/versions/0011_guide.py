"""guide: the method guide's steps, action points, reports and outcomes; phase start and timer

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phase_started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('timer_due', sa.DateTime(timezone=True), nullable=True))

    op.create_table('session_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=255), nullable=True),
    sa.Column('step', sa.String(length=32), nullable=False),
    sa.Column('phase', sa.Integer(), nullable=True),
    sa.Column('turn', sa.Integer(), nullable=True),
    sa.Column('detail', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_session_steps_session_id_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_steps'))
    )
    with op.batch_alter_table('session_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_steps_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_session_steps_actor'), ['actor'], unique=False)

    op.create_table('session_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=False),
    sa.Column('created_by', sa.String(length=255), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_by', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_session_actions_session_id_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_actions'))
    )
    with op.batch_alter_table('session_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_actions_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_session_actions_owner'), ['owner'], unique=False)
        batch_op.create_index('ix_session_actions_open_due', ['done_at', 'due_on'], unique=False)

    op.create_table('session_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('author', sa.String(length=255), nullable=True),
    sa.Column('written_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('shared_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('outcome_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_session_reports_session_id_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_reports')),
    sa.UniqueConstraint('session_id', name=op.f('uq_session_reports_session_id'))
    )


def downgrade() -> None:
    op.drop_table('session_reports')
    with op.batch_alter_table('session_actions', schema=None) as batch_op:
        batch_op.drop_index('ix_session_actions_open_due')
        batch_op.drop_index(batch_op.f('ix_session_actions_owner'))
        batch_op.drop_index(batch_op.f('ix_session_actions_session_id'))
    op.drop_table('session_actions')
    with op.batch_alter_table('session_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_steps_actor'))
        batch_op.drop_index(batch_op.f('ix_session_steps_session_id'))
    op.drop_table('session_steps')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('timer_due')
        batch_op.drop_column('phase_started_at')
