"""The database side of sending letters: claiming the outgoing letters due, settling an
attempt (sent, tried again after a back-off, given up), and telling the manager. The SMTP
client (bot/adapters/mail/: sender.py, smtp.py) does the network; nothing here knows of it.

A letter is its own queue entry (an `email_letters` row, direction "out", outcome "queued"),
as a webhook delivery is: the Telegram outbox's claim, pace and outage probe are Telegram's,
and a mail server down must neither hold back nor be held back by Telegram. Claims: on
PostgreSQL `FOR UPDATE SKIP LOCKED` plus a lease, so two instances never send one letter at
once and a crashed instance's letters are taken over when its lease ends; SQLite serves one
process, which keeps its claims in memory (`held`). Settling is conditional on the letter
still being "queued", so a letter settled twice (a lease that ran out mid-send) tells the
manager once."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.leases import claim_rows, release_rows
from bot.common.outbox import enqueue, text_message
from bot.config import AppConfig, EmailDelivery
from bot.email.replies import FAILED, OUT, QUEUED, SENT
from bot.sla.answer_wait import client_answered
from storage.models import EmailLetter, LeadEvent, Staff

ERROR_LIMIT = 500


def retry_delay(attempts: int, rules: EmailDelivery) -> timedelta:
    """The wait after the `attempts`-th failed attempt: first_retry (5 s), then twice as long
    each time, at most max_retry (10 min): 5, 10, 20, 40, 80, 160, 320 s, then every 10 min."""
    grown = rules.first_retry.total_seconds() * 2 ** min(max(0, attempts - 1), 32)
    return min(rules.max_retry, timedelta(seconds=grown))


def _due(now: datetime) -> list[object]:
    return [
        EmailLetter.outcome == QUEUED,
        EmailLetter.direction == OUT,
        or_(EmailLetter.next_attempt_at.is_(None), EmailLetter.next_attempt_at <= now),
        or_(EmailLetter.claimed_until.is_(None), EmailLetter.claimed_until <= now),
    ]


async def claim_letters(
    session: AsyncSession,
    now: datetime,
    limit: int,
    lease: timedelta,
    held: Collection[int] = (),
) -> list[EmailLetter]:
    """Up to `limit` letters due now, oldest first, for this sender for `lease`; committed."""
    if limit <= 0:
        await session.commit()
        return []
    query = select(EmailLetter).where(*_due(now)).order_by(EmailLetter.id).limit(limit)
    return await claim_rows(session, EmailLetter, query, now, lease, held)


async def next_letter_at(session: AsyncSession) -> datetime | None:
    """When the earliest letter backing off may be tried again (the sender sleeps until then)."""
    return await session.scalar(
        select(func.min(EmailLetter.next_attempt_at)).where(
            EmailLetter.outcome == QUEUED,
            EmailLetter.direction == OUT,
            EmailLetter.next_attempt_at.is_not(None),
        )
    )


async def release_letters(session: AsyncSession, ids: Sequence[int]) -> None:
    """Give claimed letters back so any instance may take them now (a sender stopping)."""
    await release_rows(session, EmailLetter, ids)


async def due_again_now(session: AsyncSession, now: datetime) -> int:
    """The mail server took a letter after failing: the letters backing off are due now, not at
    the end of a back-off grown to minutes. How many."""
    result = await session.execute(
        update(EmailLetter)
        .where(
            EmailLetter.outcome == QUEUED,
            EmailLetter.direction == OUT,
            EmailLetter.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _settled(
    session: AsyncSession, letter: EmailLetter, outcome: str, now: datetime, error: str | None
) -> bool:
    """The letter leaves the queue as `outcome`; False when it had left it already."""
    values: dict[str, object] = {"outcome": outcome, "claimed_until": None, "last_error": error}
    if outcome == SENT:
        values["sent_at"] = now
    result = await session.execute(
        update(EmailLetter)
        .where(EmailLetter.id == letter.id, EmailLetter.outcome == QUEUED)
        .values(attempts=EmailLetter.attempts + 1, **values)
    )
    return bool(getattr(result, "rowcount", 0))


async def tell(
    session: AsyncSession,
    staff_ids: Collection[int | None],
    lead_id: int | None,
    template: str,
    context: dict[str, object],
    now: datetime,
) -> None:
    """A message (the outbox, this transaction) to each active one of `staff_ids`, once."""
    ids = {staff_id for staff_id in staff_ids if staff_id is not None}
    if not ids:
        return
    people = await session.scalars(
        select(Staff).where(Staff.id.in_(ids), Staff.is_active.is_(True)).order_by(Staff.id)
    )
    await enqueue(
        session,
        [
            text_message(
                lead_id,
                person.telegram_id,
                person.id,
                template,
                {"lead_id": lead_id, **context},
                now,
            )
            for person in people
        ],
    )


async def letter_sent(
    session: AsyncSession, letter: EmailLetter, now: datetime, config: AppConfig
) -> bool:
    """The mail server took the letter: the client's wait ends (as a delivered Telegram answer
    ends it) and its writer is told "✉️ sent to <address>". The caller commits. False when it
    was settled already (nothing done)."""
    if not await _settled(session, letter, SENT, now, None):
        return False
    if letter.lead_id is not None:
        await client_answered(session, letter.lead_id, now, config)
    await tell(
        session,
        [letter.staff_id],
        letter.lead_id,
        "email_sent",
        {"address": letter.to_address},
        now,
    )
    return True


async def letter_postponed(
    session: AsyncSession, letter: EmailLetter, error: str, now: datetime, config: AppConfig
) -> bool:
    """The mail server could not take the letter now (no connection, a 4xx answer): it is
    tried again after the back-off, or, `give_up_after` past when it was written, failed: the
    lead's history records it and its writer is told why. True when it was given up. The
    caller commits."""
    rules = config.email_delivery
    if now < letter.created_at + rules.give_up_after:
        attempts = letter.attempts + 1
        await session.execute(
            update(EmailLetter)
            .where(EmailLetter.id == letter.id, EmailLetter.outcome == QUEUED)
            .values(
                attempts=attempts,
                next_attempt_at=now + retry_delay(attempts, rules),
                claimed_until=None,
                last_error=error[:ERROR_LIMIT],
            )
        )
        return False
    hours = rules.give_up_after.total_seconds() / 3600
    await letter_given_up(
        session, letter, f"the mail server did not take it in {hours:g} h: {error}", now
    )
    return True


async def letter_given_up(
    session: AsyncSession, letter: EmailLetter, error: str, now: datetime
) -> None:
    """The letter will not be sent (the server did not take it for `give_up_after`, or its
    attachment can no longer be fetched): "failed", the lead's history records it (`email_failed`)
    and its writer is told why. The caller commits."""
    if not await _settled(session, letter, FAILED, now, error[:ERROR_LIMIT]):
        return
    if letter.lead_id is not None:
        session.add(
            LeadEvent(
                lead_id=letter.lead_id,
                kind="email_failed",
                actor_id=None,
                data={"text": error[:300], "email": letter.to_address},
                created_at=now,
            )
        )
    context = {"address": letter.to_address, "reason": error[:200]}
    await tell(session, [letter.staff_id], letter.lead_id, "email_failed", context, now)
