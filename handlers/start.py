"""What everyone gets: /start, and a polite answer to buttons nobody else handled."""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.render import render, render_alert
from bot.config import AppConfig
from bot.intake.client_chat import start_tag
from bot.intake.client_pace import START_TAG
from bot.team.invites import TOKEN_SHAPE, accept_invite
from bot.team.menus import commands_for
from handlers.dialogues import ABANDONED_NOW
from handlers.filters import IsStaff
from handlers.keyboards.client import share_phone_keyboard
from handlers.menu import refresh_menu
from storage.models import Role, Staff

log = logging.getLogger("leadbot.presses")


def start_router() -> Router:
    router = Router(name="start")

    @router.message(
        CommandStart(deep_link=True, magic=F.args.regexp(TOKEN_SHAPE)), F.chat.type == "private"
    )
    async def start_with_invite(
        message: Message,
        command: CommandObject,
        session: AsyncSession,
        locale: str,
        clock: Clock,
        config: AppConfig,
        bot: Bot,
    ) -> None:
        """`t.me/<bot>?start=<token>`: an invite link makes its opener staff."""
        user = message.from_user
        if user is None or command.args is None:
            return
        result = await accept_invite(
            session, command.args, user.id, user.full_name, user.language_code, clock.now()
        )
        if result.refusal is not None or result.staff is None:
            reason = result.refusal.value if result.refusal else "unknown"
            await message.answer(
                render("invite_refused.html.j2", locale, reason=reason, staff=result.staff)
            )
            return
        joined = result.staff
        await message.answer(
            render(
                "invite_joined.html.j2",
                joined.language or locale,
                staff=joined,
                joined=result.joined,
            )
        )
        await refresh_menu(bot, joined, config.locale)

    @router.message(CommandStart())
    async def start(
        message: Message,
        command: CommandObject,
        staff: Staff | None,
        locale: str,
        config: AppConfig,
        bot: Bot,
        state: FSMContext,
    ) -> None:
        if staff is None:
            if message.chat.type != "private":
                return
            # the campaign of `t.me/<bot>?start=<tag>` goes with the client's first message
            await state.update_data({START_TAG: start_tag(command.args)})
            await message.answer(
                render("start_guest.html.j2", locale), reply_markup=share_phone_keyboard(locale)
            )
            return
        await message.answer(render("start_staff.html.j2", locale, staff=staff))
        # staff added while the bot ran (`leadbot staff add`) get their menu, in their language
        await refresh_menu(bot, staff, config.locale)

    return router


def staff_help_router() -> Router:
    """/help, and after every other router: a staff member's unknown command or free text in
    their private chat, outside a dialogue (a dialogue's step has its own hint), gets the
    commands of their role instead of silence."""
    router = Router(name="staff_help")
    router.message.filter(IsStaff(), F.chat.type == "private")

    async def show_help(message: Message, staff: Staff, locale: str) -> None:
        role = Role(staff.role)
        await message.answer(
            render("staff_help.html.j2", locale, role=role.value, commands=commands_for(role))
        )

    def not_just_closed(message: Message, **data: object) -> bool:
        """A late answer that closed its dialogue was told so; no help on top of that."""
        return not data.get(ABANDONED_NOW)

    router.message.register(show_help, Command("help"))
    router.message.register(show_help, StateFilter(None), not_just_closed)
    return router


def fallback_router() -> Router:
    """Last in line: presses of forged, outdated or foreign buttons get an alert, not silence."""
    router = Router(name="fallback")

    @router.callback_query()
    async def unknown_button(query: CallbackQuery, staff: Staff | None, locale: str) -> None:
        name = "refusal_outdated" if staff is not None else "refusal_not_staff"
        log.info(
            "press refused user=%s data=%r why=%s",
            query.from_user.id,
            (query.data or "")[:64],
            name,
        )
        await query.answer(render_alert(name, locale), show_alert=True)

    return router
