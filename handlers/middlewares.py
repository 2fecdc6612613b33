"""Per-update context: a database session and the staff member behind the update."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, User

from bot.team.staff import active_staff, remember_language
from storage.db import SessionFactory


class DbSessionMiddleware(BaseMiddleware):
    """One AsyncSession per update, closed when the handler is done."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        async with self._sessions() as session:
            data["session"] = session
            return await handler(event, data)


class StaffMiddleware(BaseMiddleware):
    """Re-reads who is asking from the database on every update: `staff` is None for anyone
    who is not active staff, so a removed manager's old buttons stop working at once."""

    def __init__(self, default_locale: str) -> None:
        self._default_locale = default_locale

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        staff = None
        if user is not None and not user.is_bot:
            staff = await active_staff(data["session"], user.id)
            if staff is not None:
                await remember_language(data["session"], staff, user.language_code)
        data["staff"] = staff
        data["locale"] = locale_of(staff.language if staff else None, user, self._default_locale)
        return await handler(event, data)


def locale_of(saved: str | None, user: User | None, default: str) -> str:
    if saved:
        return saved
    code = user.language_code if user else None
    return next((c for c in ("ru", "en") if code and code.startswith(c)), default)
