"""Outbound webhooks and the Bitrix24 hand-off: webhook_deliveries (one event on its way to one
target), and the Bitrix24 contact and deal ids on the lead

Revision ID: 0013
Revises: 0011

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("give_up_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_webhook_deliveries_lead_id_leads")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    # what is due (the claim's range)
    op.create_index(
        "ix_webhook_deliveries_state_next_attempt_at",
        "webhook_deliveries",
        ["state", "next_attempt_at"],
    )
    # in order per lead and target: an earlier pending row of the lead holds a later one back
    op.create_index(
        "ix_webhook_deliveries_lead_id_target_id",
        "webhook_deliveries",
        ["lead_id", "target", "id"],
    )
    # counts per target and the oldest pending (leadbot webhooks, /metrics)
    op.create_index(
        "ix_webhook_deliveries_target_state_created_at",
        "webhook_deliveries",
        ["target", "state", "created_at"],
    )
    # plain ADD COLUMN (nullable, no reference): SQLite adds it in place, no copy of the table
    op.add_column("leads", sa.Column("bitrix24_contact_id", sa.BigInteger(), nullable=True))
    op.add_column("leads", sa.Column("bitrix24_deal_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch:
        batch.drop_column("bitrix24_deal_id")
        batch.drop_column("bitrix24_contact_id")
    op.drop_index("ix_webhook_deliveries_target_state_created_at", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_lead_id_target_id", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_state_next_attempt_at", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
