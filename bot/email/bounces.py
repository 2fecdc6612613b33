"""A letter of ours that did not reach the client: a bounce. Recorded on its lead, whoever
learns of it: the mail sender when the server refuses it for good (a 5xx answer), the
e-mail intake when a delivery status notification (DSN) comes back later."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import AppConfig
from bot.email.outgoing import ERROR_LIMIT, tell
from bot.email.replies import BOUNCED, OUT, SENT
from bot.email.threads import bare_id, one_line
from bot.sla.answer_wait import client_waits
from storage.models import EmailLetter, Lead, LeadEvent

DIAGNOSTIC_LIMIT = 300  # characters of the server's words kept in the history


async def record_bounce(
    session: AsyncSession, message_id: str, diagnostic: str, now: datetime, config: AppConfig
) -> bool:
    """The outgoing letter with that Message-ID (bare, or in angle brackets) did not reach the
    client: it is marked "bounced", its lead's history says "⚠️ letter not delivered:
    <diagnostic>", and the lead's owner (and the manager who wrote it, if another) is told.
    A letter the server had taken ("sent", then a DSN) leaves the client waiting for an
    answer again (the `answer` limit runs). A second report of the same bounce changes
    nothing. False when no letter of ours has that Message-ID. The caller commits."""
    bare = bare_id(message_id) or one_line(message_id)
    letter = await session.scalar(
        select(EmailLetter).where(EmailLetter.direction == OUT, EmailLetter.message_id == bare)
    )
    if letter is None:
        return False
    if letter.outcome == BOUNCED:
        return True
    why = one_line(diagnostic, DIAGNOSTIC_LIMIT) or "?"
    was = letter.outcome
    await session.execute(
        update(EmailLetter)
        .where(EmailLetter.id == letter.id)
        .values(outcome=BOUNCED, claimed_until=None, last_error=why[:ERROR_LIMIT])
    )
    if letter.lead_id is None:
        return True
    session.add(
        LeadEvent(
            lead_id=letter.lead_id,
            kind="email_bounced",
            actor_id=None,
            data={"text": why, "email": letter.to_address},
            created_at=now,
        )
    )
    if was == SENT:  # the wait ended when the server took it: it was not over after all
        await client_waits(session, letter.lead_id, now, config)
    owner = await session.scalar(select(Lead.owner_id).where(Lead.id == letter.lead_id))
    context = {"address": letter.to_address, "reason": why[:200]}
    await tell(session, [owner, letter.staff_id], letter.lead_id, "email_bounced", context, now)
    return True
