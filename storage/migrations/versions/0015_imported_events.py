"""History brought in from a file is marked so (`lead_events.imported`), and each imported
row is recorded once (`lead_events.import_key`, unique): importing the same file again
creates nothing new

Revision ID: 0015
Revises: 0014

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD COLUMNs (no table copy on SQLite): the history so far was lived here
    op.add_column(
        "lead_events",
        sa.Column("imported", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("lead_events", sa.Column("import_key", sa.String(length=64), nullable=True))
    # unique: of two imports of one row (two presses, two instances) one insert fails
    op.create_index(op.f("ix_lead_events_import_key"), "lead_events", ["import_key"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_lead_events_import_key"), table_name="lead_events")
    with op.batch_alter_table("lead_events", schema=None) as batch_op:
        batch_op.drop_column("import_key")
        batch_op.drop_column("imported")
