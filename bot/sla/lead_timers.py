"""A lead's own time limit, kept on the lead (`alert_at`, `alert_level`, `alert_since`): while
new, "not taken"; while in work with no contact made, "no contact". Every change of status
sets it afresh with `lead_alert`; tasks (call-back, missed call, answer) carry their own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, literal, not_, null, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import AlertKind, AppConfig
from bot.sla.deadlines import alert_time
from bot.sla.working_hours import working_time_between
from storage.models import Lead, LeadStatus


def record_work_waits(lead: Lead, config: AppConfig) -> None:
    """The lead's first take and first contact, as waits in working hours (as configured now),
    once each: the reports' medians "in working time" (a loaded lead; the caller commits)."""
    hours, zone = config.working_hours, config.zone
    if lead.first_taken_at is not None and lead.first_take_work_s is None:
        waited = working_time_between(lead.created_at, lead.first_taken_at, hours, zone)
        lead.first_take_work_s = waited.total_seconds()
    if lead.contacted_at is not None and lead.first_contact_work_s is None:
        waited = working_time_between(lead.created_at, lead.contacted_at, hours, zone)
        lead.first_contact_work_s = waited.total_seconds()


def lead_alert_kind(status: str, contacted: bool) -> AlertKind | None:
    if status == LeadStatus.NEW:
        return AlertKind.NOT_TAKEN
    if status == LeadStatus.IN_WORK and not contacted:
        return AlertKind.NO_CONTACT
    return None


def lead_alert(status: str, contacted: bool, since: datetime, config: AppConfig) -> dict[str, Any]:
    """The timer columns of a lead that entered `status` at `since` (values for an UPDATE or
    an INSERT): the first step of its limit, or nothing to watch."""
    kind = lead_alert_kind(status, contacted)
    if kind is None:
        return {"alert_at": None, "alert_level": 0, "alert_since": None}
    return {"alert_at": alert_time(kind, since, 0, config), "alert_level": 0, "alert_since": since}


async def contact_made(
    session: AsyncSession, lead_id: int, now: datetime, config: AppConfig
) -> None:
    """The manager reached the client (an answer, a call, a call-back...): the first contact is
    recorded and a lead in work stops waiting for it. In the caller's transaction."""
    await session.execute(
        update(Lead)
        .where(Lead.id == lead_id)
        .values(contacted_at=func.coalesce(Lead.contacted_at, now))
    )
    lead = await session.get(Lead, lead_id, populate_existing=True)
    if lead is not None:
        record_work_waits(lead, config)
    await session.execute(
        update(Lead)
        .where(Lead.id == lead_id, Lead.status == LeadStatus.IN_WORK)
        .values(alert_at=None, alert_level=0, alert_since=None)
    )


def restarted_alert(
    target: Any, contacted: Any, now: datetime, config: AppConfig
) -> dict[str, Any]:
    """`lead_alert` as SQL for a conditional UPDATE whose new status is the expression
    `target` (a reopen or a reassign decides it in the statement) and whose contact is
    `contacted` (a boolean SQL expression, or True)."""
    if isinstance(target, str):
        target = literal(str(target))
    waiting = lead_alert(LeadStatus.NEW, False, now, config)
    working = lead_alert(LeadStatus.IN_WORK, False, now, config)

    def pick(column: str) -> Any:
        return case(
            (target == LeadStatus.NEW, literal(waiting[column], Lead.__table__.c[column].type)),
            (
                and_(target == LeadStatus.IN_WORK, not_(contacted)),
                literal(working[column], Lead.__table__.c[column].type),
            ),
            else_=null(),
        )

    return {"alert_at": pick("alert_at"), "alert_level": 0, "alert_since": pick("alert_since")}
