"""Relayed messages know whose chat they are in and when their Reply button was taken away, so
a change of the lead strips Reply where it no longer works, once per message

Revision ID: 0008
Revises: 0007

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("relayed_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("staff_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("buttons_removed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_relayed_messages_staff_id_staff"), "staff", ["staff_id"], ["id"]
        )
        # every change of a lead now looks up its relayed messages
        batch_op.create_index(batch_op.f("ix_relayed_messages_lead_id"), ["lead_id"], unique=False)
    # the rows relayed so far: a staff member's private chat has their Telegram id; a group
    # chat (the team's) matches nobody and stays NULL, as it would be written now
    op.execute(
        "UPDATE relayed_messages SET staff_id = "
        "(SELECT staff.id FROM staff WHERE staff.telegram_id = relayed_messages.chat_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("relayed_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_relayed_messages_lead_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_relayed_messages_staff_id_staff"), type_="foreignkey"
        )
        batch_op.drop_column("buttons_removed_at")
        batch_op.drop_column("staff_id")
