"""Leads carry their milestones as reports credit them (first owner and take, the take's
working-time wait, last closer, first qualification), so a report reads one row per lead
instead of searching every lead's history

Revision ID: 0010
Revises: 0009

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the history's events, as bot/reports and bot/leads name them
TAKES = "('taken', 'reassigned')"
CLOSINGS = "('convert', 'refuse', 'junk', 'merged_into', 'closed')"
QUALIFYING = "('qualified', 'convert')"


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_owner_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("first_taken_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("first_take_work_s", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("closed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("qualified_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_leads_first_owner_id_staff"), "staff", ["first_owner_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_leads_closed_by_id_staff"), "staff", ["closed_by_id"], ["id"]
        )
    # the leads so far, from their history (as the reports read it before this revision). The
    # take's working-time wait needs the configured working hours, which a migration does not
    # know: it stays NULL for them and the report works it out for those leads when it meets
    # them (bot/reports/summary.py)
    first_take = (
        "(SELECT e.{col} FROM lead_events e WHERE e.lead_id = leads.id "
        f"AND e.kind IN {TAKES} ORDER BY e.id LIMIT 1)"
    )
    taker = (
        "(SELECT CASE WHEN e.kind = 'taken' THEN e.actor_id "
        "ELSE CAST({to} AS INTEGER) END FROM lead_events e "
        f"WHERE e.lead_id = leads.id AND e.kind IN {TAKES} ORDER BY e.id LIMIT 1)"
    )
    dialect = op.get_bind().dialect.name
    to = "json_extract(e.data, '$.to')" if dialect == "sqlite" else "(e.data ->> 'to')"
    op.execute(
        f"UPDATE leads SET first_owner_id = {taker.format(to=to)}, "
        f"first_taken_at = {first_take.format(col='created_at')}"
    )
    # a lead that had an owner but no take in its history (merged away: its events moved)
    op.execute(
        "UPDATE leads SET first_owner_id = owner_id, first_taken_at = taken_at "
        "WHERE first_owner_id IS NULL AND owner_id IS NOT NULL AND taken_at IS NOT NULL"
    )
    op.execute(
        "UPDATE leads SET closed_by_id = (SELECT e.actor_id FROM lead_events e "
        f"WHERE e.lead_id = leads.id AND e.kind IN {CLOSINGS} ORDER BY e.id DESC LIMIT 1) "
        "WHERE status IN ('converted', 'refused', 'junk')"
    )
    op.execute(
        "UPDATE leads SET qualified_at = (SELECT min(e.created_at) FROM lead_events e "
        f"WHERE e.lead_id = leads.id AND e.kind IN {QUALIFYING})"
    )


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_leads_closed_by_id_staff"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_leads_first_owner_id_staff"), type_="foreignkey")
        batch_op.drop_column("qualified_at")
        batch_op.drop_column("closed_by_id")
        batch_op.drop_column("first_take_work_s")
        batch_op.drop_column("first_taken_at")
        batch_op.drop_column("first_owner_id")
