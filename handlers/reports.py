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
from handlers.filters import HasRole, IsStaff


def reports_router() -> Router:
    router = Router(name="reports")
    router.message.filter(IsStaff())

    @router.message(Command("digest"), HasRole(SUPERVISING))
    async def digest(
        message: Message, session: AsyncSession, locale: str, config: AppConfig, clock: Clock
    ) -> None:
        summary = await daily_digest(session, clock.now(), config)
        await message.answer(render("digest.html.j2", locale, **summary.context()))

    @router.message(Command("digest"))
    async def digest_refused(message: Message, locale: str) -> None:
        await message.answer(render("supervisors_only.html.j2", locale))

    return router
