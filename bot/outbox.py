"""The outbox: notifications written in the same transaction as the change that causes them.

The notifier (bot/notifier.py) sends them after the commit; these functions are its
database side and know nothing of Telegram.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Lead, LeadCard, OutboxKind, OutboxMessage, OutboxState


def card_message(lead: Lead, chat_id: int, staff_id: int | None, now: datetime) -> OutboxMessage:
    return OutboxMessage(
        kind=OutboxKind.CARD, lead=lead, chat_id=chat_id, staff_id=staff_id,
        payload={}, created_at=now,
    )  # fmt: skip


def card_refresh(lead: Lead, now: datetime) -> OutboxMessage:
    return OutboxMessage(kind=OutboxKind.CARD_REFRESH, lead=lead, payload={}, created_at=now)


def text_message(
    lead: Lead | None,
    chat_id: int,
    staff_id: int | None,
    template: str,
    context: dict[str, Any],
    now: datetime,
) -> OutboxMessage:
    """A message rendered from `template` at send time, in the recipient's language."""
    return OutboxMessage(
        kind=OutboxKind.TEXT, lead=lead, chat_id=chat_id, staff_id=staff_id,
        payload={"template": template, "context": context}, created_at=now,
    )  # fmt: skip


async def claim_due(
    session: AsyncSession, now: datetime, limit: int, lease: timedelta
) -> list[OutboxMessage]:
    """Take up to `limit` due rows for this sender, oldest first, for `lease`.

    On PostgreSQL rows are locked with SKIP LOCKED so two instances never take the same row;
    the lease lets another instance take over the rows of a sender that died.
    """
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.state == OutboxState.PENDING,
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list((await session.scalars(query)).all())
    if rows:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([row.id for row in rows]))
            .values(claimed_until=now + lease)
        )
    await session.commit()
    return rows


async def next_due_at(session: AsyncSession) -> datetime | None:
    """When the earliest pending row may be tried (for the notifier to sleep until then)."""
    due = func.coalesce(OutboxMessage.claimed_until, OutboxMessage.next_attempt_at)
    return await session.scalar(
        select(func.min(due)).where(OutboxMessage.state == OutboxState.PENDING)
    )


async def mark_sent(session: AsyncSession, message_ids: Sequence[int], now: datetime) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(message_ids))
        .values(state=OutboxState.SENT, sent_at=now, claimed_until=None, last_error=None)
    )


async def mark_retry(
    session: AsyncSession, message_id: int, attempts: int, at: datetime, error: str
) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(attempts=attempts, next_attempt_at=at, claimed_until=None, last_error=error[:500])
    )


async def mark_failed(session: AsyncSession, message_id: int, attempts: int, error: str) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(state=OutboxState.FAILED, attempts=attempts, claimed_until=None,
                last_error=error[:500])
    )  # fmt: skip


async def cards_of(session: AsyncSession, lead_id: int) -> list[LeadCard]:
    return list((await session.scalars(select(LeadCard).where(LeadCard.lead_id == lead_id))).all())


async def release(session: AsyncSession, message_ids: Sequence[int]) -> None:
    """Give claimed rows back so any sender may take them now."""
    for start in range(0, len(message_ids), 500):
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(message_ids[start : start + 500]))
            .values(claimed_until=None)
        )
