"""towns, webhook secret, reminders and notices

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('cat_territory') as batch:
        batch.add_column(sa.Column('towns', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('cat_cfa_delivery') as batch:
        batch.add_column(sa.Column('webhook_secret', sa.Text(), nullable=True))
    with op.batch_alter_table('app_lead') as batch:
        batch.add_column(sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('app_outbox') as batch:
        batch.add_column(sa.Column('kind', sa.String(length=16), nullable=False, server_default='lead'))
        batch.add_column(sa.Column('payload', sa.JSON(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('app_outbox') as batch:
        batch.drop_column('payload')
        batch.drop_column('kind')
    with op.batch_alter_table('app_lead') as batch:
        batch.drop_column('reminded_at')
    with op.batch_alter_table('cat_cfa_delivery') as batch:
        batch.drop_column('webhook_secret')
    with op.batch_alter_table('cat_territory') as batch:
        batch.drop_column('towns')
