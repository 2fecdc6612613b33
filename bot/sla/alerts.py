"""What a reminder or an escalation is about when it is sent: the ALERT row's payload, whether
the matter is still undone (an alert about something settled is dropped), and its headline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.lifecycle import CLOSED_STATUSES
from bot.common.render import short_time
from bot.config import AlertKind, AppConfig
from bot.sla.deadlines import Step, steps_of
from bot.sla.lead_timers import lead_alert_kind
from storage.models import AlertCopy, Lead, Task


@dataclass(frozen=True)
class AlertSubject:
    """The payload of an ALERT outbox row: which limit, which step, and how far it had got."""

    kind: AlertKind
    step: Step
    level: int
    task_id: int | None
    waited: int | None = None  # minutes from the limit's start to the step (older rows: None)

    @classmethod
    def of(cls, payload: dict[str, Any]) -> AlertSubject:
        waited = payload.get("waited")
        return cls(
            AlertKind(payload["kind"]),
            Step(payload["step"]),
            int(payload["level"]),
            payload.get("task_id"),
            int(waited) if waited is not None else None,
        )


def still_pending(subject: AlertSubject, lead: Lead | None, task: Task | None) -> bool:
    """Is what the alert is about still undone? (Taken, answered, closed: the alert is
    dropped rather than sent for nothing.)"""
    if lead is None or lead.status in CLOSED_STATUSES:
        return False
    if subject.task_id is not None:
        return task is not None and task.done_at is None
    return lead_alert_kind(lead.status, lead.contacted_at is not None) is subject.kind


def waited(subject: AlertSubject, config: AppConfig) -> int:
    """Minutes the lead (or the task) had waited when the step fired, for the headline: from
    where its limit started (the lead's `alert_since`, the task's `due_at`), not the step's
    configured time, which nights, weekends and snoozes stretch. A row written before the
    sweep recorded it falls back to the configured time."""
    if subject.waited is not None:
        return subject.waited
    steps = dict(steps_of(subject.kind, config))
    after = steps.get(subject.step, timedelta())
    return int(after.total_seconds() // 60)


def headline_context(
    subject: AlertSubject, lead: Lead, task: Task | None, config: AppConfig
) -> dict[str, Any]:
    data = (task.data if task is not None else None) or {}
    return {
        "kind": subject.kind.value,
        "step": subject.step.value,
        "lead_id": lead.id,
        "minutes": waited(subject, config),
        "client": lead.name,
        "count": task.count if task is not None else 1,
        # No answer was pressed: the reminder is the time to try again
        "retries": int(data.get("retries", 0)),
    }


def settled_context(
    subject: AlertSubject, lead: Lead, task: Task | None, now: datetime, config: AppConfig
) -> dict[str, Any]:
    """What an alert message says once its matter is settled (sla_settled.html.j2): taken by
    whom, closed, or done, and when (local time)."""
    done_at = task.done_at if task is not None and task.done_at is not None else lead.updated_at
    return {
        "lead_id": lead.id,
        "kind": subject.kind.value,
        "closed": lead.status in CLOSED_STATUSES,
        "owner": lead.owner.name if lead.owner is not None else None,
        "at": short_time(done_at, now, config),
    }


async def alert_still_pending(session: AsyncSession, copy: AlertCopy, lead: Lead) -> bool:
    """Is the matter of this alert message still undone (its buttons still mean something)?"""
    subject = AlertSubject.of(copy.payload)
    task = await session.get(Task, subject.task_id) if subject.task_id else None
    return still_pending(subject, lead, task)
