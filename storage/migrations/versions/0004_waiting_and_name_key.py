"""leads.waiting_since (nobody on duty when it arrived), contacts.name_key (duplicate search)

Revision ID: 0004
Revises: 0003

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_leads_waiting_since", ["waiting_since"], unique=False)
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f("ix_contacts_name_key"), ["name_key"], unique=False)
    _fill_name_keys()


def _fill_name_keys() -> None:
    """Contacts made before this revision get their key, folded as bot.intake.duplicates does."""
    contacts = sa.table(
        "contacts",
        sa.column("id", sa.Integer),
        sa.column("name", sa.Text),
        sa.column("name_key", sa.String),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(contacts.c.id, contacts.c.name).where(contacts.c.name.is_not(None))
    ).all()
    for contact_id, name in rows:
        folded = " ".join(name.casefold().replace("ё", "е").split())[:200] or None
        connection.execute(
            contacts.update().where(contacts.c.id == contact_id).values(name_key=folded)
        )


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_name_key"))
        batch_op.drop_column("name_key")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_waiting_since")
        batch_op.drop_column("waiting_since")
