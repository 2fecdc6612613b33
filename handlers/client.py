"""Clients in the bot's private chat: what they write becomes a lead (or joins their open one)
and reaches a manager; a shared contact gives us their phone. Staff never land here."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import KeyboardButton, Message, ReplyKeyboardMarkup, ReplyKeyboardRemove
from sqlalchemy.ext.asyncio import AsyncSession

from bot.client_chat import client_shared_phone, client_wrote
from bot.clock import Clock
from bot.config import AppConfig
from bot.render import labels, render
from storage.models import Staff


def share_phone_keyboard(locale: str) -> ReplyKeyboardMarkup:
    """One button that shares the client's own number; they may ignore it and just write."""
    button = KeyboardButton(text=labels(locale)["client"]["share_phone"], request_contact=True)
    return ReplyKeyboardMarkup(keyboard=[[button]], resize_keyboard=True, one_time_keyboard=True)


def client_router() -> Router:
    router = Router(name="client")

    async def is_client(message: Message, staff: Staff | None = None) -> bool:
        return staff is None and message.chat.type == "private" and message.from_user is not None

    router.message.filter(is_client)

    @router.message(F.contact)
    async def shared_phone(
        message: Message, session: AsyncSession, locale: str, config: AppConfig, clock: Clock,
        leads_chat_id: int | None = None,
    ) -> None:  # fmt: skip
        assert message.from_user is not None and message.contact is not None
        if message.contact.user_id != message.from_user.id:  # someone else's card: not theirs
            await message.answer(render("client_own_phone_only.html.j2", locale))
            return
        result = await client_shared_phone(
            session, message.from_user.id, message.from_user.full_name,
            message.contact.phone_number, clock.now(), config, leads_chat_id,
        )  # fmt: skip
        template = "client_phone_saved.html.j2" if result else "client_phone_unreadable.html.j2"
        await message.answer(render(template, locale), reply_markup=ReplyKeyboardRemove())

    @router.message(F.text, ~F.text.startswith("/"))
    async def wrote(
        message: Message, session: AsyncSession, locale: str, config: AppConfig, clock: Clock,
        state: FSMContext, leads_chat_id: int | None = None,
    ) -> None:  # fmt: skip
        assert message.from_user is not None
        tag = (await state.get_data()).get("start_tag")
        result = await client_wrote(
            session, message.from_user.id, message.from_user.full_name, message.text or "",
            clock.now(), config, leads_chat_id, tag,
        )  # fmt: skip
        if result.created:  # the first message of a request is acknowledged, not every one
            await state.update_data(start_tag=None)
            await message.answer(render("client_received.html.j2", locale))

    @router.message(~F.text)
    async def not_text(message: Message, locale: str) -> None:
        await message.answer(render("client_text_only.html.j2", locale))

    return router
