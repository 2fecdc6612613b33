"""The follow-ups' numbers for a period (/report's sequences section): enrolled, messages sent,
replies, leads reopened, and leads converted after a client answered a follow-up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.sequences.stops import StopReason
from bot.sequences.sweep import SEQUENCE_MESSAGE_EVENT
from storage.models import LeadEvent, SequenceEnrolment

SEQUENCE_REPLY_EVENT = "sequence_reply"  # bot/intake/sequence_answers.py writes it
CONVERT_EVENT = "convert"  # apply_action's event for Action.CONVERT
REPLIES = (StopReason.CLIENT_WROTE, StopReason.CLIENT_YES)


@dataclass(frozen=True)
class SequenceStats:
    enrolled: int  # leads that entered a sequence in the period
    sent: int  # follow-up messages to clients
    replies: int  # sequences ended by the client's message or "Yes"
    reopened: int  # leads reopened by such an answer
    converted_after: int  # leads converted in the period after answering a follow-up

    @property
    def empty(self) -> bool:
        return not (self.enrolled or self.sent or self.replies or self.converted_after)


async def sequence_stats(session: AsyncSession, start: datetime, end: datetime) -> SequenceStats:
    """Everything happened in [start, end) (UTC)."""
    enrolled = await session.scalar(
        select(func.count()).where(
            SequenceEnrolment.created_at >= start, SequenceEnrolment.created_at < end
        )
    )
    replies = await session.scalar(
        select(func.count()).where(
            SequenceEnrolment.stop_reason.in_([str(reason) for reason in REPLIES]),
            SequenceEnrolment.ended_at >= start,
            SequenceEnrolment.ended_at < end,
        )
    )
    in_period = and_(LeadEvent.created_at >= start, LeadEvent.created_at < end)
    sent = await session.scalar(
        select(func.count()).where(LeadEvent.kind == SEQUENCE_MESSAGE_EVENT, in_period)
    )
    reopened = await session.scalar(
        select(func.count(func.distinct(LeadEvent.lead_id))).where(
            LeadEvent.kind == SEQUENCE_REPLY_EVENT, in_period
        )
    )
    reply = aliased(LeadEvent)
    answered_before = exists().where(
        reply.lead_id == LeadEvent.lead_id,
        reply.kind == SEQUENCE_REPLY_EVENT,
        reply.created_at <= LeadEvent.created_at,
    )
    converted = await session.scalar(
        select(func.count(func.distinct(LeadEvent.lead_id))).where(
            LeadEvent.kind == CONVERT_EVENT, in_period, answered_before
        )
    )
    return SequenceStats(
        int(enrolled or 0),
        int(sent or 0),
        int(replies or 0),
        int(reopened or 0),
        int(converted or 0),
    )
