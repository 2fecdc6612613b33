"""Authorisation filters: a handler behind one of these only runs for active staff."""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import TelegramObject

from storage.models import Staff


class IsStaff(Filter):
    async def __call__(self, event: TelegramObject, staff: Staff | None = None) -> Any:
        return staff is not None
