"""Call-backs: a manager promises to call the client at a time; the lead waits in `callback`
with an open task (the scheduler's reminders read the tasks)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.lifecycle import Action
from bot.config import AlertKind, AppConfig, default_config
from bot.leads.actions import ActionResult, apply_action, close_open_tasks
from bot.sla.deadlines import alert_time
from storage.models import CALLBACK_TASK, Lead, LeadStatus, Staff, Task


async def schedule_callback(
    session: AsyncSession, lead_id: int, actor: Staff, due_at: datetime, now: datetime,
    config: AppConfig | None = None,
) -> ActionResult:
    """Put the lead in `callback`, due at `due_at`; a second call reschedules (one open task)."""
    if due_at <= now:
        raise ValueError("a call-back is due in the future")

    async def open_task(lead: Lead) -> None:
        await close_open_tasks(session, lead.id, now, CALLBACK_TASK)
        owner = lead.owner_id or actor.id
        # the owner is reminded when it is due, supervisors later (config [sla.callback])
        first = alert_time(AlertKind.CALLBACK, due_at, 0, config or default_config())
        session.add(Task(lead_id=lead.id, kind=CALLBACK_TASK, assignee_id=owner, due_at=due_at,
                         created_at=now, alert_at=first, alert_level=0))  # fmt: skip

    return await apply_action(
        session, lead_id, actor, Action.SCHEDULE_CALLBACK, now,
        event={"due_at": due_at.isoformat()}, event_kind="callback_scheduled", then=open_task,
        config=config,
    )  # fmt: skip


async def finish_callback(
    session: AsyncSession, lead_id: int, actor: Staff, now: datetime
) -> ActionResult:
    """The call was made: the lead is back in work and its call-back task is done."""

    async def close_task(lead: Lead) -> None:
        await close_open_tasks(session, lead.id, now, CALLBACK_TASK)

    return await apply_action(
        session, lead_id, actor, Action.CALLBACK_DONE, now, event_kind="callback_done",
        then=close_task,
    )  # fmt: skip


def is_reschedule(lead: Lead | None) -> bool:
    return lead is not None and lead.status == LeadStatus.CALLBACK
