"""polls: member polls, anonymous tallies, topics (and what an event came from)

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sa.String(length=64), nullable=True))
    op.create_table('poll_settings',
    sa.Column('network', sa.String(length=32), nullable=False),
    sa.Column('members_may_poll', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('topic_votes', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('network', name=op.f('pk_poll_settings'))
    )
    op.create_table('polls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('network', sa.String(length=32), nullable=False),
    sa.Column('room_id', sa.String(length=255), nullable=False),
    sa.Column('creator', sa.String(length=255), nullable=True),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('max_selections', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('event_id', sa.String(length=255), nullable=True),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_polls'))
    )
    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_polls_creator'), ['creator'], unique=False)
        batch_op.create_index(batch_op.f('ix_polls_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_polls_network'), ['network'], unique=False)

    op.create_table('topics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('network', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('proposer', sa.String(length=255), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('event_slug', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topics'))
    )
    with op.batch_alter_table('topics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_topics_network'), ['network'], unique=False)
        batch_op.create_index(batch_op.f('ix_topics_proposer'), ['proposer'], unique=False)

    op.create_table('poll_counts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('option', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_poll_counts_poll_id_polls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_poll_counts')),
    sa.UniqueConstraint('poll_id', 'option', name=op.f('uq_poll_counts_poll_id'))
    )
    op.create_table('poll_receipts',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_poll_receipts_poll_id_polls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_poll_receipts'))
    )
    with op.batch_alter_table('poll_receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_poll_receipts_poll_id'), ['poll_id'], unique=False)

    op.create_table('poll_voters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_poll_voters_poll_id_polls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_poll_voters')),
    sa.UniqueConstraint('poll_id', 'user_id', name=op.f('uq_poll_voters_poll_id'))
    )
    with op.batch_alter_table('poll_voters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_poll_voters_user_id'), ['user_id'], unique=False)

    op.create_table('poll_votes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('voted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_poll_votes_poll_id_polls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_poll_votes')),
    sa.UniqueConstraint('poll_id', 'user_id', name=op.f('uq_poll_votes_poll_id'))
    )
    with op.batch_alter_table('poll_votes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_poll_votes_user_id'), ['user_id'], unique=False)

    op.create_table('topic_votes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_topic_votes_topic_id_topics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topic_votes')),
    sa.UniqueConstraint('topic_id', 'user_id', name=op.f('uq_topic_votes_topic_id'))
    )
    with op.batch_alter_table('topic_votes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_topic_votes_user_id'), ['user_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('topic_votes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_topic_votes_user_id'))

    op.drop_table('topic_votes')
    with op.batch_alter_table('poll_votes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_poll_votes_user_id'))

    op.drop_table('poll_votes')
    with op.batch_alter_table('poll_voters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_poll_voters_user_id'))

    op.drop_table('poll_voters')
    with op.batch_alter_table('poll_receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_poll_receipts_poll_id'))

    op.drop_table('poll_receipts')
    op.drop_table('poll_counts')
    with op.batch_alter_table('topics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_topics_proposer'))
        batch_op.drop_index(batch_op.f('ix_topics_network'))

    op.drop_table('topics')
    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_polls_network'))
        batch_op.drop_index(batch_op.f('ix_polls_event_id'))
        batch_op.drop_index(batch_op.f('ix_polls_creator'))

    op.drop_table('polls')
    op.drop_table('poll_settings')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('origin')
