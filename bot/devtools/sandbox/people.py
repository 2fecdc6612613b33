"""The demo team and client of the sandbox: who appears on the page, and as what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.team.staff import add_staff
from storage.models import Role


@dataclass(frozen=True)
class DemoPerson:
    telegram_id: int
    name: str
    role: Role | None  # None: a client, not staff
    phone: str  # what "share contact" sends
    language: str


_NAMES = {
    "en": ("Anna", "Boris", "Sveta", "Alex", "Kate"),
    "ru": ("Анна", "Борис", "Света", "Алексей", "Катя"),
}
_ROLES = (Role.MANAGER, Role.MANAGER, Role.SUPERVISOR, Role.ADMIN, None)
_PHONES = ("+79001110001", "+79001110002", "+79001110003", "+79001110004", "+79005550101")
FIRST_ID = 1001


def demo_people(language: str) -> list[DemoPerson]:
    """Two managers, a supervisor, an admin and one client, named in the page's language."""
    names = _NAMES.get(language, _NAMES["en"])
    return [
        DemoPerson(FIRST_ID + index, name, role, phone, language)
        for index, (name, role, phone) in enumerate(zip(names, _ROLES, _PHONES, strict=True))
    ]


async def seed_demo_staff(session: AsyncSession, people: list[DemoPerson], now: datetime) -> None:
    """The staff among `people`, active and on duty (again, in a kept database)."""
    for person in people:
        if person.role is not None:
            await add_staff(session, person.telegram_id, person.role, person.name, now)
