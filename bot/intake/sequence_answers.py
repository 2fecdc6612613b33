"""A client answering a follow-up (bot/sequences): their message, or a press of "Yes, call me",
reopens the lead to its owner (or the pool) as a hot lead and the owner is told; "Not
interested" ends every sequence of theirs for good. Here, above bot/leads, because the answer
goes through the lead's own reopen (events, card refresh, webhooks)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.lifecycle import CLOSED_STATUSES
from bot.common.outbox import card_message, enqueue
from bot.config import AppConfig
from bot.leads.actions import load_lead, reopen_lead
from bot.sequences.channels import learn_channel
from bot.sequences.stats import SEQUENCE_REPLY_EVENT
from bot.sequences.stops import (
    StopReason,
    contacts_of_telegram,
    person_said_stop,
    stop_lead_sequences,
)
from storage.models import (
    Contact,
    ContactChannel,
    EnrolmentState,
    Lead,
    LeadEvent,
    Role,
    SequenceEnrolment,
    Staff,
)


def _system() -> Staff:
    """The reopen is the system's, on the client's word: nobody of the staff did it (the
    event's actor_id is NULL; webhooks say actor null). Never added to a session."""
    return Staff(id=None, telegram_id=0, name="leadbot", role=Role.ADMIN, is_active=True)


class Answer(enum.StrEnum):
    WROTE = "wrote"  # any message from the client
    YES = "yes"  # "Yes, call me"


class PressRefusal(enum.StrEnum):
    NOT_YOURS = "not_yours"  # the press did not come from the lead's client (forged)
    ENDED = "ended"  # the sequence was stopped (the client said stop, or it was merged...)


@dataclass(frozen=True)
class PressResult:
    refusal: PressRefusal | None = None
    reopened: bool = False

    @property
    def ok(self) -> bool:
        return self.refusal is None


async def follow_up_answered(
    session: AsyncSession,
    telegram_id: int,
    now: datetime,
    config: AppConfig,
    leads_chat_id: int | None,
) -> list[int]:
    """A message from this Telegram user: their running sequences stop and each lead they
    were about is reopened, hot (Telegram becomes the preferred channel). The leads reopened;
    commits when there were any, else writes nothing."""
    contacts = await contacts_of_telegram(session, telegram_id)
    if not contacts:
        return []
    running = await session.scalars(
        select(SequenceEnrolment).where(
            or_(
                SequenceEnrolment.contact_id.in_(contacts),
                SequenceEnrolment.lead_id.in_(select(Lead.id).where(Lead.contact_id.in_(contacts))),
            ),
            SequenceEnrolment.state == EnrolmentState.ACTIVE,
        )
    )
    enrolments = list(running.all())
    if not enrolments:
        return []
    await learn_channel(session, contacts, ContactChannel.TELEGRAM)
    reopened = []
    for lead_id in dict.fromkeys(row.lead_id for row in enrolments):
        sequence = next(row.sequence for row in enrolments if row.lead_id == lead_id)
        await stop_lead_sequences(session, [lead_id], StopReason.CLIENT_WROTE, now)
        if await _reopen_hot(session, lead_id, sequence, Answer.WROTE, now, config, leads_chat_id):
            reopened.append(lead_id)
    await session.commit()
    return reopened


async def _enrolment_of(
    session: AsyncSession, enrolment_id: int, telegram_id: int
) -> SequenceEnrolment | None:
    """The enrolment a press names, if the presser is its client (re-read from the DB)."""
    row = await session.get(SequenceEnrolment, enrolment_id, populate_existing=True)
    if row is None:
        return None
    lead = await session.get(Lead, row.lead_id)
    contact_id = row.contact_id or (lead.contact_id if lead else None)
    if contact_id is None:
        return None
    contact = await session.get(Contact, contact_id)
    if contact is None:
        return None
    if contact.merged_into_id is not None:
        contact = await session.get(Contact, contact.merged_into_id)
    return row if contact is not None and contact.telegram_id == telegram_id else None


async def client_pressed_yes(
    session: AsyncSession,
    enrolment_id: int,
    telegram_id: int,
    now: datetime,
    config: AppConfig,
    leads_chat_id: int | None,
) -> PressResult:
    """ "Yes, call me" under a follow-up: the lead reopens, hot, to its owner (or the pool),
    who is told. A second press changes nothing. Commits."""
    row = await _enrolment_of(session, enrolment_id, telegram_id)
    if row is None:
        await session.commit()
        return PressResult(PressRefusal.NOT_YOURS)
    if row.state == EnrolmentState.STOPPED and row.stop_reason not in (
        StopReason.CLIENT_YES,
        StopReason.CLIENT_WROTE,
        StopReason.STATUS_CHANGED,
    ):
        await session.commit()
        return PressResult(PressRefusal.ENDED)
    await learn_channel(
        session, [row.contact_id] if row.contact_id else [], ContactChannel.TELEGRAM
    )
    await stop_lead_sequences(session, [row.lead_id], StopReason.CLIENT_YES, now)
    sequence = row.sequence
    reopened = await _reopen_hot(
        session, row.lead_id, sequence, Answer.YES, now, config, leads_chat_id
    )
    await session.commit()
    return PressResult(reopened=reopened)


async def client_not_interested(
    session: AsyncSession, enrolment_id: int, telegram_id: int, now: datetime
) -> PressResult:
    """ "Not interested": every sequence of this person ends, for good. Commits."""
    row = await _enrolment_of(session, enrolment_id, telegram_id)
    if row is None:
        await session.commit()
        return PressResult(PressRefusal.NOT_YOURS)
    await person_said_stop(session, telegram_id, StopReason.NOT_INTERESTED, now)
    await session.commit()
    return PressResult()


async def _reopen_hot(
    session: AsyncSession,
    lead_id: int,
    sequence: str,
    answer: Answer,
    now: datetime,
    config: AppConfig,
    leads_chat_id: int | None,
) -> bool:
    """Reopen the lead (to its owner, or the pool) with a `sequence_reply` event and a fresh
    card, headed by what happened, for the owner (or the team chat). False when the lead was
    open already (nothing to reopen). apply_action commits."""
    lead = await load_lead(session, lead_id)
    if lead is None or lead.status not in CLOSED_STATUSES or lead.merged_into_id is not None:
        return False

    async def hot(reopened: Lead) -> None:
        session.add(
            LeadEvent(
                lead_id=reopened.id,
                kind=SEQUENCE_REPLY_EVENT,
                data={"sequence": sequence, "answer": answer.value},
                created_at=now,
            )
        )
        headline = ("sequence_hot_headline", {"lead_id": reopened.id, "answer": answer.value})
        owner = reopened.owner
        if owner is not None and owner.is_active:
            told = card_message(reopened.id, owner.telegram_id, owner.id, now, True, headline)
        elif leads_chat_id is not None:
            told = card_message(reopened.id, leads_chat_id, None, now, True, headline)
        else:
            return
        await enqueue(session, [told])

    result = await reopen_lead(session, lead_id, _system(), now, config, then=hot)
    return result.ok
