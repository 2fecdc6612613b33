"""Who gets a new lead's card (the `claim` policy: everyone on duty, first press wins)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Role, Staff


@dataclass(frozen=True)
class Recipient:
    chat_id: int
    staff_id: int | None


async def card_recipients(session: AsyncSession, leads_chat_id: int | None) -> list[Recipient]:
    """The team chat if there is one; else every on-duty manager; else supervisors and admins,
    so a lead that arrives while nobody is on duty is still seen by someone."""
    if leads_chat_id is not None:
        return [Recipient(chat_id=leads_chat_id, staff_id=None)]
    active = (
        await session.scalars(select(Staff).where(Staff.is_active.is_(True)).order_by(Staff.id))
    ).all()
    managers = [s for s in active if s.role == Role.MANAGER and s.on_duty]
    chosen = managers or [s for s in active if s.role in (Role.SUPERVISOR, Role.ADMIN)]
    return [Recipient(chat_id=s.telegram_id, staff_id=s.id) for s in chosen]
