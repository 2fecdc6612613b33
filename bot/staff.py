"""Staff: the Telegram users who work leads, and what each may do."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Role, Staff


async def active_staff(session: AsyncSession, telegram_id: int) -> Staff | None:
    """The staff member behind a Telegram user, re-read on every update: a removed person
    loses their buttons at once."""
    return await session.scalar(
        select(Staff).where(Staff.telegram_id == telegram_id, Staff.is_active.is_(True))
    )


async def add_staff(
    session: AsyncSession, telegram_id: int, role: Role, name: str, now: datetime
) -> Staff:
    """Add (or re-activate and update) a staff member; they start active and on duty."""
    staff = await session.scalar(select(Staff).where(Staff.telegram_id == telegram_id))
    if staff is None:
        staff = Staff(telegram_id=telegram_id, created_at=now, name=name, role=role)
        session.add(staff)
    staff.name = name
    staff.role = role
    staff.is_active = True
    staff.on_duty = True
    await session.commit()
    return staff


async def list_staff(session: AsyncSession) -> list[Staff]:
    return list((await session.scalars(select(Staff).order_by(Staff.id))).all())


async def remove_staff(session: AsyncSession, telegram_id: int) -> Staff | None:
    """Deactivate, never delete: the history keeps naming who did what."""
    staff = await session.scalar(select(Staff).where(Staff.telegram_id == telegram_id))
    if staff is None:
        return None
    staff.is_active = False
    staff.on_duty = False
    await session.commit()
    return staff


async def ensure_admins(session: AsyncSession, telegram_ids: list[int], now: datetime) -> None:
    """ADMIN_IDS are admins on every start; names are filled in when they first write."""
    for telegram_id in telegram_ids:
        staff = await session.scalar(select(Staff).where(Staff.telegram_id == telegram_id))
        if staff is None:
            session.add(Staff(telegram_id=telegram_id, name=f"admin {telegram_id}",
                              role=Role.ADMIN, created_at=now))  # fmt: skip
        elif staff.role != Role.ADMIN or not staff.is_active:
            staff.role = Role.ADMIN
            staff.is_active = True
    await session.commit()


async def remember_language(session: AsyncSession, staff: Staff, language: str | None) -> None:
    """Cards follow the language of the person's Telegram app."""
    code = next((c for c in ("ru", "en") if language and language.startswith(c)), None)
    if staff.language != code:
        staff.language = code
        await session.commit()
