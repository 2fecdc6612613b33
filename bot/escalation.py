"""What a reminder or an escalation says when it is sent, and the supervisor's answers to an
escalation: Take over (they become the owner) and Snooze (it comes back later). Every press
is checked against the database as it is now: still a supervisor, the lead still open, the
limit still at the step the card was sent for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import AlertKind, AppConfig
from bot.deadlines import Step, ping_time, steps_of
from bot.lead_timers import lead_alert_kind
from bot.leads import ActionResult, Refusal, load_lead
from bot.lifecycle import CLOSED_STATUSES, SUPERVISING
from bot.reassign import reassign_lead
from storage.models import Lead, LeadEvent, Staff, Task


@dataclass(frozen=True)
class AlertSubject:
    """The payload of an ALERT outbox row: which limit, which step, and how far it had got."""

    kind: AlertKind
    step: Step
    level: int
    task_id: int | None

    @classmethod
    def of(cls, payload: dict[str, Any]) -> AlertSubject:
        return cls(AlertKind(payload["kind"]), Step(payload["step"]), int(payload["level"]),
                   payload.get("task_id"))  # fmt: skip


def still_pending(subject: AlertSubject, lead: Lead | None, task: Task | None) -> bool:
    """Is what the alert is about still undone? (Taken, answered, closed: the alert is
    dropped rather than sent for nothing.)"""
    if lead is None or lead.status in CLOSED_STATUSES:
        return False
    if subject.task_id is not None:
        return task is not None and task.done_at is None
    return lead_alert_kind(lead.status, lead.contacted_at is not None) is subject.kind


def waited(subject: AlertSubject, config: AppConfig) -> int:
    """Minutes the step stands for (the configured limit), for the headline."""
    steps = dict(steps_of(subject.kind, config))
    after = steps.get(subject.step, timedelta())
    return int(after.total_seconds() // 60)


def headline_context(
    subject: AlertSubject, lead: Lead, task: Task | None, config: AppConfig
) -> dict[str, Any]:
    data = (task.data if task is not None else None) or {}
    return {"kind": subject.kind.value, "step": subject.step.value, "lead_id": lead.id,
            "minutes": waited(subject, config), "client": lead.name,
            "count": task.count if task is not None else 1,
            # No answer was pressed: the reminder is the time to try again
            "retries": int(data.get("retries", 0))}  # fmt: skip


async def take_over(
    session: AsyncSession, lead_id: int, actor: Staff, seen_version: int, now: datetime,
    config: AppConfig,
) -> ActionResult:  # fmt: skip
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
            .where(Task.id == subject.task_id, Task.lead_id == lead_id, Task.done_at.is_(None),
                   Task.alert_level == subject.level, Task.kind == subject.kind.value)
            .values(**values)
        )  # fmt: skip
    else:
        changed = await session.execute(
            update(Lead)
            .where(Lead.id == lead_id, Lead.alert_level == subject.level,
                   Lead.alert_since.is_not(None), Lead.status == lead.status)
            .values(**values)
        )  # fmt: skip
    task = await session.get(Task, subject.task_id) if subject.task_id is not None else None
    if changed.rowcount != 1 or not still_pending(subject, lead, task):  # type: ignore[attr-defined]
        await session.rollback()  # answered, taken, escalated again or snoozed meanwhile
        return ActionResult(await load_lead(session, lead_id), Refusal.OUTDATED), None
    session.add(LeadEvent(lead_id=lead_id, kind="snoozed", actor_id=actor.id,
                          data={"kind": subject.kind.value, "level": subject.level,
                                "task_id": subject.task_id, "until": again.isoformat()},
                          created_at=now))  # fmt: skip
    await session.commit()
    return ActionResult(lead), again
