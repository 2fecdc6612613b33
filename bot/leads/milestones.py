"""The milestones a migration cannot fill: how long, in working hours, a lead from before them
waited for its first take and its first contact. Working hours live in the configuration,
which migrations do not read, so the app fills those leads when it starts (a lead acted on
first is filled by its action: bot/sla/lead_timers.record_work_waits)."""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import AppConfig
from bot.sla.lead_timers import record_work_waits
from storage.models import Lead

BATCH = 2000  # leads a transaction


async def fill_work_waits(session: AsyncSession, config: AppConfig) -> int:
    """Every lead with a first take or contact and no working-time wait for it gets it; the
    number of leads filled. Instances starting at once write the same values: harmless."""
    missing = or_(
        and_(Lead.first_taken_at.is_not(None), Lead.first_take_work_s.is_(None)),
        and_(Lead.contacted_at.is_not(None), Lead.first_contact_work_s.is_(None)),
    )
    filled = 0
    while True:
        leads = (
            await session.scalars(select(Lead).where(missing).order_by(Lead.id).limit(BATCH))
        ).all()
        for lead in leads:
            record_work_waits(lead, config)
        await session.commit()
        filled += len(leads)
        if len(leads) < BATCH:
            return filled
