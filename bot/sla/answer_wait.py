"""A client's message waits for an answer: one open `answer` task per lead (later messages
only count), from the first unanswered message; a delivered reply completes it. Its time
limit ([sla.answer]) reminds the owner, then the supervisors."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import AlertKind, AppConfig
from bot.sla.deadlines import alert_time
from bot.sla.lead_timers import contact_made
from storage.models import ANSWER_TASK, OPEN_STATUSES, Lead, Task


async def client_waits(
    session: AsyncSession, lead_id: int, now: datetime, config: AppConfig
) -> None:
    """In the caller's transaction. A lead nobody owns yet is watched by its own "not taken"
    limit instead (its pool would be told twice)."""
    lead = await session.get(Lead, lead_id, populate_existing=True)
    if lead is None or lead.owner_id is None or lead.status not in OPEN_STATUSES:
        return
    bumped = await session.execute(
        update(Task)
        .where(Task.lead_id == lead_id, Task.kind == ANSWER_TASK, Task.done_at.is_(None))
        .values(count=Task.count + 1)
    )
    if bumped.rowcount:  # type: ignore[attr-defined]
        return  # the clock runs from the first message nobody answered
    session.add(
        Task(
            lead_id=lead_id,
            kind=ANSWER_TASK,
            assignee_id=lead.owner_id,
            due_at=now,
            created_at=now,
            count=1,
            alert_at=alert_time(AlertKind.ANSWER, now, 0, config),
            alert_level=0,
        )
    )
    await session.flush()


async def client_answered(
    session: AsyncSession, lead_id: int, now: datetime, config: AppConfig
) -> None:
    """A reply reached the client: the wait is over and contact is made (caller commits)."""
    await session.execute(
        update(Task)
        .where(Task.lead_id == lead_id, Task.kind == ANSWER_TASK, Task.done_at.is_(None))
        .values(done_at=now, alert_at=None)
    )
    await contact_made(session, lead_id, now, config)


async def open_answer_task(session: AsyncSession, lead_id: int) -> Task | None:
    return await session.scalar(
        select(Task).where(
            Task.lead_id == lead_id, Task.kind == ANSWER_TASK, Task.done_at.is_(None)
        )
    )
