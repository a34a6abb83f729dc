"""content versions (staff console publishing)

Revision ID: 0005_content
Revises: 0004
Create Date: 2026-11-30 11:05:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0005_content"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('cat_content_version',
    sa.Column('number', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('author', sa.String(length=254), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('restored_from', sa.Integer(), nullable=True),
    sa.Column('documents', sa.JSON(), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('files_digest', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('number')
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('cat_content_version')
