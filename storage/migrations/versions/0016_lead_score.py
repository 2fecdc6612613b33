"""The lead score's counts (`score_counts`: won / lost per factor value) and its last full
recount (`score_model`: when, the held-out leads, the AUC measured on them)

Revision ID: 0016
Revises: 0015

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "score_counts",
        sa.Column("feature", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("won", sa.Integer(), nullable=False),
        sa.Column("lost", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("feature", "value", name=op.f("pk_score_counts")),
    )
    op.create_table(
        "score_model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_out_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("held_out", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Integer(), nullable=False),
        sa.Column("auc", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_model")),
    )


def downgrade() -> None:
    op.drop_table("score_model")
    op.drop_table("score_counts")
