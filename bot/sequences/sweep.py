"""Due sequence steps, each run once: the enrolment is advanced by a conditional UPDATE (the
step and due time as read) in the transaction that writes the step's outbox row, so a restart
neither loses nor repeats a step, and of two instances reading the same row one advances it
and the other's UPDATE matches nothing."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.outbox import enqueue, text_message
from bot.config import AppConfig, SequenceStep
from bot.sequences.channels import telegram_reachable
from bot.sequences.stops import StopReason, person_contacts
from bot.sequences.timing import after_todays_message, may_run_now, step_due
from storage.models import (
    OPEN_STATUSES,
    Contact,
    EnrolmentState,
    Lead,
    LeadEvent,
    SequenceEnrolment,
    Staff,
)

SEQUENCE_MESSAGE_EVENT = "sequence_message"  # the client was sent a step's message
SEQUENCE_TASK_EVENT = "sequence_task"  # the owner was asked to act (call again, reach them)
REACH_CLIENT = "reach_client"  # a message step for a client the bot cannot write to


class StepOutcome(enum.StrEnum):
    SENT = "sent"  # a message for the client is in the outbox
    TASK = "task"  # the owner (or the team chat) was asked to act
    POSTPONED = "postponed"  # outside working hours, or the client had a message today
    STOPPED = "stopped"  # the step found a reason to end the sequence
    LOST = "lost"  # another instance (or run) took the step first


@dataclass(frozen=True)
class StepRun:
    enrolment_id: int
    lead_id: int
    step: int
    outcome: StepOutcome


async def due_enrolments(session: AsyncSession, now: datetime, limit: int) -> list[int]:
    found = await session.scalars(
        select(SequenceEnrolment.id)
        .where(SequenceEnrolment.state == EnrolmentState.ACTIVE, SequenceEnrolment.due_at <= now)
        .order_by(SequenceEnrolment.due_at, SequenceEnrolment.id)
        .limit(limit)
    )
    return list(found.all())


async def run_due_steps(
    session: AsyncSession,
    now: datetime,
    config: AppConfig,
    leads_chat_id: int | None,
    limit: int = 200,
) -> list[StepRun]:
    """Run up to `limit` due steps, each in its own transaction (committed)."""
    runs = []
    for enrolment_id in await due_enrolments(session, now, limit):
        runs.append(await run_step(session, enrolment_id, now, config, leads_chat_id))
    await session.commit()
    return runs


async def run_step(
    session: AsyncSession,
    enrolment_id: int,
    now: datetime,
    config: AppConfig,
    leads_chat_id: int | None,
) -> StepRun:
    """One due step of one enrolment, as one transaction (committed)."""
    row = await session.get(SequenceEnrolment, enrolment_id, populate_existing=True)
    assert row is not None
    step_index, due_at = row.step, row.due_at
    lead = await session.get(Lead, row.lead_id, populate_existing=True)
    assert lead is not None
    contact = await session.get(Contact, row.contact_id) if row.contact_id else None
    sequence = config.sequence(row.sequence)

    async def done(outcome: StepOutcome) -> StepRun:
        await session.commit()
        return StepRun(row.id, lead.id, step_index, outcome)

    if row.state != EnrolmentState.ACTIVE or due_at is None or due_at > now:
        return await done(StepOutcome.LOST)  # a run before this one took it
    stop = _stop_reason(lead, contact, sequence is None, step_index)
    if stop is not None:
        claimed = await _claim(session, row.id, step_index, due_at, _stopped(stop, now))
        return await done(StepOutcome.STOPPED if claimed else StepOutcome.LOST)
    assert sequence is not None
    step = sequence.steps[step_index]
    later = may_run_now(now, config)
    writes = step.message is not None and telegram_reachable(contact)
    if later is None and writes:
        later = after_todays_message(now, await _last_message_at(session, row), config)
    if later is not None:
        moved = await _claim(session, row.id, step_index, due_at, {"due_at": later})
        return await done(StepOutcome.POSTPONED if moved else StepOutcome.LOST)
    following = step_index + 1
    advanced: dict[str, Any] = {"step": following}
    if following < len(sequence.steps):
        advanced["due_at"] = step_due(now, sequence.steps[following].after, config)
    else:
        advanced |= {"state": EnrolmentState.FINISHED, "due_at": None, "ended_at": now}
    if writes:
        advanced |= {"messages_sent": SequenceEnrolment.messages_sent + 1, "last_message_at": now}
    if not await _claim(session, row.id, step_index, due_at, advanced):
        return await done(StepOutcome.LOST)
    if writes:
        assert contact is not None and contact.telegram_id is not None
        await _message_client(
            session, row, lead, contact.telegram_id, step, step_index, now, config
        )
        return await done(StepOutcome.SENT)
    task = step.task or REACH_CLIENT
    await _ask_owner(session, row, lead, contact, task, step_index, now, leads_chat_id)
    return await done(StepOutcome.TASK)


def _stop_reason(
    lead: Lead, contact: Contact | None, unknown: bool, step_index: int
) -> StopReason | None:
    if unknown:
        return StopReason.UNKNOWN_SEQUENCE
    if contact is not None and contact.sequences_stopped_at is not None:
        return StopReason.OPTED_OUT
    if lead.merged_into_id is not None:
        return StopReason.MERGED
    if lead.status in OPEN_STATUSES:  # reopened meanwhile: someone works on it
        return StopReason.STATUS_CHANGED
    return None


def _stopped(reason: StopReason, now: datetime) -> dict[str, Any]:
    return {"state": EnrolmentState.STOPPED, "stop_reason": reason, "due_at": None, "ended_at": now}


async def _claim(
    session: AsyncSession, enrolment_id: int, step: int, due_at: datetime, values: dict[str, Any]
) -> bool:
    """Change the enrolment only as it was read (the same step, still due then, active): of
    two runs exactly one matches."""
    claimed = await session.execute(
        update(SequenceEnrolment)
        .where(
            SequenceEnrolment.id == enrolment_id,
            SequenceEnrolment.state == EnrolmentState.ACTIVE,
            SequenceEnrolment.step == step,
            SequenceEnrolment.due_at == due_at,
        )
        .values(**values)
    )
    return getattr(claimed, "rowcount", 0) == 1


async def _last_message_at(session: AsyncSession, row: SequenceEnrolment) -> datetime | None:
    """The person's last sequence message, whichever of their sequences sent it."""
    if row.contact_id is None:
        return row.last_message_at
    contacts = await person_contacts(session, row.contact_id)
    return await session.scalar(
        select(func.max(SequenceEnrolment.last_message_at)).where(
            SequenceEnrolment.contact_id.in_(contacts)
        )
    )


async def _message_client(
    session: AsyncSession,
    row: SequenceEnrolment,
    lead: Lead,
    chat_id: int,
    step: SequenceStep,
    step_index: int,
    now: datetime,
    config: AppConfig,
) -> None:
    assert step.message is not None
    message = text_message(
        lead.id,
        chat_id,
        None,
        step.message,
        {"client": lead.name},
        now,
        locale=config.locale,
    )
    message["payload"]["sequence"] = {"enrolment": row.id, "buttons": step.buttons}
    await enqueue(session, [message])
    session.add(
        LeadEvent(
            lead_id=lead.id,
            kind=SEQUENCE_MESSAGE_EVENT,
            data={"sequence": row.sequence, "step": step_index + 1, "template": step.message},
            created_at=now,
        )
    )


async def _ask_owner(
    session: AsyncSession,
    row: SequenceEnrolment,
    lead: Lead,
    contact: Contact | None,
    task: str,
    step_index: int,
    now: datetime,
    leads_chat_id: int | None,
) -> None:
    """The owner (or, for a lead nobody owns, the team chat) is asked to act on the lead."""
    owner = await session.get(Staff, lead.owner_id) if lead.owner_id else None
    context = {
        "lead_id": lead.id,
        "client": lead.name,
        "task": task,
        "sequence": row.sequence,
        "phone": lead.phone or (contact.phone if contact else None),
        "email": lead.email or (contact.email if contact else None),
    }
    if owner is not None and owner.is_active:
        await enqueue(
            session,
            [text_message(lead.id, owner.telegram_id, owner.id, "sequence_task", context, now)],
        )
    elif leads_chat_id is not None:
        await enqueue(
            session, [text_message(lead.id, leads_chat_id, None, "sequence_task", context, now)]
        )
    session.add(
        LeadEvent(
            lead_id=lead.id,
            kind=SEQUENCE_TASK_EVENT,
            data={"sequence": row.sequence, "step": step_index + 1, "task": task},
            created_at=now,
        )
    )
