"""A manager returns a missed call from the card: Called back (done) or No answer (try again
in 30 minutes). On a new lead the first press takes it, as Take would."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.lifecycle import Action
from bot.config import AppConfig
from bot.leads.actions import ActionResult, Refusal, apply_action, load_lead
from bot.sla.deadlines import ping_time
from bot.sla.lead_timers import contact_made
from storage.models import MISSED_CALL_TASK, Lead, LeadEvent, LeadStatus, Staff, Task

RETRY_AFTER = timedelta(minutes=30)


def next_try_at(now: datetime) -> datetime:
    """After No answer: when the manager is asked to try the call again."""
    return now + RETRY_AFTER


class _TaskGone(Exception):
    """The task was closed between the check and the change: nothing is written."""


async def return_missed_call(
    session: AsyncSession,
    lead_id: int,
    actor: Staff,
    reached: bool,
    now: datetime,
    config: AppConfig,
) -> ActionResult:
    """The manager called the client back: `reached` closes the task (contact made); else it
    stays open, due again in 30 minutes, when the manager is reminded to try again (the
    supervisors `[sla] missed_call` escalate later). One transaction with its event and the
    card refresh. No answer is not contact: the lead's own time limit keeps running.

    Authorised like any card action on the lead as it is now: its owner or a supervisor while
    it is worked; whoever may take it while it is new (the press then takes it)."""
    lead = await load_lead(session, lead_id)
    task = await session.scalar(
        select(Task)
        .where(Task.lead_id == lead_id, Task.kind == MISSED_CALL_TASK, Task.done_at.is_(None))
        .order_by(Task.id)
        .limit(1)
    )
    task_id, task_data = (task.id, dict(task.data or {})) if task else (None, {})
    await session.commit()  # ends the read; apply_action runs its own transaction
    if lead is None:
        return ActionResult(None, Refusal.NOT_FOUND)
    if task_id is None:  # a stale button: the call was returned meanwhile
        return ActionResult(lead, Refusal.OUTDATED)
    kind = "missed_call_done" if reached else "missed_call_retry"
    due = next_try_at(now)
    event: dict[str, Any] = {} if reached else {"due_at": due.isoformat()}
    taking = lead.status == LeadStatus.NEW

    async def update_task(changed: Lead) -> None:
        values: dict[str, Any] = {"assignee_id": changed.owner_id}
        if reached:
            values |= {"done_at": now, "data": {**task_data, "called_back_at": now.isoformat()}}
        else:
            tries = {**task_data, "retries": int(task_data.get("retries", 0)) + 1}
            values |= {
                "due_at": due,
                "alert_level": 0,
                "alert_at": ping_time(due, config),
                "data": tries,
            }
        done = await session.execute(
            update(Task).where(Task.id == task_id, Task.done_at.is_(None)).values(**values)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise _TaskGone
        if reached:
            await contact_made(session, changed.id, now, config)
        if taking:  # apply_action recorded "taken"; the call is its own line in the history
            session.add(
                LeadEvent(
                    lead_id=changed.id, kind=kind, actor_id=actor.id, data=event, created_at=now
                )
            )

    try:
        if taking:  # first press wins, offers respected: exactly Take, plus the task
            taken = {
                "owner_id": actor.id,
                "taken_at": now,
                "offered_to_id": None,
                "offered_at": None,
                "waiting_since": None,
            }
            return await apply_action(
                session,
                lead_id,
                actor,
                Action.TAKE,
                now,
                values=taken,
                event_kind="taken",
                then=update_task,
                config=config,
            )
        # QUALIFY is the rule "a worked lead, its status stays, its owner or a supervisor acts"
        return await apply_action(
            session,
            lead_id,
            actor,
            Action.QUALIFY,
            now,
            event=event,
            event_kind=kind,
            then=update_task,
            config=config,
            reached_client=reached,
        )
    except _TaskGone:
        await session.rollback()
        return ActionResult(await load_lead(session, lead_id), Refusal.OUTDATED)
