"""A lead enters the sequences its trigger names (a refuse reason's code, `converted`), in the
transaction that closed it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import AppConfig
from bot.sequences.timing import step_due
from storage.models import Contact, EnrolmentState, Lead, SequenceEnrolment


async def enrol(
    session: AsyncSession, lead: Lead, trigger: str, now: datetime, config: AppConfig
) -> list[SequenceEnrolment]:
    """Enrol `lead` in every sequence of `trigger`, its first step due after its delay (in
    working hours); nothing when its client said stop for good (or blocked the bot). In the
    caller's transaction; the rows added."""
    sequences = config.sequences_for(trigger)
    if not sequences:
        return []
    if lead.contact_id is not None:
        stopped = await session.scalar(
            select(Contact.sequences_stopped_at).where(Contact.id == lead.contact_id)
        )
        if stopped is not None:
            return []
    added = [
        SequenceEnrolment(
            lead_id=lead.id,
            contact_id=lead.contact_id,
            sequence=sequence.name,
            step=0,
            state=EnrolmentState.ACTIVE,
            due_at=step_due(now, sequence.steps[0].after, config),
            messages_sent=0,
            created_at=now,
        )
        for sequence in sequences
    ]
    session.add_all(added)
    return added
