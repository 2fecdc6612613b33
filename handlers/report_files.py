"""The files under a report: "Leads CSV", "Leads XLSX", "Report XLSX" send the file as a
document, for the period and filters the button carries (authorised again on the press)."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import BufferedInputFile, CallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.render import render
from bot.config import AppConfig
from bot.reports.chat import headline
from bot.reports.files import ReportFile, report_file
from handlers.filters import IsStaff
from handlers.keyboards.reports import ReportDo, ReportView
from handlers.report_send import pressed_request
from storage.models import Staff

FILES = {
    ReportDo.LEADS_CSV: ReportFile.LEADS_CSV,
    ReportDo.LEADS_XLSX: ReportFile.LEADS_XLSX,
    ReportDo.REPORT_XLSX: ReportFile.REPORT_XLSX,
}


def report_files_router() -> Router:
    router = Router(name="report_files")
    router.callback_query.filter(IsStaff())

    @router.callback_query(ReportView.filter(F.do.in_(set(FILES))))
    async def send_file(
        query: CallbackQuery,
        callback_data: ReportView,
        bot: Bot,
        session: AsyncSession,
        staff: Staff,
        config: AppConfig,
        clock: Clock,
        locale: str,
    ) -> None:
        request = await pressed_request(query, callback_data, session, staff, config, clock, locale)
        if request is None:
            return
        await query.answer()
        what = FILES[callback_data.do]
        made = await report_file(
            session, request, what, config, locale, staff.telegram_id, clock.now()
        )
        head = headline(request, config, locale)
        chat_id = query.from_user.id
        if made.too_big:
            await bot.send_message(
                chat_id, render("report_file_too_big.html.j2", locale, what=what.value, **head)
            )
            return
        await bot.send_document(
            chat_id,
            BufferedInputFile(made.content, made.name),
            caption=render("report_file.html.j2", locale, what=what.value, **head),
        )

    return router
