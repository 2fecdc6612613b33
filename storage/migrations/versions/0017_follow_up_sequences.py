"""Follow-up sequences: enrolments (the step due next and when), one-time Telegram links for
web-form leads, and the contact's preferred channel, first origin and opt-out

Revision ID: 0017
Revises: 0016

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD COLUMNs (no table copy on SQLite), all NULL for the contacts so far
    op.add_column("contacts", sa.Column("preferred_channel", sa.String(length=16), nullable=True))
    op.add_column("contacts", sa.Column("first_origin", sa.String(length=64), nullable=True))
    op.add_column(
        "contacts",
        sa.Column("sequences_stopped_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "sequence_enrolments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("sequence", sa.String(length=32), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stop_reason", sa.String(length=32), nullable=True),
        sa.Column("messages_sent", sa.Integer(), nullable=False),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_sequence_enrolments_contact_id_contacts"),
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_sequence_enrolments_lead_id_leads")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sequence_enrolments")),
    )
    op.create_index(
        op.f("ix_sequence_enrolments_contact_id"), "sequence_enrolments", ["contact_id"]
    )
    op.create_index(op.f("ix_sequence_enrolments_lead_id"), "sequence_enrolments", ["lead_id"])
    # the sweep's range: active rows by due time
    op.create_index(
        "ix_sequence_enrolments_state_due_at", "sequence_enrolments", ["state", "due_at"]
    )
    op.create_table(
        "telegram_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_telegram_links_lead_id_leads")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telegram_links")),
        sa.UniqueConstraint("token", name=op.f("uq_telegram_links_token")),
    )
    op.create_index(op.f("ix_telegram_links_lead_id"), "telegram_links", ["lead_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_telegram_links_lead_id"), table_name="telegram_links")
    op.drop_table("telegram_links")
    op.drop_index("ix_sequence_enrolments_state_due_at", table_name="sequence_enrolments")
    op.drop_index(op.f("ix_sequence_enrolments_lead_id"), table_name="sequence_enrolments")
    op.drop_index(op.f("ix_sequence_enrolments_contact_id"), table_name="sequence_enrolments")
    op.drop_table("sequence_enrolments")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("sequences_stopped_at")
        batch_op.drop_column("first_origin")
        batch_op.drop_column("preferred_channel")
