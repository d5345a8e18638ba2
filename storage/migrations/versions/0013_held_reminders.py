"""outbox.send_at, outbox.action_id: reminders prepared ahead of their time and held until it

Revision ID: 0013
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('send_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('action_id', sa.Integer(), nullable=True))
        batch.create_index('ix_outbox_action_id', ['action_id'])


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_index('ix_outbox_action_id')
        batch.drop_column('action_id')
        batch.drop_column('send_at')
