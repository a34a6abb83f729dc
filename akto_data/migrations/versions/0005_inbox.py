"""inbox and retraining: territory and staff decision on the review log, retrained models

Revision ID: 0005_inbox
Revises: 0004
Create Date: 2026-11-30 11:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0005_inbox"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("app_unanswered", schema=None) as batch_op:
        batch_op.add_column(sa.Column("territory", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("handled_as", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("handled_by", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_app_unanswered_territory"), ["territory"], unique=False)

    op.create_table("app_nlu_model",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("file", sa.String(length=500), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("step", sa.String(length=200), nullable=True),
    sa.Column("message", sa.Text(), nullable=True),
    sa.Column("scores", sa.JSON(), nullable=True),
    sa.Column("baseline", sa.JSON(), nullable=True),
    sa.Column("examples", sa.Integer(), nullable=True),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("created_by", sa.String(length=254), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("app_nlu_model", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_app_nlu_model_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("app_nlu_model", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_nlu_model_created_at"))
    op.drop_table("app_nlu_model")
    with op.batch_alter_table("app_unanswered", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_unanswered_territory"))
        batch_op.drop_column("handled_at")
        batch_op.drop_column("handled_by")
        batch_op.drop_column("handled_as")
        batch_op.drop_column("territory")
