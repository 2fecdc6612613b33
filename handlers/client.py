"""Clients in the bot's private chat: what they write becomes a lead (or joins their open one)
and reaches a manager; a shared contact gives us their phone. Staff never land here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import Message, ReplyKeyboardRemove
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.render import local_time, render
from bot.config import AppConfig
from bot.intake.client_chat import (
    MEDIA_MARKS,
    ClientMedia,
    client_sent_media,
    client_shared_phone,
    client_wrote,
)
from bot.intake.client_pace import acknowledge_client_message, admit_client_message
from bot.intake.input import IntakeResult
from storage.models import Staff


def client_router() -> Router:
    router = Router(name="client")

    async def is_client(message: Message, staff: Staff | None = None) -> bool:
        return staff is None and message.chat.type == "private" and message.from_user is not None

    router.message.filter(is_client)

    @router.message(F.contact)
    async def shared_phone(
        message: Message,
        session: AsyncSession,
        locale: str,
        config: AppConfig,
        clock: Clock,
        leads_chat_id: int | None = None,
    ) -> None:
        assert message.from_user is not None and message.contact is not None
        if message.contact.user_id != message.from_user.id:  # someone else's card: not theirs
            await message.answer(render("client_own_phone_only.html.j2", locale))
            return
        result = await client_shared_phone(
            session,
            message.from_user.id,
            message.from_user.full_name,
            message.contact.phone_number,
            clock.now(),
            config,
            leads_chat_id,
        )
        template = "client_phone_saved.html.j2" if result else "client_phone_unreadable.html.j2"
        await message.answer(render(template, locale), reply_markup=ReplyKeyboardRemove())

    @router.message(F.text, ~F.text.startswith("/"))
    async def wrote(
        message: Message,
        session: AsyncSession,
        locale: str,
        config: AppConfig,
        clock: Clock,
        state: FSMContext,
        leads_chat_id: int | None = None,
    ) -> None:
        assert message.from_user is not None
        user = message.from_user

        async def deliver(now: datetime, tag: str | None) -> IntakeResult:
            return await client_wrote(
                session,
                user.id,
                user.full_name,
                message.text or "",
                now,
                config,
                leads_chat_id,
                tag,
            )

        await _pass_on(message, state, locale, config, clock, deliver)

    @router.message(
        F.photo | F.document | F.voice | F.video_note | F.video | F.audio | F.sticker | F.animation
    )
    async def sent_media(
        message: Message,
        session: AsyncSession,
        locale: str,
        config: AppConfig,
        clock: Clock,
        state: FSMContext,
        leads_chat_id: int | None = None,
    ) -> None:
        assert message.from_user is not None and message.content_type in MEDIA_MARKS
        user = message.from_user
        media = ClientMedia(
            message.content_type, message.chat.id, message.message_id, message.caption
        )

        async def deliver(now: datetime, tag: str | None) -> IntakeResult:
            return await client_sent_media(
                session, user.id, user.full_name, media, now, config, leads_chat_id, tag
            )

        await _pass_on(message, state, locale, config, clock, deliver)

    @router.message()
    async def not_passed_on(message: Message, locale: str) -> None:
        """A location, a poll, a contact card of someone else...: asked for words instead."""
        await message.answer(render("client_text_only.html.j2", locale))

    return router


async def _pass_on(
    message: Message,
    state: FSMContext,
    locale: str,
    config: AppConfig,
    clock: Clock,
    deliver: Callable[[datetime, str | None], Awaitable[IntakeResult]],
) -> None:
    """A client's message reaches the lead unless they flood; they hear when to expect an
    answer outside working hours, and that it arrived when it opened a request."""
    now = clock.now()
    data = await state.get_data()
    admission = admit_client_message(data, now, config)
    await state.update_data(admission.updates)
    if not admission.passed_on:
        if admission.slow_down:
            await message.answer(render("client_slow_down.html.j2", locale))
        return
    result = await deliver(now, admission.tag)
    told = acknowledge_client_message(data, now, result.created, config)
    await state.update_data(told.updates)
    if told.opens_at is not None:
        await message.answer(
            render(
                "client_after_hours.html.j2",
                locale,
                opens=local_time(told.opens_at, config.zone, locale),
            )
        )
    elif told.received:
        await message.answer(render("client_received.html.j2", locale))
