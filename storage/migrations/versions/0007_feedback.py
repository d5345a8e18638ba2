"""feedback: answers (an anonymous one with no person and only its day), who answered, forms in
progress, and each event's feedback form and deadline

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events') as batch:
        batch.add_column(sa.Column('feedback_form', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('feedback_deadline', sa.DateTime(timezone=True), nullable=True))

    op.create_table('feedback_answers',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('form', sa.String(length=64), nullable=False),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=True),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_feedback_answers_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_feedback_answers_session_id_sessions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_answers'))
    )
    with op.batch_alter_table('feedback_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_answers_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_answers_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_answers_user_id'), ['user_id'], unique=False)

    op.create_table('feedback_responded',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_feedback_responded_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_responded')),
    sa.UniqueConstraint('event_id', 'user_id', 'session_id', name=op.f('uq_feedback_responded_event_id'))
    )
    with op.batch_alter_table('feedback_responded', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_responded_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_responded_user_id'), ['user_id'], unique=False)

    op.create_table('feedback_progress',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_feedback_progress_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_progress')),
    sa.UniqueConstraint('event_id', 'user_id', 'session_id', name=op.f('uq_feedback_progress_event_id'))
    )
    with op.batch_alter_table('feedback_progress', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_progress_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_progress_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_table('feedback_progress')
    op.drop_table('feedback_responded')
    op.drop_table('feedback_answers')
    with op.batch_alter_table('events') as batch:
        batch.drop_column('feedback_deadline')
        batch.drop_column('feedback_form')
