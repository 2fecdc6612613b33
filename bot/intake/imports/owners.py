"""Who a file's "owner" is among the staff: a Telegram id, or a name.

A name matches a person whose name is the same (case, spacing and `ё` aside), or, when one
side writes only a first name ("Анна Иванова" in the file for our "Анна", "Boris" for our
"Boris Petrov"), the one person of that first name. Two people that could be meant: nobody
is guessed, and the preview names the owners it did not find."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.intake.duplicates import name_key
from storage.models import Staff


@dataclass(frozen=True)
class Owner:
    id: int
    active: bool


class Staffing:
    """The staff, read once for an import (a few hundred rows at most)."""

    def __init__(self, people: list[tuple[int, int, str, bool]]) -> None:
        self._by_telegram = {tid: Owner(sid, active) for sid, tid, _, active in people}
        names: dict[str, list[Owner]] = {}
        for staff_id, _, name, active in people:
            key = name_key(name)
            if key:
                names.setdefault(key, []).append(Owner(staff_id, active))
        self._by_name = names
        self._seen: dict[str, Owner | None] = {}  # a file names its few owners many times

    def match(self, written: str | None) -> Owner | None:
        if not written:
            return None
        if written not in self._seen:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[written] = self._match(written)
        return self._seen[written]

    def _match(self, written: str) -> Owner | None:
        digits = written.strip()
        if digits.isdigit():
            return self._by_telegram.get(int(digits))
        key = name_key(written) or ""
        found = self._by_name.get(key, [])
        if len(found) == 1:
            return found[0]
        # one side writes only the first name: "Анна Иванова" for our "Анна", "Boris" for
        # our "Boris Petrov"; the first names must then be the same, and name one person
        first, alone = key.split(" ", 1)[0], " " not in key
        found = [
            person
            for name, people in self._by_name.items()
            if name.split(" ", 1)[0] == first and (alone or " " not in name)
            for person in people
        ]
        return found[0] if len(found) == 1 else None


async def load_staffing(session: AsyncSession) -> Staffing:
    rows = await session.execute(select(Staff.id, Staff.telegram_id, Staff.name, Staff.is_active))
    return Staffing([(r.id, r.telegram_id, r.name, r.is_active) for r in rows])
