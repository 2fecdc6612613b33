"""A bounce of one of our letters. MINIMAL STAND-IN written by the intake side (branch mailin)
until the sending side (branch mailout) lands: that branch owns this module, and its version
(the owner told as well) is the one kept at the merge. The signature is the agreed one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import AppConfig
from storage.models import EmailLetter, LeadEvent


async def record_bounce(
    session: AsyncSession, message_id: str, diagnostic: str, now: datetime, config: AppConfig
) -> bool:
    """The outgoing letter with this Message-ID did not arrive: it is marked bounced and its
    lead's history says why. False when no outgoing letter of ours has that id. In the
    caller's transaction."""
    letter = await session.scalar(
        select(EmailLetter).where(
            EmailLetter.direction == "out", EmailLetter.message_id == message_id
        )
    )
    if letter is None:
        return False
    letter.outcome = "bounced"
    if letter.lead_id is not None:
        session.add(
            LeadEvent(
                lead_id=letter.lead_id,
                kind="email_bounced",
                actor_id=None,
                data={"diagnostic": diagnostic[:500], "to": letter.to_address},
                created_at=now,
            )
        )
    await session.flush()
    return True
