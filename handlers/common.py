"""What everyone gets: /start, and a polite answer to buttons nobody else handled."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import CommandStart
from aiogram.types import CallbackQuery, Message

from bot.render import render, render_alert
from storage.models import Staff


def start_router() -> Router:
    router = Router(name="start")

    @router.message(CommandStart())
    async def start(message: Message, staff: Staff | None, locale: str) -> None:
        if staff is None:
            await message.answer(render("start_guest.html.j2", locale))
            return
        await message.answer(render("start_staff.html.j2", locale, staff=staff))

    return router


def fallback_router() -> Router:
    """Last in line: presses of forged, outdated or foreign buttons get an alert, not silence."""
    router = Router(name="fallback")

    @router.callback_query()
    async def unknown_button(query: CallbackQuery, staff: Staff | None, locale: str) -> None:
        name = "refusal_outdated" if staff is not None else "refusal_not_staff"
        await query.answer(render_alert(name, locale), show_alert=True)

    return router
