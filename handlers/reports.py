"""/digest: the supervisors' daily digest on demand (the daily job sends it each morning).
/report: the report for a ready-made period or typed dates (everybody's leads for supervisors
and admins, a manager's own for a manager), as a few short messages and an album of charts,
with buttons under it: the leads behind its numbers, filters, files (routers of their own)."""

from __future__ import annotations

import asyncio

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.telegram.pictures import send_pictures
from bot.common.clock import Clock
from bot.common.lifecycle import SUPERVISING
from bot.common.render import render
from bot.config import AppConfig
from bot.reports.album import draw_album
from bot.reports.chat import chat_report, ready_made
from bot.reports.digest import daily_digest
from bot.reports.periods import MAX_DAYS, RangeError, local_today, parse_range
from bot.reports.request import ReportRequest
from bot.reports.summary import Period
from handlers.card.answers import ask
from handlers.filters import HasRole, IsStaff
from handlers.keyboards.reports import ReportButton, ReportDates, ReportScope, report_keyboard
from handlers.report_drill import report_drill_router
from handlers.report_files import report_files_router
from handlers.report_filters import report_filters_router
from handlers.report_send import refuse_report, scope_of, send_report
from storage.models import Staff


class ReportRange(StatesGroup):
    waiting = State()  # "Dates…" was pressed: the next text is a range


async def _read_range(
    message: Message, text: str, config: AppConfig, clock: Clock, locale: str, asking: bool
) -> Period | None:
    """Typed dates as a period; None (and the person told what is wrong) when they are not a
    range the report can use (`asking`: the dialogue stays open for another try)."""
    try:
        return parse_range(text, local_today(clock.now(), config))
    except RangeError as error:
        await message.answer(
            render(
                "report_range_bad.html.j2",
                locale,
                problem=error.problem.value,
                detail=error.detail,
                typed=text,
                max_days=MAX_DAYS,
                asking=asking,
            )
        )
        return None


async def _send_dates(
    period: Period,
    bot: Bot,
    session: AsyncSession,
    staff: Staff,
    config: AppConfig,
    clock: Clock,
    locale: str,
) -> None:
    """The report for typed dates: whose leads is the reader's role now."""
    own = scope_of(staff) is ReportScope.OWN
    request = ReportRequest(period, own, today=local_today(clock.now(), config))
    built = await chat_report(session, request, config, staff.telegram_id, clock.now())
    await send_report(bot, staff.telegram_id, built, config, locale)


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
    async def report_menu(
        message: Message,
        command: CommandObject,
        bot: Bot,
        session: AsyncSession,
        staff: Staff,
        config: AppConfig,
        clock: Clock,
        locale: str,
        state: FSMContext,
    ) -> None:
        if await state.get_state() == ReportRange.waiting.state:
            await state.clear()  # /report again: the dates asked for before are not awaited
        if command.args:  # "/report 01.11–15.11"
            period = await _read_range(message, command.args, config, clock, locale, False)
            if period is not None:
                await _send_dates(period, bot, session, staff, config, clock, locale)
            return
        scope = scope_of(staff)
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
        if not own and scope_of(staff) is not ReportScope.ALL:
            await refuse_report(query, "scope", locale, "refusal_not_allowed")
            return
        await query.answer()
        request = ready_made(callback_data.kind, clock.now(), config, own)
        built = await chat_report(session, request, config, staff.telegram_id, clock.now())
        await send_report(bot, query.from_user.id, built, config, locale)

    @router.callback_query(ReportDates.filter())
    async def ask_dates(
        query: CallbackQuery,
        callback_data: ReportDates,
        staff: Staff,
        locale: str,
        state: FSMContext,
    ) -> None:
        if callback_data.scope is ReportScope.ALL and scope_of(staff) is not ReportScope.ALL:
            await refuse_report(query, "scope", locale, "refusal_not_allowed")
            return
        await query.answer()
        question = render("report_range_ask.html.j2", locale, max_days=MAX_DAYS)
        await ask(query, state, ReportRange.waiting, question)

    @router.message(ReportRange.waiting, F.text, ~F.text.startswith("/"))
    async def dates_typed(
        message: Message,
        bot: Bot,
        session: AsyncSession,
        staff: Staff,
        config: AppConfig,
        clock: Clock,
        locale: str,
        state: FSMContext,
    ) -> None:
        # a range that cannot be used keeps the question open: the person types it again
        # (or /cancel)
        period = await _read_range(message, message.text or "", config, clock, locale, True)
        if period is not None:
            await state.clear()
            await _send_dates(period, bot, session, staff, config, clock, locale)

    router.include_routers(report_filters_router(), report_drill_router(), report_files_router())
    return router
