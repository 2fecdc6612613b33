"""/digest: the supervisors' daily digest on demand (the daily job sends it each morning)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.lifecycle import SUPERVISING
from bot.common.render import render
from bot.config import AppConfig
from bot.reports.digest import daily_digest
from handlers.filters import IsStaff
from storage.models import Staff


def reports_router() -> Router:
    router = Router(name="reports")
    router.message.filter(IsStaff())

    @router.message(Command("digest"))
    async def digest(
        message: Message, session: AsyncSession, staff: Staff, locale: str, config: AppConfig,
        clock: Clock,
    ) -> None:  # fmt: skip
        if staff.role not in SUPERVISING:
            await message.answer(render("supervisors_only.html.j2", locale))
            return
        summary = await daily_digest(session, clock.now(), config)
        await message.answer(render("digest.html.j2", locale, **summary.context()))

    return router
