"""Authorisation filters. The staff row they read is fresh from the database on every update
(StaffMiddleware), so a person demoted a second ago is already refused."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiogram.filters import Filter
from aiogram.types import TelegramObject

from storage.models import Role, Staff


class IsStaff(Filter):
    """Active staff of any role."""

    async def __call__(self, event: TelegramObject, staff: Staff | None = None) -> Any:
        return staff is not None


class HasRole(Filter):
    """Active staff with one of `roles` (e.g. `HasRole(*SUPERVISING)`). A handler behind it is
    followed by one without it that says who may, so a refused person is told, not ignored."""

    def __init__(self, *roles: Role | Iterable[Role]) -> None:
        flat: set[Role] = set()
        for role in roles:
            flat.update([role] if isinstance(role, Role) else role)
        self.roles = frozenset(flat)

    async def __call__(self, event: TelegramObject, staff: Staff | None = None) -> Any:
        return staff is not None and Role(staff.role) in self.roles


class IsAdmin(HasRole):
    def __init__(self) -> None:
        super().__init__(Role.ADMIN)
