"""Call-backs: a manager promises to call the client at a time; the lead waits in `callback`
with an open task (the scheduler's reminders read the tasks)."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.lifecycle import Action
from bot.config import AlertKind, AppConfig, default_config
from bot.leads.actions import ActionResult, apply_action, close_open_tasks
from bot.sla.deadlines import alert_time
from bot.sla.working_hours import tomorrow_morning
from storage.models import CALL_BACK_TASK, Lead, LeadStatus, Staff, Task


class CallBackChoice(enum.StrEnum):
    """The quick times on the card (their values ride in the buttons)."""

    IN_30_MIN = "30m"
    IN_2_HOURS = "2h"
    TOMORROW = "tomorrow"  # the next working day's opening
    OTHER = "other"  # the manager types a time


QUICK_DELAYS = {
    CallBackChoice.IN_30_MIN: timedelta(minutes=30),
    CallBackChoice.IN_2_HOURS: timedelta(hours=2),
}


def quick_call_back_time(choice: CallBackChoice, now: datetime, config: AppConfig) -> datetime:
    """When a quick choice is due; "tomorrow" is the opening of the next working day (a
    Friday's tomorrow is Monday at 09:00 with the shipped hours)."""
    if choice in QUICK_DELAYS:
        return now + QUICK_DELAYS[choice]
    if choice is CallBackChoice.TOMORROW:
        return tomorrow_morning(now, config.working_hours, config.zone)
    raise ValueError(f"{choice} is typed by the manager, not a quick time")


async def schedule_call_back(
    session: AsyncSession,
    lead_id: int,
    actor: Staff,
    due_at: datetime,
    now: datetime,
    config: AppConfig | None = None,
) -> ActionResult:
    """Put the lead in `callback`, due at `due_at`; a second call reschedules (one open task)."""
    if due_at <= now:
        raise ValueError("a call-back is due in the future")

    async def open_task(lead: Lead) -> None:
        await close_open_tasks(session, lead.id, now, CALL_BACK_TASK)
        owner = lead.owner_id or actor.id
        # the owner is reminded when it is due, supervisors later (config [sla.callback])
        first = alert_time(AlertKind.CALL_BACK, due_at, 0, config or default_config())
        session.add(
            Task(
                lead_id=lead.id,
                kind=CALL_BACK_TASK,
                assignee_id=owner,
                due_at=due_at,
                created_at=now,
                alert_at=first,
                alert_level=0,
            )
        )

    return await apply_action(
        session,
        lead_id,
        actor,
        Action.SCHEDULE_CALL_BACK,
        now,
        event={"due_at": due_at.isoformat()},
        event_kind="callback_scheduled",
        then=open_task,
        config=config,
    )


async def finish_call_back(
    session: AsyncSession,
    lead_id: int,
    actor: Staff,
    now: datetime,
    config: AppConfig | None = None,
) -> ActionResult:
    """The call was made: the lead is back in work and its call-back task is done."""

    async def close_task(lead: Lead) -> None:
        await close_open_tasks(session, lead.id, now, CALL_BACK_TASK)

    return await apply_action(
        session,
        lead_id,
        actor,
        Action.CALL_BACK_DONE,
        now,
        event_kind="callback_done",
        then=close_task,
        config=config,
    )


def is_reschedule(lead: Lead | None) -> bool:
    return lead is not None and lead.status == LeadStatus.CALL_BACK
