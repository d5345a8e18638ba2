"""outbox.about, outbox.event_id, schedule.about: what concerns a person is found by reference

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('about', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('event_id', sa.String(length=255), nullable=True))
        batch.create_index('ix_outbox_about', ['about'])
    with op.batch_alter_table('schedule') as batch:
        batch.add_column(sa.Column('about', sa.String(length=255), nullable=True))
        batch.create_index('ix_schedule_about', ['about'])


def downgrade() -> None:
    with op.batch_alter_table('schedule') as batch:
        batch.drop_index('ix_schedule_about')
        batch.drop_column('about')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_index('ix_outbox_about')
        batch.drop_column('event_id')
        batch.drop_column('about')
