"""schedule.network, schedule.recipient; members.reminders_off; events.reminder_offsets, events.questions_by;
networks.reminder_offsets

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('schedule') as batch:
        batch.add_column(sa.Column('network', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('recipient', sa.String(length=255), nullable=True))
        batch.create_index('ix_schedule_recipient', ['recipient'])
    with op.batch_alter_table('members') as batch:
        batch.add_column(sa.Column('reminders_off', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('events') as batch:
        batch.add_column(sa.Column('reminder_offsets', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('questions_by', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('networks') as batch:
        batch.add_column(sa.Column('reminder_offsets', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('networks') as batch:
        batch.drop_column('reminder_offsets')
    with op.batch_alter_table('events') as batch:
        batch.drop_column('questions_by')
        batch.drop_column('reminder_offsets')
    with op.batch_alter_table('members') as batch:
        batch.drop_column('reminders_off')
    with op.batch_alter_table('schedule') as batch:
        batch.drop_index('ix_schedule_recipient')
        batch.drop_column('recipient')
        batch.drop_column('network')
