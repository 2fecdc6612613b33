"""/duty for everyone on the team; /team for supervisors and admins."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.lifecycle import SUPERVISING
from bot.common.render import local_day, render
from bot.config import AppConfig
from bot.team.overview import team_overview
from bot.team.staff import set_duty
from handlers.card.answers import card_message
from handlers.errors import unchanged_or_gone
from handlers.filters import HasRole, IsStaff
from handlers.keyboards.staff import DutyButton, DutyChoice, duty_keyboard
from storage.models import Staff

DUTY_WORDS = {"on": True, "off": False}


def team_router() -> Router:
    router = Router(name="team")
    router.message.filter(IsStaff())

    @router.message(Command("duty"))
    async def duty(
        message: Message,
        command: CommandObject,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        config: AppConfig,
        clock: Clock,
        leads_chat_id: int | None = None,
    ) -> None:
        """`/duty on` and `/duty off` set it; `/duty` alone (or anything else) only shows the
        status, with the buttons to change it."""
        word = (command.args or "").strip().lower()
        if word in DUTY_WORDS:
            await set_duty(session, staff, DUTY_WORDS[word], clock.now(), config, leads_chat_id)
        await message.answer(
            render("duty.html.j2", locale, on_duty=staff.on_duty, role=staff.role),
            reply_markup=duty_keyboard(staff.on_duty, locale),
        )

    @router.callback_query(DutyButton.filter(), IsStaff())
    async def duty_pressed(
        query: CallbackQuery,
        callback_data: DutyButton,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        config: AppConfig,
        clock: Clock,
        leads_chat_id: int | None = None,
    ) -> None:
        """The staff row is fresh (StaffMiddleware): a deactivated person's press goes to the
        fallback router's alert instead."""
        wanted = callback_data.choice == DutyChoice.ON
        await set_duty(session, staff, wanted, clock.now(), config, leads_chat_id)
        await query.answer()
        message = card_message(query)
        if message is None:
            return
        with unchanged_or_gone():  # pressed twice: the message already says this
            await message.edit_text(
                render("duty.html.j2", locale, on_duty=staff.on_duty, role=staff.role),
                reply_markup=duty_keyboard(staff.on_duty, locale),
            )

    @router.message(Command("team"), HasRole(SUPERVISING))
    async def team(
        message: Message, session: AsyncSession, locale: str, config: AppConfig, clock: Clock
    ) -> None:
        now = clock.now()
        members = await team_overview(session, now, config.zone)
        day = local_day(now, config.zone, locale)
        await message.answer(render("team.html.j2", locale, members=members, day=day))

    @router.message(Command("team"))
    async def team_refused(message: Message, locale: str) -> None:
        await message.answer(render("team_refused.html.j2", locale))

    return router
