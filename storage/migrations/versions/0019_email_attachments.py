"""E-mail intake: the files of a client's letter, kept until Telegram has them as documents

Revision ID: 0019
Revises: 0018

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "email_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_email_attachments_lead_id_leads")
        ),
        sa.ForeignKeyConstraint(
            ["letter_id"],
            ["email_letters.id"],
            name=op.f("fk_email_attachments_letter_id_email_letters"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_attachments")),
    )
    op.create_index(op.f("ix_email_attachments_lead_id"), "email_attachments", ["lead_id"])
    op.create_index(op.f("ix_email_attachments_letter_id"), "email_attachments", ["letter_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_email_attachments_letter_id"), table_name="email_attachments")
    op.drop_index(op.f("ix_email_attachments_lead_id"), table_name="email_attachments")
    op.drop_table("email_attachments")
