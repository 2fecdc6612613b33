"""staff skills and capacity, invites, round-robin turns, duplicate and merge links on leads

Revision ID: 0003
Revises: 0002

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("skills", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(sa.Column("capacity", sa.Integer(), nullable=True))
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("possible_duplicate_of_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("offered_to_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("wanted_skill", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_leads_possible_duplicate_of_id_leads"),
            "leads",
            ["possible_duplicate_of_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_leads_merged_into_id_leads"), "leads", ["merged_into_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_leads_offered_to_id_staff"), "staff", ["offered_to_id"], ["id"]
        )
        # the round-robin sweep: offers not taken in time
        batch_op.create_index("ix_leads_offered_at", ["offered_at"], unique=False)
    op.create_table(
        "invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["staff.id"], name=op.f("fk_invites_created_by_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["used_by_id"], ["staff.id"], name=op.f("fk_invites_used_by_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invites")),
        sa.UniqueConstraint("token", name=op.f("uq_invites_token")),
    )
    op.create_table(
        "routing_turns",
        sa.Column("pool", sa.String(length=64), nullable=False),
        sa.Column("last_staff_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["last_staff_id"], ["staff.id"], name=op.f("fk_routing_turns_last_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("pool", name=op.f("pk_routing_turns")),
    )


def downgrade() -> None:
    op.drop_table("routing_turns")
    op.drop_table("invites")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_offered_at")
        batch_op.drop_constraint(batch_op.f("fk_leads_offered_to_id_staff"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_leads_merged_into_id_leads"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_leads_possible_duplicate_of_id_leads"), type_="foreignkey"
        )
        for column in (
            "wanted_skill",
            "offered_at",
            "offered_to_id",
            "merged_into_id",
            "possible_duplicate_of_id",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("capacity")
        batch_op.drop_column("skills")
