"""E-mail as a channel: the letters leadbot read (mailbox UID, Message-ID) and sent

Revision ID: 0018
Revises: 0017

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "email_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("mailbox", sa.String(length=255), nullable=True),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("uid", sa.BigInteger(), nullable=True),
        sa.Column("in_reply_to", sa.String(length=998), nullable=True),
        sa.Column("thread_refs", sa.Text(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("from_address", sa.String(length=320), nullable=True),
        sa.Column("to_address", sa.String(length=320), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_email_letters_lead_id_leads")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_letters")),
        sa.UniqueConstraint(
            "direction", "message_id", name="uq_email_letters_direction_message_id"
        ),
        sa.UniqueConstraint("mailbox", "uidvalidity", "uid", name="uq_email_letters_mailbox_uid"),
    )
    op.create_index(op.f("ix_email_letters_lead_id"), "email_letters", ["lead_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_email_letters_lead_id"), table_name="email_letters")
    op.drop_table("email_letters")
