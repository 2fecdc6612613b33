"""Staff.extension: a staff member's internal phone number on the PBX, so a call event that
names an extension is known to be theirs

Revision ID: 0006
Revises: 0005

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("extension", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_staff_extension"), ["extension"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_extension"))
        batch_op.drop_column("extension")
