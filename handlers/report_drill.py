"""The leads behind a report's number: a press under the report sends them as a list (the
lead lists' lines: each opens the live card), its pages turn in place. The same authorisation
as every report press; a reason that is no longer in the period is an outdated button."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.render import labels, render
from bot.config import AppConfig
from bot.reports.chat import headline, reason_name
from bot.reports.drill import DrillKind, drill_page, find_drill
from handlers.errors import unchanged_or_gone
from handlers.filters import IsStaff
from handlers.keyboards.reports import ReportDrill, ReportDrillPage, drill_keyboard
from handlers.report_send import pressed_request, refuse_report
from storage.models import Staff


def report_drill_router() -> Router:
    router = Router(name="report_drill")
    router.callback_query.filter(IsStaff())

    async def drill(
        query: CallbackQuery,
        data: ReportDrill,
        page: int,
        session: AsyncSession,
        staff: Staff,
        config: AppConfig,
        clock: Clock,
        locale: str,
    ) -> tuple[str, InlineKeyboardMarkup | None] | None:
        """The list's text and buttons at `page`; None once the press was refused."""
        request = await pressed_request(query, data, session, staff, config, clock, locale)
        if request is None:
            return None
        narrowed = {
            "source": request.source,
            "manager_telegram_id": request.manager_telegram_id(staff.telegram_id),
        }
        what = await find_drill(session, request.period, config, data.what, data.reason, **narrowed)
        if what is None:
            await refuse_report(query, "reason gone", locale, "refusal_report_outdated")
            return None
        await query.answer()
        listed = await drill_page(session, request.period, config, what, page, **narrowed)
        junk = what.kind is DrillKind.JUNK_REASON
        reason = reason_name(what.reason, config, locale, junk) if what.reason else ""
        text = render(
            "report_drill.html.j2",
            locale,
            title=labels(locale)["report"]["drill"][what.kind.value].format(reason=reason),
            total=listed.total,
            page=listed.page,
            pages=listed.pages,
            **headline(request, config, locale),
        )
        keyboard = drill_keyboard(
            request, what, listed.items, listed.page, listed.pages, config, locale
        )
        return text, keyboard

    @router.callback_query(ReportDrillPage.filter())
    async def turn_page(
        query: CallbackQuery,
        callback_data: ReportDrillPage,
        session: AsyncSession,
        staff: Staff,
        config: AppConfig,
        clock: Clock,
        locale: str,
    ) -> None:
        shown = await drill(
            query, callback_data, callback_data.page, session, staff, config, clock, locale
        )
        if shown is not None and isinstance(query.message, Message):
            text, keyboard = shown
            with unchanged_or_gone():  # the same page pressed again
                await query.message.edit_text(text, reply_markup=keyboard)

    @router.callback_query(ReportDrill.filter())
    async def open_list(
        query: CallbackQuery,
        callback_data: ReportDrill,
        bot: Bot,
        session: AsyncSession,
        staff: Staff,
        config: AppConfig,
        clock: Clock,
        locale: str,
    ) -> None:
        shown = await drill(query, callback_data, 0, session, staff, config, clock, locale)
        if shown is not None:
            text, keyboard = shown
            await bot.send_message(query.from_user.id, text, reply_markup=keyboard)

    return router
