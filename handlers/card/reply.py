"""Answering a client who wrote to the bot: press Reply (the next message is the answer) or
reply in Telegram to their relayed message or the lead's card. Text, photos, documents,
voice... all reach the client from the bot: the answer is queued (the outbox) with its place
in the lead's history, and the notifier delivers it and tells the manager it arrived.

A client who wrote by e-mail is answered by e-mail, in their thread (bot/email/replies.py
says which channel when both are open), a photo or file as its attachment; the mail sender
sends it and tells the manager "✉️ sent to <address>"."""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.render import render, render_alert
from bot.config import AppConfig
from bot.email.replies import ATTACHMENT_LIMIT, AnswerTarget, answer_target, queue_email_reply
from bot.intake.client_chat import (
    MEDIA_MARKS,
    MESSAGE_LIMIT,
    lead_of_relayed,
    media_text,
    queue_reply,
)
from bot.leads.actions import ActionResult, take_if_new
from bot.leads.cards import CardAction
from handlers.card.answers import ask
from handlers.card.attachments import attachment_of
from handlers.errors import refusal_text, refuse, refuse_in_chat
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
        clock: Clock,
        config: AppConfig,
        mail_from: str | None = None,
    ) -> None:
        # on a new client's card Reply takes the lead first (first press wins)
        taken = await take_if_new(session, callback_data.lead_id, staff, clock.now(), config)
        if taken is not None and not taken.ok:
            await refuse(query, taken, locale)
            return
        target = await answer_target(session, callback_data.lead_id, staff)
        if not target.result.ok or query.message is None:
            await refuse(query, target.result, locale)
            return
        if target.by_email and mail_from is None:
            await query.answer(render_alert("email_off", locale), show_alert=True)
            return
        await query.answer()
        question = render(
            "reply_ask.html.j2", locale, lead_id=callback_data.lead_id, address=target.address
        )
        await ask(query, state, ReplyText.waiting, question, lead_id=callback_data.lead_id)

    @router.message(ReplyText.waiting, ANSWERS, ~F.text.startswith("/"))
    async def send_answer(
        message: Message,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        clock: Clock,
        config: AppConfig,
        state: FSMContext,
        mail_from: str | None = None,
    ) -> None:
        lead_id = (await state.get_data())["lead_id"]
        await state.clear()
        await _answer_client(message, lead_id, session, staff, locale, clock, config, mail_from)

    @router.message(StateFilter(None), ANSWERS, ~F.text.startswith("/"), replied_lead)
    async def answer_by_replying(
        message: Message,
        lead_id: int,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        clock: Clock,
        config: AppConfig,
        mail_from: str | None = None,
    ) -> None:
        """A native reply to a client's message or card; on a new lead's card it takes the
        lead for the replier first (first wins)."""
        await _answer_client(message, lead_id, session, staff, locale, clock, config, mail_from)

    return router


async def _answer_client(
    message: Message,
    lead_id: int,
    session: AsyncSession,
    staff: Staff,
    locale: str,
    clock: Clock,
    config: AppConfig,
    mail_from: str | None = None,
) -> None:
    taken = await take_if_new(session, lead_id, staff, clock.now(), config)
    if taken is not None and not taken.ok:
        await _not_sent(message, taken, locale)
        return
    target = await answer_target(session, lead_id, staff)  # re-checked at the last step
    if target.by_email:
        await _answer_by_email(message, lead_id, target, session, staff, locale, clock, mail_from)
        return
    if not target.result.ok or target.chat_id is None:
        await _not_sent(message, target.result, locale)
        return
    copy_from = None
    if message.content_type in MEDIA_MARKS:
        text = media_text(message.content_type, message.caption)
        # copied as it is: the client gets the photo / file / voice itself
        copy_from = (message.chat.id, message.message_id)
    else:
        text = (message.text or "").strip()
    # queued for the client's chat; the manager hears "sent" once it is there (the notifier)
    now = clock.now()
    await queue_reply(
        session, lead_id, staff, target.chat_id, text, now, locale=locale, copy_from=copy_from
    )


async def _answer_by_email(
    message: Message,
    lead_id: int,
    target: AnswerTarget,
    session: AsyncSession,
    staff: Staff,
    locale: str,
    clock: Clock,
    mail_from: str | None,
) -> None:
    """The client wrote by e-mail: the answer goes there, in their thread; a photo, file,
    voice message or video as its attachment (the caption as its text). A sticker, or a file
    too big for a letter, is refused with the reason, and nothing is queued."""
    assert target.letter is not None and target.address is not None
    if mail_from is None:
        await message.answer(render("email_off.html.j2", locale))
        return
    shown = None
    attachment = None
    if message.content_type in MEDIA_MARKS:
        attachment = attachment_of(message)
        if attachment is None:
            await message.answer(render("email_no_sticker.html.j2", locale))
            return
        if (attachment.size or 0) > ATTACHMENT_LIMIT:
            size_mb = round((attachment.size or 0) / 1024 / 1024, 1)
            limit_mb = ATTACHMENT_LIMIT // 1024 // 1024
            await message.answer(
                render("email_too_big.html.j2", locale, size_mb=size_mb, limit_mb=limit_mb)
            )
            return
        shown = media_text(message.content_type, message.caption)
        text = (message.caption or "").strip()
    else:
        text = (message.text or "").strip()
    await queue_email_reply(
        session,
        lead_id,
        staff,
        target.letter,
        target.address,
        text,
        mail_from,
        clock.now(),
        attachment=attachment,
        shown=shown,
    )


async def _not_sent(message: Message, result: ActionResult, locale: str) -> None:
    """Why the answer did not go, with the typed text kept for one tap (a tap on it copies)."""
    if message.content_type in MEDIA_MARKS or not (message.text or "").strip():
        await refuse_in_chat(message, result, locale)
        return
    await message.answer(
        render(
            "reply_not_sent.html.j2",
            locale,
            refusal=refusal_text(result, locale),
            text=(message.text or "").strip()[:MESSAGE_LIMIT],
        )
    )
