"""The outbox: notifications written in the same transaction as the change that causes them.

The notifier (bot/adapters/telegram/notifier.py) sends them after the commit; these
functions are its database side and know nothing of Telegram.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import note_outbox_written
from storage.models import AlertCopy, LeadCard, OutboxKind, OutboxMessage, OutboxState


def _row(
    kind: OutboxKind,
    lead_id: int | None,
    now: datetime,
    chat_id: int | None = None,
    staff_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    # every row has every key: one multi-row INSERT takes them all
    return {
        "kind": kind,
        "lead_id": lead_id,
        "chat_id": chat_id,
        "staff_id": staff_id,
        "payload": payload or {},
        "state": OutboxState.PENDING,
        "attempts": 0,
        "created_at": now,
    }


def card_message(
    lead_id: int,
    chat_id: int,
    staff_id: int | None,
    now: datetime,
    fresh: bool = False,
    headline: tuple[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A new card for `chat_id`, rendered at send time from the lead as it is then. A chat
    that has a copy already is not sent another, unless `fresh`: then the new card is sent
    (at the bottom of the chat, where it is seen) and becomes the copy kept current. A
    `headline` (template, context) is a line over the card saying why it came (one message,
    not a card and a note)."""
    payload: dict[str, Any] = {"fresh": True} if fresh else {}
    if headline is not None:
        payload["headline"] = {"template": headline[0], "context": headline[1]}
    return _row(OutboxKind.CARD, lead_id, now, chat_id, staff_id, payload or None)


def card_refresh(lead_id: int, now: datetime) -> dict[str, Any]:
    """Redraw every card of the lead: it changed."""
    return _row(OutboxKind.CARD_REFRESH, lead_id, now)


def text_message(
    lead_id: int | None,
    chat_id: int,
    staff_id: int | None,
    template: str,
    context: dict[str, Any],
    now: datetime,
    reply: bool = False,
    calls: bool = False,
    locale: str | None = None,
) -> dict[str, Any]:
    """A message rendered from `template` at send time, in the recipient's language (or in
    `locale`, when the context holds words already chosen in it); with `reply`, it carries a
    Reply button (a client's message relayed to a manager); with `calls`, the missed-call
    buttons (Called back / No answer)."""
    payload: dict[str, Any] = {"template": template, "context": context}
    if reply:
        payload["reply"] = True
    if calls:
        payload["calls"] = True
    if locale is not None:
        payload["locale"] = locale
    return _row(OutboxKind.TEXT, lead_id, now, chat_id, staff_id, payload)


def charts_message(
    chat_id: int,
    staff_id: int | None,
    album: dict[str, Any],
    now: datetime,
    locale: str | None = None,
) -> dict[str, Any]:
    """A report's charts for `chat_id`: `album` is what they draw (bot/reports/album.py
    `Album.payload()`, numbers only); the notifier draws them when it sends the row, in the
    recipient's language (or `locale`), as one photo or an album."""
    payload = dict(album)
    if locale is not None:
        payload["locale"] = locale
    return _row(OutboxKind.CHARTS, None, now, chat_id, staff_id, payload)


def copied_message(
    lead_id: int,
    chat_id: int,
    staff_id: int | None,
    from_chat_id: int,
    message_id: int,
    now: datetime,
) -> dict[str, Any]:
    """A client's photo, document, voice message... copied into a staff chat (copyMessage),
    with a Reply button."""
    payload = {"from_chat_id": from_chat_id, "message_id": message_id}
    return _row(OutboxKind.COPY, lead_id, now, chat_id, staff_id, payload)


def document_message(
    lead_id: int, chat_id: int, staff_id: int | None, attachment_id: int, now: datetime
) -> dict[str, Any]:
    """A file from a client's e-mail (email_attachments) sent into a staff chat as a
    document, with a Reply button (bot/email/files.py)."""
    payload = {"attachment_id": attachment_id}
    return _row(OutboxKind.DOCUMENT, lead_id, now, chat_id, staff_id, payload)


def client_answer(
    lead_id: int,
    chat_id: int,
    staff_id: int,
    manager_chat_id: int,
    event_id: int,
    now: datetime,
    *,
    html: str | None = None,
    copy_from: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """A manager's answer for the client's chat `chat_id`: the `html` text as it is (rendered
    when it was written), or the manager's photo, file, voice... copied from `copy_from`
    (chat, message). The manager (`manager_chat_id`) is told once it arrived, or why not;
    `event_id` is the lead's `replied` event it stands for."""
    if (html is None) == (copy_from is None):
        raise ValueError("an answer is either a text or a copy")
    payload: dict[str, Any] = {"manager_chat_id": manager_chat_id, "event_id": event_id}
    if copy_from is not None:
        payload |= {"from_chat_id": copy_from[0], "message_id": copy_from[1]}
    else:
        payload["html"] = html
    return _row(OutboxKind.CLIENT_ANSWER, lead_id, now, chat_id, staff_id, payload)


def alert_message(
    lead_id: int, chat_id: int, staff_id: int | None, payload: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """A reminder or an escalation (bot/sla/sweep.py): a headline and the lead's card, rendered at
    send time, or dropped then if the thing it is about was done meanwhile."""
    return _row(OutboxKind.ALERT, lead_id, now, chat_id, staff_id, payload)


async def enqueue(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Write notifications in the caller's transaction; the notifier is woken by its commit."""
    if not rows:
        return
    await session.execute(insert(OutboxMessage.__table__), list(rows))
    note_outbox_written(session)


async def claim_due(
    session: AsyncSession,
    now: datetime,
    limit: int,
    lease: timedelta,
    held: Collection[int] = (),
) -> list[OutboxMessage]:
    """Take up to `limit` due rows for this sender, oldest first, for `lease`.

    On PostgreSQL rows are locked with SKIP LOCKED so two instances never take the same row;
    the lease lets another instance take over the rows of a sender that died. SQLite serves
    one process, so there a claim writes nothing (a write per claim would queue behind every
    intake commit): the sender keeps its claims in memory and passes them back as `held`.
    """
    sqlite = session.bind.dialect.name == "sqlite"
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
    if sqlite:
        if held:
            query = query.where(OutboxMessage.id.not_in(list(held)))
        return list((await session.scalars(query)).all())
    rows = list((await session.scalars(query.with_for_update(skip_locked=True))).all())
    if rows:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([row.id for row in rows]))
            .values(claimed_until=now + lease)
        )
    await session.commit()
    return rows


async def next_due_at(session: AsyncSession) -> datetime | None:
    """When the earliest postponed row may be tried again (the notifier sleeps until then).

    One index lookup. Rows due now were just claimed; rows held by a sender that died come
    back when their lease ends, which the notifier's idle wake-up covers.
    """
    return await session.scalar(
        select(func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.state == OutboxState.PENDING,
            OutboxMessage.next_attempt_at.is_not(None),
        )
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
        .values(
            state=OutboxState.FAILED, attempts=attempts, claimed_until=None, last_error=error[:500]
        )
    )


async def alert_copies_of(session: AsyncSession, lead_id: int) -> list[AlertCopy]:
    """The lead's reminder and escalation messages still drawn as pending."""
    found = await session.scalars(
        select(AlertCopy).where(AlertCopy.lead_id == lead_id, AlertCopy.settled_at.is_(None))
    )
    return list(found.all())


async def alert_copy_at(session: AsyncSession, chat_id: int, message_id: int) -> AlertCopy | None:
    """The reminder or escalation that message is, if it is one."""
    return await session.scalar(
        select(AlertCopy).where(AlertCopy.chat_id == chat_id, AlertCopy.message_id == message_id)
    )


async def cards_of(session: AsyncSession, lead_id: int) -> list[LeadCard]:
    return list((await session.scalars(select(LeadCard).where(LeadCard.lead_id == lead_id))).all())


async def chats_awaiting_fresh_card(session: AsyncSession, lead_id: int) -> set[int]:
    """Chats a fresh card of the lead is still on its way to: their older copy is drawn once,
    when the fresh card replaces it, not edited by a refresh just before."""
    rows = await session.execute(
        select(OutboxMessage.chat_id, OutboxMessage.payload).where(
            OutboxMessage.lead_id == lead_id,
            OutboxMessage.kind == OutboxKind.CARD,
            OutboxMessage.state == OutboxState.PENDING,
        )
    )
    return {chat_id for chat_id, payload in rows if chat_id is not None and payload.get("fresh")}


async def release(session: AsyncSession, message_ids: Sequence[int]) -> None:
    """Give claimed rows back so any sender may take them now."""
    for start in range(0, len(message_ids), 500):
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(message_ids[start : start + 500]))
            .values(claimed_until=None)
        )


async def retry_postponed_now(session: AsyncSession, now: datetime) -> int:
    """Every row waiting out a back-off after a failed attempt is due now (Telegram answers
    again after an outage); how many."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.state == OutboxState.PENDING,
            OutboxMessage.last_error.is_not(None),
            OutboxMessage.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)
