"""Advertising spend per source and month (/spend): the report's cost per lead and per deal

Revision ID: 0011
Revises: 0010

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ad_spend",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("entered_by_id", sa.Integer(), nullable=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entered_by_id"], ["staff.id"], name=op.f("fk_ad_spend_entered_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ad_spend")),
        # one amount a source and month: a second /spend replaces it (the report reads by it)
        sa.UniqueConstraint("source", "month", name="uq_ad_spend_source_month"),
    )


def downgrade() -> None:
    op.drop_table("ad_spend")
