"""Clients help themselves: a plain /start shows the menu (Leave a request, My request, Still
waiting?); request.py leaves a request with buttons, manage.py handles the open one. Every
press is checked again by the core (bot/self_service). Staff never land here (their /start is
handlers/start.py's), nor do deep-link starts (`/start <tag>`)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from bot.common.render import render
from bot.intake.client_pace import START_TAG
from handlers.keyboards.self_service import menu_keyboard
from handlers.self_service.manage import manage_router
from handlers.self_service.replies import is_client
from handlers.self_service.request import AT, SERVICE, request_router


def self_service_router() -> Router:
    router = Router(name="self_service")
    router.message.filter(is_client)

    @router.message(CommandStart(deep_link=False), F.text.regexp(r"^/start(@\w+)?\s*$"))
    async def menu(message: Message, state: FSMContext, locale: str) -> None:
        """A plain /start: the menu. It also ends a request half left (the picks are dropped;
        the pace data stay, and the campaign tag is reset as handlers/start.py does)."""
        await state.set_state(None)
        await state.update_data({SERVICE: None, AT: None, START_TAG: None})
        await message.answer(
            render("self_menu.html.j2", locale), reply_markup=menu_keyboard(locale)
        )

    router.include_routers(request_router(), manage_router())
    return router
