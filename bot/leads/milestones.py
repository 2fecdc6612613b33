"""The one milestone a migration cannot fill: how long, in working hours, a lead taken before
the milestones existed waited for its take. Working hours live in the configuration, which
migrations do not read, so the app fills those leads when it starts (a lead acted on first is
filled by its action, bot/leads/actions.py)."""

from __future__ import annotations

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import AppConfig
from bot.sla.working_hours import working_time_between
from storage.models import Lead

BATCH = 2000  # leads a transaction


async def fill_take_work_waits(session: AsyncSession, config: AppConfig) -> int:
    """Every lead with a first take and no working-time wait gets it; the number filled.
    Several instances starting at once write the same values: harmless."""
    filled = 0
    while True:
        rows = (
            await session.execute(
                select(Lead.id, Lead.created_at, Lead.first_taken_at)
                .where(Lead.first_taken_at.is_not(None), Lead.first_take_work_s.is_(None))
                .order_by(Lead.id)
                .limit(BATCH)
            )
        ).all()
        if not rows:
            await session.commit()
            return filled
        waits = [
            {
                "lead_id": lead_id,
                "wait": working_time_between(
                    created, taken, config.working_hours, config.zone
                ).total_seconds(),
            }
            for lead_id, created, taken in rows
        ]
        leads = Lead.__table__  # a Core executemany: one statement, a row of values each
        await session.execute(
            update(leads)
            .where(leads.c.id == bindparam("lead_id"))
            .values(first_take_work_s=bindparam("wait")),
            waits,
        )
        await session.commit()
        filled += len(waits)
