"""Reports find a period's leads by `created_at` and its calls by when they were made: index
ranges instead of reading every lead and call

Revision ID: 0009
Revises: 0008

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_leads_created_at"), ["created_at"], unique=False)
    # the report's missed calls are those made in the period: coalesce(started_at, created_at)
    op.create_index(
        "ix_calls_called_at",
        "calls",
        [sa.text("coalesce(started_at, created_at)")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_calls_called_at", table_name="calls")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leads_created_at"))
