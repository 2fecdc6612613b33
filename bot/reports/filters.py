"""The report's filters as a phone picks them: the sources that have leads in the period and
the managers one can filter by (each with their number of leads)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import AppConfig
from bot.reports.summary import Period, report_scope
from storage.models import Lead, Role, Staff


@dataclass(frozen=True)
class PickedSource:
    source: str
    leads: int


@dataclass(frozen=True)
class PickedManager:
    staff_id: int
    telegram_id: int
    name: str
    leads: int  # the period's leads they took first or own now


async def period_sources(
    session: AsyncSession,
    period: Period,
    config: AppConfig,
    *,
    manager_telegram_id: int | None = None,
) -> list[PickedSource]:
    """Every source with leads created in the period (one manager's, when filtered), the most
    leads first, as the report's channels are ordered."""
    scope = await report_scope(session, period, config, manager_telegram_id=manager_telegram_id)
    rows = await session.execute(
        scope.where(select(Lead.source, func.count()).select_from(Lead)).group_by(Lead.source)
    )
    found = [PickedSource(source, int(count)) for source, count in rows]
    return sorted(found, key=lambda row: (-row.leads, row.source))


async def period_managers(
    session: AsyncSession, period: Period, config: AppConfig, *, source: str | None = None
) -> list[PickedManager]:
    """The people the manager filter may pick, by name: every active manager (one with no
    leads too, as the report lists them), and anyone who took first or owns a lead created in
    the period (a supervisor who took one; someone deactivated since)."""
    scope = await report_scope(session, period, config, source=source)
    takers = scope.where(select(Lead.id.label("lead"), Lead.first_owner_id.label("person")))
    owners = scope.where(select(Lead.id.label("lead"), Lead.owner_id.label("person")))
    pairs = union(takers, owners).subquery()  # a lead counts once for a person
    counts = {
        person: int(count)
        for person, count in await session.execute(
            select(pairs.c.person, func.count())
            .where(pairs.c.person.is_not(None))
            .group_by(pairs.c.person)
        )
    }
    people = await session.scalars(
        select(Staff)
        .where(
            or_(
                and_(Staff.is_active.is_(True), Staff.role == Role.MANAGER),
                Staff.id.in_(list(counts)),
            )
        )
        .order_by(Staff.name, Staff.id)
    )
    return [
        PickedManager(person.id, person.telegram_id, person.name, counts.get(person.id, 0))
        for person in people
    ]
