"""The supervisor's answers to an escalation: Take over (they become the owner) and Snooze (it
comes back later). Every press is checked against the database as it is now: still a
supervisor, the lead still open, the limit still at the step the card was sent for."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.lifecycle import CLOSED_STATUSES, SUPERVISING
from bot.config import AppConfig
from bot.leads.actions import ActionResult, Refusal, load_lead
from bot.leads.reassign import reassign_lead
from bot.sla.alerts import AlertSubject, still_pending
from bot.sla.deadlines import ping_time
from storage.models import Lead, LeadEvent, Staff, Task


async def take_over(
    session: AsyncSession,
    lead_id: int,
    actor: Staff,
    seen_version: int,
    now: datetime,
    config: AppConfig,
) -> ActionResult:
    """The supervisor works the lead themselves: a reassign to them (the owner is told), as
    the lead was when the escalation was sent."""
    return await reassign_lead(session, lead_id, actor, actor.id, seen_version, now, config)


async def snooze(
    session: AsyncSession,
    lead_id: int,
    subject: AlertSubject,
    actor: Staff,
    now: datetime,
    config: AppConfig,
) -> tuple[ActionResult, datetime | None]:
    """Put the escalation off `[sla] snooze`: it fires again then (in working time unless
    configured otherwise). Applies only while the limit is still at the level the card was
    sent for; of two presses, one wins."""
    lead = await load_lead(session, lead_id)
    if lead is None:
        await session.commit()
        return ActionResult(None, Refusal.NOT_FOUND), None
    if actor.role not in SUPERVISING:
        await session.commit()
        return ActionResult(lead, Refusal.NOT_ALLOWED), None
    if lead.status in CLOSED_STATUSES:
        await session.commit()
        return ActionResult(lead, Refusal.CLOSED), None
    again = ping_time(now + config.sla.snooze, config)
    # the step fires again: the level goes back by one, alert_at is when
    values = {"alert_at": again, "alert_level": subject.level - 1}
    if subject.task_id is not None:
        changed = await session.execute(
            update(Task)
            .where(
                Task.id == subject.task_id,
                Task.lead_id == lead_id,
                Task.done_at.is_(None),
                Task.alert_level == subject.level,
                Task.kind == subject.kind.value,
            )
            .values(**values)
        )
    else:
        changed = await session.execute(
            update(Lead)
            .where(
                Lead.id == lead_id,
                Lead.alert_level == subject.level,
                Lead.alert_since.is_not(None),
                Lead.status == lead.status,
            )
            .values(**values)
        )
    task = await session.get(Task, subject.task_id) if subject.task_id is not None else None
    if changed.rowcount != 1 or not still_pending(subject, lead, task):  # type: ignore[attr-defined]
        await session.rollback()  # answered, taken, escalated again or snoozed meanwhile
        return ActionResult(await load_lead(session, lead_id), Refusal.OUTDATED), None
    session.add(
        LeadEvent(
            lead_id=lead_id,
            kind="snoozed",
            actor_id=actor.id,
            data={
                "kind": subject.kind.value,
                "level": subject.level,
                "task_id": subject.task_id,
                "until": again.isoformat(),
            },
            created_at=now,
        )
    )
    await session.commit()
    return ActionResult(lead), again
