"""The report's filters: "By source" / "By manager" under a report send a picker (the period's
sources; the managers), a pick sends the report again narrowed to it, "Clear filters" sends it
whole. Every press is authorised again (handlers/report_send.pressed_request)."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.render import render
from bot.config import AppConfig
from bot.reports.chat import chat_report, headline
from bot.reports.filters import period_managers, period_sources
from bot.reports.request import ReportRequest
from handlers.errors import unchanged_or_gone
from handlers.filters import IsStaff
from handlers.keyboards.reports import (
    PICKER_PAGE,
    ReportDo,
    ReportView,
    manager_picker,
    pages_of,
    source_picker,
)
from handlers.report_send import pressed_request, refuse_report, send_report
from storage.models import Staff

SOURCE_PICKS = (ReportDo.SOURCES, ReportDo.SOURCES_PAGE)
MANAGER_PICKS = (ReportDo.MANAGERS, ReportDo.MANAGERS_PAGE)
PAGE_TURNS = (ReportDo.SOURCES_PAGE, ReportDo.MANAGERS_PAGE)


async def _picker(
    request: ReportRequest,
    do: ReportDo,
    page: int,
    session: AsyncSession,
    staff: Staff,
    config: AppConfig,
    locale: str,
) -> tuple[str, InlineKeyboardMarkup]:
    """The picker's text and buttons at `page` (held within its pages)."""
    if do in SOURCE_PICKS:
        manager = staff if request.own else request.manager
        mine = manager.telegram_id if manager is not None else None
        sources = await period_sources(session, request.period, config, manager_telegram_id=mine)
        page = min(page, pages_of(len(sources), PICKER_PAGE) - 1)
        keyboard = source_picker(request, sources, page, locale)
        count, what = len(sources), "source"
    else:
        managers = await period_managers(session, request.period, config, source=request.source)
        page = min(page, pages_of(len(managers), PICKER_PAGE) - 1)
        keyboard = manager_picker(request, managers, page, locale)
        count, what = len(managers), "manager"
    text = render(
        "report_filter_pick.html.j2",
        locale,
        what=what,
        count=count,
        page=page,
        pages=pages_of(count, PICKER_PAGE),
        **headline(request, config, locale),
    )
    return text, keyboard


def report_filters_router() -> Router:
    router = Router(name="report_filters")
    router.callback_query.filter(IsStaff())

    @router.callback_query(ReportView.filter(F.do == ReportDo.SHOW))
    async def show(
        query: CallbackQuery,
        callback_data: ReportView,
        bot: Bot,
        session: AsyncSession,
        staff: Staff,
        config: AppConfig,
        clock: Clock,
        locale: str,
    ) -> None:
        """A source or manager picked (or a filter cleared): the report again, narrowed."""
        request = await pressed_request(query, callback_data, session, staff, config, clock, locale)
        if request is None:
            return
        await query.answer()
        built = await chat_report(session, request, config, staff.telegram_id, clock.now())
        await send_report(bot, query.from_user.id, built, config, locale)

    @router.callback_query(ReportView.filter(F.do.in_(SOURCE_PICKS + MANAGER_PICKS)))
    async def pick(
        query: CallbackQuery,
        callback_data: ReportView,
        bot: Bot,
        session: AsyncSession,
        staff: Staff,
        config: AppConfig,
        clock: Clock,
        locale: str,
    ) -> None:
        """The picker: a new message under the report; its pages turn in place."""
        request = await pressed_request(query, callback_data, session, staff, config, clock, locale)
        if request is None:
            return
        do = callback_data.do
        if do in MANAGER_PICKS and request.own:  # a manager's own report: by source only
            await refuse_report(query, "manager filter", locale, "refusal_not_allowed")
            return
        await query.answer()
        text, keyboard = await _picker(
            request, do, callback_data.page, session, staff, config, locale
        )
        if do in PAGE_TURNS and isinstance(query.message, Message):
            with unchanged_or_gone():  # the same page pressed again
                await query.message.edit_text(text, reply_markup=keyboard)
            return
        await bot.send_message(query.from_user.id, text, reply_markup=keyboard)

    return router
