"""What breaks its time limits now: a new lead nobody took, a call-back past its time, a lead
in work with no step for too long. /overdue shows them; the reminders issue pings about them."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bot.config import AlertKind, AppConfig
from bot.sla.deadlines import alert_time
from storage.models import CALL_BACK_TASK, Lead, LeadStatus, Task


class Breach(enum.StrEnum):
    NOT_TAKEN = "not_taken"  # new past the first step of [sla.not_taken]
    CALL_BACK_MISSED = "callback_missed"  # the promised call-back time has passed
    STALLED = "stalled"  # in work with no change for longer than time_limits.in_work


@dataclass(frozen=True)
class OverdueLead:
    lead: Lead
    breach: Breach
    since: datetime  # when the limit was crossed


async def overdue_leads(
    session: AsyncSession, now: datetime, config: AppConfig, owner_id: int | None = None
) -> list[OverdueLead]:
    """Every breach now, the longest overdue first. With `owner_id`: that person's leads and
    the new ones nobody took (a manager's view)."""
    found: list[OverdueLead] = []
    limits = config.time_limits
    first = config.sla.not_taken.remind or config.sla.not_taken.escalate
    if first is not None:
        # overdue from the not-taken limit's first step, counted as the reminders count it
        # (working time, out of the night); working time is never shorter than wall time
        waiting = await session.scalars(
            select(Lead)
            .options(joinedload(Lead.owner))
            .where(Lead.status == LeadStatus.NEW, Lead.created_at <= now - first)
        )
        for lead in waiting:
            since = alert_time(AlertKind.NOT_TAKEN, lead.created_at, 0, config)
            if since is not None and since <= now:
                found.append(OverdueLead(lead, Breach.NOT_TAKEN, since))
    mine = [Lead.owner_id == owner_id] if owner_id is not None else []
    missed = await session.execute(
        select(Lead, Task.due_at)
        .options(joinedload(Lead.owner))
        .join(Task, Task.lead_id == Lead.id)
        .where(
            Task.kind == CALL_BACK_TASK,
            Task.done_at.is_(None),
            Task.due_at <= now,
            Lead.status == LeadStatus.CALL_BACK,
            *mine,
        )
    )
    found += [OverdueLead(lead, Breach.CALL_BACK_MISSED, due) for lead, due in missed]
    if "in_work" in limits:
        stalled = await session.scalars(
            select(Lead)
            .options(joinedload(Lead.owner))
            .where(
                Lead.status == LeadStatus.IN_WORK, Lead.updated_at <= now - limits["in_work"], *mine
            )
        )
        found += [
            OverdueLead(lead, Breach.STALLED, lead.updated_at + limits["in_work"])
            for lead in stalled
        ]
    return sorted(found, key=lambda item: (item.since, item.lead.id))


async def overdue_counts(session: AsyncSession, now: datetime, config: AppConfig) -> dict[int, int]:
    """How many of each owner's leads are overdue now, as `overdue_leads` finds them (a missed
    call-back, a lead in work with no step for too long; a lead nobody took is nobody's),
    counted in the database: the reports' "overdue now" per manager."""
    counts: dict[int, int] = {}
    missed = await session.execute(
        select(Lead.owner_id, func.count(func.distinct(Lead.id)))
        .join(Task, Task.lead_id == Lead.id)
        .where(
            Task.kind == CALL_BACK_TASK,
            Task.done_at.is_(None),
            Task.due_at <= now,
            Lead.status == LeadStatus.CALL_BACK,
            Lead.owner_id.is_not(None),
        )
        .group_by(Lead.owner_id)
    )
    for owner_id, count in missed:
        counts[owner_id] = counts.get(owner_id, 0) + int(count)
    if "in_work" in config.time_limits:
        stalled = await session.execute(
            select(Lead.owner_id, func.count())
            .where(
                Lead.status == LeadStatus.IN_WORK,
                Lead.updated_at <= now - config.time_limits["in_work"],
                Lead.owner_id.is_not(None),
            )
            .group_by(Lead.owner_id)
        )
        for owner_id, count in stalled:
            counts[owner_id] = counts.get(owner_id, 0) + int(count)
    return counts
