"""Leads carry their milestones as reports credit them (first owner and take, the take's
working-time wait, last closer, first qualification), so a report reads one row per lead
instead of searching every lead's history; answers owed are found by when they began

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
    dialect = op.get_bind().dialect.name
    for name in ("first_owner_id", "closed_by_id"):
        if dialect == "sqlite":
            # SQLite adds a column with its reference in place; the batch way (a copy of the
            # table) cannot drop `leads` while other tables' rows refer to it
            op.execute(
                f"ALTER TABLE leads ADD COLUMN {name} INTEGER "
                f"CONSTRAINT fk_leads_{name}_staff REFERENCES staff (id)"
            )
        else:
            op.add_column("leads", sa.Column(name, sa.Integer(), nullable=True))
            op.create_foreign_key(f"fk_leads_{name}_staff", "leads", "staff", [name], ["id"])
    op.add_column("leads", sa.Column("first_taken_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("leads", sa.Column("first_take_work_s", sa.Float(), nullable=True))
    op.add_column("leads", sa.Column("first_contact_work_s", sa.Float(), nullable=True))
    op.add_column("leads", sa.Column("qualified_at", sa.DateTime(timezone=True), nullable=True))
    # reports: the answers owed that began in a period
    op.create_index("ix_tasks_kind_created_at", "tasks", ["kind", "created_at"], unique=False)
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
    op.drop_index("ix_tasks_kind_created_at", table_name="tasks")
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("leads", schema=None) as batch_op:
        if not sqlite:  # SQLite's copy of the table leaves the dropped columns' references out
            batch_op.drop_constraint("fk_leads_closed_by_id_staff", type_="foreignkey")
            batch_op.drop_constraint("fk_leads_first_owner_id_staff", type_="foreignkey")
        for name in (
            "qualified_at",
            "closed_by_id",
            "first_take_work_s",
            "first_contact_work_s",
            "first_taken_at",
            "first_owner_id",
        ):
            batch_op.drop_column(name)
