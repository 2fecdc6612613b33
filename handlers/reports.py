"""/digest: the supervisors' daily digest on demand (the daily job sends it each morning), with
its chart. /report: the report for a ready-made period (everybody's leads for supervisors and
admins, a manager's own for a manager), as a few short messages and an album of charts; the
weekly report is the same, queued (bot/reports/weekly.py)."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.telegram.pictures import send_pictures
from bot.common.clock import Clock
from bot.common.lifecycle import SUPERVISING
from bot.common.render import render, render_alert
from bot.config import AppConfig
from bot.reports.album import draw_album
from bot.reports.chat import chat_report, sections
from bot.reports.digest import daily_digest
from handlers.filters import HasRole, IsStaff
from handlers.keyboards.reports import ReportButton, ReportScope, report_keyboard
from storage.models import Role, Staff

log = logging.getLogger("leadbot.presses")


def _scope(staff: Staff) -> ReportScope:
    return ReportScope.ALL if Role(staff.role) in SUPERVISING else ReportScope.OWN


def reports_router() -> Router:
    router = Router(name="reports")
    router.message.filter(IsStaff())
    # a client's press falls through to the fallback router: "for the sales team only"
    router.callback_query.filter(IsStaff())

    @router.message(Command("digest"), HasRole(SUPERVISING))
    async def digest(
        message: Message,
        bot: Bot,
        session: AsyncSession,
        locale: str,
        config: AppConfig,
        clock: Clock,
    ) -> None:
        summary = await daily_digest(session, clock.now(), config)
        await message.answer(render("digest.html.j2", locale, **summary.context()))
        if summary.chart is not None:
            pictures = await asyncio.to_thread(draw_album, summary.chart, locale)
            await send_pictures(bot, message.chat.id, pictures)

    @router.message(Command("digest"))
    async def digest_refused(message: Message, locale: str) -> None:
        await message.answer(render("supervisors_only.html.j2", locale))

    @router.message(Command("report"))
    async def report_menu(message: Message, staff: Staff, locale: str) -> None:
        scope = _scope(staff)
        await message.answer(
            render("report_pick.html.j2", locale, own=scope is ReportScope.OWN),
            reply_markup=report_keyboard(scope, locale),
        )

    @router.callback_query(ReportButton.filter())
    async def report(
        query: CallbackQuery,
        callback_data: ReportButton,
        bot: Bot,
        session: AsyncSession,
        staff: Staff,
        config: AppConfig,
        clock: Clock,
        locale: str,
    ) -> None:
        own = callback_data.scope is ReportScope.OWN
        # re-authorised on the press: a button kept from before a demotion, or forged, that
        # asks for everybody's leads is refused
        if not own and _scope(staff) is not ReportScope.ALL:
            log.info("press refused user=%s data=%r why=scope", query.from_user.id, query.data)
            await query.answer(render_alert("refusal_not_allowed", locale), show_alert=True)
            return
        await query.answer()
        built = await chat_report(
            session, callback_data.kind, clock.now(), config, staff.telegram_id, own
        )
        chat_id = query.from_user.id
        for name, values in sections(built, config, locale):
            await bot.send_message(chat_id, render(name, locale, **values))
        if built.empty:
            return
        # drawing is CPU-bound (~0.1-0.2 s a chart): off the event loop, so the bot answers
        # others meanwhile
        pictures = await asyncio.to_thread(draw_album, built.album, locale)
        await send_pictures(bot, chat_id, pictures)

    return router
