"""A client's answers to follow-ups ([[sequences]]): Yes, call me / Not interested under a
follow-up message, and /stop. Each press is re-authorised in the core: it must come from the
lead's client."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.render import render, render_alert
from bot.config import AppConfig
from bot.intake.sequence_answers import (
    PressRefusal,
    client_not_interested,
    client_pressed_yes,
)
from bot.sequences.stops import StopReason, person_said_stop
from handlers.errors import unchanged_or_gone
from handlers.keyboards.sequences import FollowUpButton, FollowUpChoice
from storage.models import Staff


def client_sequences_router() -> Router:
    router = Router(name="client_sequences")

    @router.callback_query(FollowUpButton.filter())
    async def answered(
        query: CallbackQuery,
        callback_data: FollowUpButton,
        session: AsyncSession,
        locale: str,
        clock: Clock,
        config: AppConfig,
        leads_chat_id: int | None = None,
    ) -> None:
        user_id = query.from_user.id
        enrolment_id = callback_data.enrolment_id
        if callback_data.choice is FollowUpChoice.YES:
            result = await client_pressed_yes(
                session, enrolment_id, user_id, clock.now(), config, leads_chat_id
            )
            answer = "sequence_yes.html.j2"
        else:
            result = await client_not_interested(session, enrolment_id, user_id, clock.now())
            answer = "sequence_stopped.html.j2"
        if result.refusal is PressRefusal.NOT_YOURS:
            await query.answer(render_alert("sequence_not_yours", locale), show_alert=True)
            return
        if result.refusal is PressRefusal.ENDED:
            await query.answer(render_alert("sequence_ended", locale), show_alert=True)
            return
        await query.answer()
        if query.message is not None:  # the buttons go: the answer is given
            with unchanged_or_gone():  # pressed twice, or the message too old to edit
                await query.message.edit_reply_markup(reply_markup=None)  # type: ignore[union-attr]
        await query.bot.send_message(user_id, render(answer, locale))  # type: ignore[union-attr]

    async def is_client(message: Message, staff: Staff | None = None) -> bool:
        """Staff's /stop is not this one: it goes on to their routers."""
        return staff is None and message.chat.type == "private" and message.from_user is not None

    @router.message(Command("stop"), is_client)
    async def stop(message: Message, session: AsyncSession, locale: str, clock: Clock) -> None:
        """A client's /stop: no follow-up ever again."""
        assert message.from_user is not None
        await person_said_stop(session, message.from_user.id, StopReason.STOP_COMMAND, clock.now())
        await session.commit()
        await message.answer(render("sequence_stopped.html.j2", locale))

    return router
