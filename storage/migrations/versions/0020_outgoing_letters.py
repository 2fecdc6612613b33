"""Outgoing letters carry their body, their attachment's Telegram file, their writer and their
delivery state: the row is the mail sender's queue entry (claimed, retried with back-off,
settled)

Revision ID: 0020
Revises: 0019

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
# after main's 0021 (click-to-call), already merged there: a database at 0021 upgrades to this
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("email_letters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("staff_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("attachment", sa.JSON(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_email_letters_staff_id_staff"), "staff", ["staff_id"], ["id"]
        )
        batch_op.create_index(
            "ix_email_letters_outcome_next_attempt_at", ["outcome", "next_attempt_at"]
        )


def downgrade() -> None:
    with op.batch_alter_table("email_letters", schema=None) as batch_op:
        batch_op.drop_index("ix_email_letters_outcome_next_attempt_at")
        batch_op.drop_constraint(batch_op.f("fk_email_letters_staff_id_staff"), type_="foreignkey")
        batch_op.drop_column("attachment")
        batch_op.drop_column("sent_at")
        batch_op.drop_column("last_error")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
        batch_op.drop_column("staff_id")
        batch_op.drop_column("body")
