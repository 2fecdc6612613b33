"""What every report press shares: reading the press back into a request (authorised against
the database each time) and sending a report (its sections, the album of charts, and the
buttons under it)."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot
from aiogram.types import CallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.telegram.pictures import send_pictures
from bot.common.clock import Clock
from bot.common.lifecycle import SUPERVISING
from bot.common.render import render, render_alert
from bot.config import AppConfig
from bot.reports.album import draw_album
from bot.reports.chat import ChatReport, drill_choices, headline, sections
from bot.reports.periods import from_day_number, local_today
from bot.reports.request import ReportRequest, resolve_request
from handlers.keyboards.reports import ReportDrill, ReportScope, ReportView, actions_keyboard
from storage.models import Role, Staff

log = logging.getLogger("leadbot.presses")


def scope_of(staff: Staff) -> ReportScope:
    """Everybody's leads for supervisors and admins; a manager's own for a manager."""
    return ReportScope.ALL if Role(staff.role) in SUPERVISING else ReportScope.OWN


async def refuse_report(query: CallbackQuery, why: str, locale: str, refusal: str) -> None:
    log.info("press refused user=%s data=%r why=%s", query.from_user.id, query.data, why)
    await query.answer(render_alert(refusal, locale), show_alert=True)


async def pressed_request(
    query: CallbackQuery,
    data: ReportView | ReportDrill,
    session: AsyncSession,
    staff: Staff,
    config: AppConfig,
    clock: Clock,
    locale: str,
) -> ReportRequest | None:
    """The report a press asks about, after checking the presser may read it now: everybody's
    leads (or one manager's) only for a supervisor or admin, as the database says today (a
    button kept from before a demotion, or forged, is refused); a manager's own report can be
    narrowed by source only. A key that names nothing in the period is an outdated button.
    None once the press was answered with a refusal."""
    own = data.scope is ReportScope.OWN
    if not own and scope_of(staff) is not ReportScope.ALL:
        await refuse_report(query, "scope", locale, "refusal_not_allowed")
        return None
    if own and data.manager is not None:  # a manager's report filtered to someone else
        await refuse_report(query, "manager filter", locale, "refusal_not_allowed")
        return None
    first = from_day_number(data.day)
    request = await resolve_request(
        session,
        config,
        (first, from_day_number(data.day + data.span)),
        own=own,
        reader=staff,
        source_key=data.source,
        manager_staff_id=data.manager,
        today=local_today(clock.now(), config),
    )
    if request is None:
        await refuse_report(query, "filter gone", locale, "refusal_report_outdated")
    return request


async def send_report(
    bot: Bot, chat_id: int, report: ChatReport, config: AppConfig, locale: str
) -> None:
    """The sections, one message each; the album of charts; then the buttons under it all
    (with the period and filters said once more: the album sits between them and the head).
    An empty period is one message, with "Clear filters" on it when a filter emptied it."""
    request = report.request
    keyboard = actions_keyboard(
        request, drill_choices(report, config, locale), not report.empty, locale
    )
    if report.empty:
        [(name, values)] = sections(report, config, locale)
        await bot.send_message(chat_id, render(name, locale, **values), reply_markup=keyboard)
        return
    for name, values in sections(report, config, locale):
        await bot.send_message(chat_id, render(name, locale, **values))
    # drawing is CPU-bound (~0.1-0.2 s a chart): off the event loop, so the bot answers
    # others meanwhile
    pictures = await asyncio.to_thread(draw_album, report.album, locale)
    await send_pictures(bot, chat_id, pictures)
    await bot.send_message(
        chat_id,
        render("report_actions.html.j2", locale, **headline(request, config, locale)),
        reply_markup=keyboard,
    )
