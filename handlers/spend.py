"""/spend (supervisors and admins): what advertising a source cost in a month, for the report's
cost per lead and per deal. `/spend SOURCE AMOUNT [MM.YYYY]` records it (or replaces what was
entered for that source and month); `/spend` alone shows how, and what was entered for this
month and last. A manager is told it is for supervisors."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.lifecycle import SUPERVISING
from bot.common.render import render
from bot.config import AppConfig
from bot.leads.qualify import MAX_AMOUNT, format_amount
from bot.reports.periods import local_today
from bot.reports.spend import (
    SOURCE_LIMIT,
    SpendProblem,
    SpendUnreadable,
    read_spend,
    record_spend,
    spend_overview,
)
from handlers.filters import HasRole, IsStaff
from storage.models import Staff


def spend_router() -> Router:
    router = Router(name="spend")
    router.message.filter(IsStaff())  # a client's /spend falls through to the fallback

    # HasRole reads the staff row loaded for this update: a supervisor demoted a second ago
    # is already refused (and record_spend checks the role again)
    @router.message(Command("spend"), HasRole(SUPERVISING))
    async def spend(
        message: Message,
        command: CommandObject,
        session: AsyncSession,
        staff: Staff,
        config: AppConfig,
        clock: Clock,
        locale: str,
    ) -> None:
        now = clock.now()
        today = local_today(now, config)
        if not (command.args or "").strip():
            overview = await spend_overview(session, today, now)
            await message.answer(
                render(
                    "spend_usage.html.j2",
                    locale,
                    overview=overview,
                    amounts=[format_amount(line.amount) for line in overview.lines],
                    currency=config.currency,
                )
            )
            return
        try:
            entry = read_spend(command.args or "", today)
        except SpendUnreadable as unreadable:
            await message.answer(_refused(unreadable.problem, unreadable.text, locale))
            return
        result = await record_spend(session, entry.source, entry.amount, entry.month, staff, now)
        if result.problem is SpendProblem.NOT_ALLOWED:
            await message.answer(render("supervisors_only.html.j2", locale))
            return
        if result.problem is not None:
            await message.answer(
                _refused(result.problem, entry.source, locale, recent=result.recent_sources)
            )
            return
        await message.answer(
            render(
                "spend_recorded.html.j2",
                locale,
                source=entry.source,
                month=entry.month,
                amount=format_amount(entry.amount),
                replaced=None if result.replaced is None else format_amount(result.replaced),
                currency=config.currency,
            )
        )

    @router.message(Command("spend"))
    async def spend_refused(message: Message, locale: str) -> None:
        await message.answer(render("supervisors_only.html.j2", locale))

    return router


def _refused(problem: SpendProblem, typed: str, locale: str, recent: tuple[str, ...] = ()) -> str:
    return render(
        "spend_refused.html.j2",
        locale,
        problem=problem.value,
        typed=typed,
        recent=recent,
        source_limit=SOURCE_LIMIT,
        max_amount=format_amount(MAX_AMOUNT),
    )
