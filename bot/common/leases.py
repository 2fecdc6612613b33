"""Rows of a queue table (webhook deliveries, outgoing letters) claimed by one sender for a
while: on PostgreSQL the claim is a lease (`claimed_until`, taken under SKIP LOCKED), so two
instances never hold the same row and a crashed one's rows come back when the lease ends; on
SQLite one process serves the database and the sender's own `held` set is enough."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, update
from sqlalchemy.ext.asyncio import AsyncSession

Row = TypeVar("Row")


async def claim_rows(
    session: AsyncSession,
    table: Any,  # a mapped class with `id` and `claimed_until`
    query: Select[tuple[Row]],
    now: datetime,
    lease: timedelta,
    held: Collection[int] = (),
) -> list[Row]:
    """The rows `query` selects (due ones, oldest first, limited), leased for `lease`;
    committed."""
    if session.bind.dialect.name == "sqlite":
        if held:
            query = query.where(table.id.not_in(list(held)))
        rows = list((await session.scalars(query)).all())
        await session.commit()
        return rows
    rows = list((await session.scalars(query.with_for_update(skip_locked=True))).all())
    if rows:
        await session.execute(
            update(table)
            .where(table.id.in_([row.id for row in rows]))  # type: ignore[attr-defined]
            .values(claimed_until=now + lease)
        )
    await session.commit()
    return rows


async def release_rows(session: AsyncSession, table: Any, ids: Sequence[int]) -> None:
    """Give claimed rows back so any instance may take them now (a sender stopping)."""
    for start in range(0, len(ids), 500):
        await session.execute(
            update(table).where(table.id.in_(ids[start : start + 500])).values(claimed_until=None)
        )
