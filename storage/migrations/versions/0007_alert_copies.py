"""Alert copies: the reminder and escalation messages sent about a lead, so they are re-drawn
after every change of the lead like its card

Revision ID: 0007
Revises: 0006

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_copies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("rendered_version", sa.Integer(), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_alert_copies_lead_id_leads")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_alert_copies_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_copies")),
        sa.UniqueConstraint("chat_id", "message_id", name="uq_alert_copies_chat_id"),
    )
    with op.batch_alter_table("alert_copies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_copies_lead_id"), ["lead_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alert_copies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_copies_lead_id"))
    op.drop_table("alert_copies")
