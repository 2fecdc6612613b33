"""Answering a client who wrote to the bot: press Reply (the next message is the answer) or
reply in Telegram to their relayed message or the lead's card. Text, photos, documents,
voice... all reach the client from the bot."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramForbiddenError
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.render import render
from bot.intake.client_chat import (
    MEDIA_MARKS,
    MESSAGE_LIMIT,
    lead_of_relayed,
    media_text,
    record_reply,
    reply_target,
)
from bot.leads.cards import CardAction
from handlers.card.answers import ask
from handlers.errors import refuse, refuse_in_chat
from handlers.keyboards.lead import LeadButton
from storage.models import Staff


class ReplyText(StatesGroup):
    waiting = State()


ANSWERS = F.text | F.photo | F.document | F.voice | F.video_note | F.video | F.audio | F.sticker


async def replied_lead(message: Message, session: AsyncSession) -> dict[str, Any] | bool:
    """The lead whose relayed message (or card) this message replies to, if any."""
    replied = message.reply_to_message
    if replied is None:
        return False
    lead_id = await lead_of_relayed(session, message.chat.id, replied.message_id)
    return {"lead_id": lead_id} if lead_id is not None else False


def reply_router() -> Router:
    router = Router(name="reply")

    @router.callback_query(LeadButton.filter(F.action == CardAction.REPLY))
    async def ask_answer(
        query: CallbackQuery,
        callback_data: LeadButton,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        state: FSMContext,
    ) -> None:
        target = await reply_target(session, callback_data.lead_id, staff)
        if not target.result.ok or query.message is None:
            await refuse(query, target.result, locale)
            return
        await query.answer()
        question = render("reply_ask.html.j2", locale, lead_id=callback_data.lead_id)
        await ask(query, state, ReplyText.waiting, question, lead_id=callback_data.lead_id)

    @router.message(ReplyText.waiting, ANSWERS, ~F.text.startswith("/"))
    async def send_answer(
        message: Message,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        clock: Clock,
        state: FSMContext,
        bot: Bot,
    ) -> None:
        lead_id = (await state.get_data())["lead_id"]
        await state.clear()
        await _answer_client(message, lead_id, session, staff, locale, clock, bot)

    @router.message(StateFilter(None), ANSWERS, ~F.text.startswith("/"), replied_lead)
    async def answer_by_replying(
        message: Message,
        lead_id: int,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        clock: Clock,
        bot: Bot,
    ) -> None:
        await _answer_client(message, lead_id, session, staff, locale, clock, bot)

    return router


async def _answer_client(
    message: Message,
    lead_id: int,
    session: AsyncSession,
    staff: Staff,
    locale: str,
    clock: Clock,
    bot: Bot,
) -> None:
    target = await reply_target(session, lead_id, staff)  # re-checked at the last step
    if not target.result.ok or target.chat_id is None:
        await refuse_in_chat(message, target.result, locale)
        return
    if message.content_type in MEDIA_MARKS:
        text = media_text(message.content_type, message.caption)[:MESSAGE_LIMIT]
        # copied as it is: the client gets the photo / file / voice itself
        send = bot.copy_message(target.chat_id, message.chat.id, message.message_id)
    else:
        text = (message.text or "").strip()[:MESSAGE_LIMIT]
        # the same words in both languages: the manager's name and their text
        answer = render("client_reply.html.j2", locale, manager=staff.name, text=text)
        send = bot.send_message(target.chat_id, answer)
    try:
        await send
    except TelegramForbiddenError:
        await record_reply(session, lead_id, staff, text, False, clock.now())
        await message.answer(render("reply_blocked.html.j2", locale, lead_id=lead_id))
        return
    await record_reply(session, lead_id, staff, text, True, clock.now())
    await message.answer(render("reply_sent.html.j2", locale, lead_id=lead_id))
