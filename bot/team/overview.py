"""The team at a glance (/team, and a person's page in /staff): who is on duty, how many open
leads each holds against their capacity, how many they took today."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.leads.actions import open_lead_counts
from bot.sla.working_hours import local_midnight
from storage.models import LeadEvent, Role, Staff


@dataclass(frozen=True)
class TeamMember:
    staff_id: int
    name: str
    role: Role
    on_duty: bool
    open_leads: int
    capacity: int | None  # None: no limit
    taken_today: int
    skills: tuple[str, ...]

    @property
    def full(self) -> bool:
        """At or over capacity."""
        return self.capacity is not None and self.open_leads >= self.capacity


async def _members(
    session: AsyncSession, where: list[ColumnElement[bool]], now: datetime, zone: ZoneInfo
) -> list[TeamMember]:
    found = await session.scalars(
        select(Staff)
        .where(Staff.is_active.is_(True), *where)
        .order_by(Staff.name, Staff.id)
        .execution_options(populate_existing=True)
    )
    people = list(found.all())
    if not people:
        return []
    ids = [person.id for person in people]
    open_leads = await open_lead_counts(session, ids)
    counted = await session.execute(
        select(LeadEvent.actor_id, func.count(distinct(LeadEvent.lead_id)))
        .where(
            LeadEvent.kind == "taken",
            LeadEvent.actor_id.in_(ids),
            LeadEvent.created_at >= local_midnight(now, zone),
        )
        .group_by(LeadEvent.actor_id)
    )
    taken: dict[Any, int] = {actor: count for actor, count in counted}
    return [
        _member(person, open_leads.get(person.id, 0), taken.get(person.id, 0)) for person in people
    ]


def _member(person: Staff, open_leads: int, taken_today: int) -> TeamMember:
    return TeamMember(
        staff_id=person.id,
        name=person.name,
        role=Role(person.role),
        on_duty=person.on_duty,
        open_leads=open_leads,
        capacity=person.capacity,
        taken_today=taken_today,
        skills=tuple(person.skills or ()),
    )


async def team_overview(session: AsyncSession, now: datetime, zone: ZoneInfo) -> list[TeamMember]:
    """Every active manager, by name. "Taken today" counts the leads each took since local
    midnight in `zone` (a lead taken twice counts once)."""
    return await _members(session, [Staff.role == Role.MANAGER], now, zone)


async def member_overview(
    session: AsyncSession, staff_id: int, now: datetime, zone: ZoneInfo
) -> TeamMember | None:
    """One active staff member's figures, whatever the role; None if not active staff."""
    found = await _members(session, [Staff.id == staff_id], now, zone)
    return found[0] if found else None


async def active_members(session: AsyncSession) -> list[Staff]:
    """Everyone who is active staff, admins first, then supervisors, then managers."""
    people = (
        await session.scalars(
            select(Staff).where(Staff.is_active.is_(True)).order_by(Staff.name, Staff.id)
        )
    ).all()
    order = {Role.ADMIN: 0, Role.SUPERVISOR: 1, Role.MANAGER: 2}
    return sorted(people, key=lambda person: order.get(Role(person.role), 3))
