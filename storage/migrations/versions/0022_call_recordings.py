"""Call recordings the PBX reported: what to ask its API for, tied to the call's lead

Revision ID: 0022
Revises: 0021

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_recordings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("ref", sa.String(length=255), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("duration", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_call_recordings_lead_id_leads")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_recordings")),
        sa.UniqueConstraint("provider", "ref", name="uq_call_recordings_provider_ref"),
    )
    op.create_index(op.f("ix_call_recordings_lead_id"), "call_recordings", ["lead_id"])
    op.create_index(
        "ix_call_recordings_provider_call_id", "call_recordings", ["provider", "call_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_call_recordings_provider_call_id", table_name="call_recordings")
    op.drop_index(op.f("ix_call_recordings_lead_id"), table_name="call_recordings")
    op.drop_table("call_recordings")
