"""What ends a sequence: for the lead (a status change, a merge, the client's answer), or for
the person for good (Not interested, /stop, the bot blocked)."""

from __future__ import annotations

import enum
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Contact, EnrolmentState, Lead, SequenceEnrolment


class StopReason(enum.StrEnum):
    STATUS_CHANGED = "status_changed"
    MERGED = "merged"
    CLIENT_WROTE = "client_wrote"
    CLIENT_YES = "client_yes"
    NOT_INTERESTED = "not_interested"
    STOP_COMMAND = "stop_command"
    BLOCKED = "blocked"
    OPTED_OUT = "opted_out"  # a step found its client had said stop meanwhile
    UNKNOWN_SEQUENCE = "unknown_sequence"  # its `[[sequences]]` entry left the config
    ERASED = "erased"  # the person's data was erased on request (bot/privacy)


# these end every sequence of the person, and none starts for them again
FOR_GOOD = frozenset({StopReason.NOT_INTERESTED, StopReason.STOP_COMMAND, StopReason.BLOCKED})


async def stop_lead_sequences(
    session: AsyncSession, lead_ids: Collection[int], reason: StopReason, now: datetime
) -> int:
    """End the active sequences of these leads; how many. In the caller's transaction."""
    if not lead_ids:
        return 0
    stopped = await session.execute(
        update(SequenceEnrolment)
        .where(
            SequenceEnrolment.lead_id.in_(list(lead_ids)),
            SequenceEnrolment.state == EnrolmentState.ACTIVE,
        )
        .values(state=EnrolmentState.STOPPED, stop_reason=reason, due_at=None, ended_at=now)
    )
    return int(getattr(stopped, "rowcount", 0) or 0)


async def person_contacts(session: AsyncSession, contact_id: int) -> list[int]:
    """The contact and the contacts merged into it (one person)."""
    found = await session.scalars(
        select(Contact.id).where(
            or_(Contact.id == contact_id, Contact.merged_into_id == contact_id)
        )
    )
    return list(found.all())


async def stop_person_sequences(
    session: AsyncSession, contact_id: int, reason: StopReason, now: datetime
) -> int:
    """End every active sequence of the person (any of their leads); for the FOR_GOOD reasons
    none ever starts for them again. How many ended. In the caller's transaction."""
    contacts = await person_contacts(session, contact_id)
    if reason in FOR_GOOD:
        await session.execute(
            update(Contact)
            .where(Contact.id.in_(contacts), Contact.sequences_stopped_at.is_(None))
            .values(sequences_stopped_at=now)
        )
    leads = select(Lead.id).where(Lead.contact_id.in_(contacts))
    stopped = await session.execute(
        update(SequenceEnrolment)
        .where(
            or_(
                SequenceEnrolment.contact_id.in_(contacts),
                SequenceEnrolment.lead_id.in_(leads),
            ),
            SequenceEnrolment.state == EnrolmentState.ACTIVE,
        )
        .values(state=EnrolmentState.STOPPED, stop_reason=reason, due_at=None, ended_at=now)
    )
    return int(getattr(stopped, "rowcount", 0) or 0)


async def contacts_of_telegram(session: AsyncSession, telegram_id: int) -> list[int]:
    """The contacts that are this Telegram user (merged ones point to their survivor)."""
    found = await session.scalars(
        select(Contact.id).where(
            Contact.telegram_id == telegram_id, Contact.merged_into_id.is_(None)
        )
    )
    return list(found.all())


async def person_said_stop(
    session: AsyncSession, telegram_id: int, reason: StopReason, now: datetime
) -> int:
    """/stop, Not interested, or the bot blocked, by this Telegram user: every sequence of
    theirs ends for good. How many were running. In the caller's transaction."""
    ended = 0
    for contact_id in await contacts_of_telegram(session, telegram_id):
        ended += await stop_person_sequences(session, contact_id, reason, now)
    return ended
