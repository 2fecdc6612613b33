"""Click-to-call: the call being set up for a lead (one press rings)

Revision ID: 0021
Revises: 0020

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dial_holds",
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_dial_holds_lead_id_leads")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_dial_holds_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_dial_holds")),
    )


def downgrade() -> None:
    op.drop_table("dial_holds")
