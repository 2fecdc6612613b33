"""Reply: a manager answers a client who wrote to the bot; the next message is the answer."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramForbiddenError
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cards import CardAction
from bot.client_chat import MESSAGE_LIMIT, record_reply, reply_target
from bot.clock import Clock
from bot.render import render
from handlers.keyboards import LeadButton
from handlers.replies import refuse, refuse_in_chat
from storage.models import Staff


class ReplyText(StatesGroup):
    waiting = State()


def reply_router() -> Router:
    router = Router(name="reply")

    @router.callback_query(LeadButton.filter(F.action == CardAction.REPLY))
    async def ask_answer(
        query: CallbackQuery, callback_data: LeadButton, session: AsyncSession, staff: Staff,
        locale: str, state: FSMContext,
    ) -> None:  # fmt: skip
        target = await reply_target(session, callback_data.lead_id, staff)
        if not target.result.ok or query.message is None:
            await refuse(query, target.result, locale)
            return
        await state.set_state(ReplyText.waiting)
        await state.update_data(lead_id=callback_data.lead_id)
        await query.answer()
        await query.message.answer(render("reply_ask.html.j2", locale,
                                          lead_id=callback_data.lead_id))  # fmt: skip

    @router.message(ReplyText.waiting, F.text, ~F.text.startswith("/"))
    async def send_answer(
        message: Message, session: AsyncSession, staff: Staff, locale: str, clock: Clock,
        state: FSMContext, bot: Bot,
    ) -> None:  # fmt: skip
        lead_id = (await state.get_data())["lead_id"]
        await state.clear()
        target = await reply_target(session, lead_id, staff)  # re-checked at the last step
        if not target.result.ok or target.chat_id is None:
            await refuse_in_chat(message, target.result, locale)
            return
        text = (message.text or "").strip()[:MESSAGE_LIMIT]
        # the same words in both languages: the manager's name and their text
        answer = render("client_reply.html.j2", locale, manager=staff.name, text=text)
        try:
            await bot.send_message(target.chat_id, answer)
        except TelegramForbiddenError:
            await record_reply(session, lead_id, staff, text, False, clock.now())
            await message.answer(render("reply_blocked.html.j2", locale, lead_id=lead_id))
            return
        await record_reply(session, lead_id, staff, text, True, clock.now())
        await message.answer(render("reply_sent.html.j2", locale, lead_id=lead_id))

    return router
