"""Closing a lead with a reason: Junk (not our client) and Refuse (our client said no)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.lifecycle import Action
from bot.common.render import render, render_alert
from bot.config import AppConfig
from bot.leads.actions import check_allowed, close_lead, take_if_new
from bot.leads.cards import CardAction, card_for
from handlers.card.answers import ask, card_message, show_keyboard
from handlers.errors import refuse, refuse_in_chat, unchanged_or_gone
from handlers.keyboards.lead import LeadButton, ReasonButton, reasons_keyboard
from storage.models import Staff

OUTCOMES = {CardAction.JUNK: Action.JUNK, CardAction.REFUSE: Action.REFUSE}


class CloseComment(StatesGroup):
    """A reason that needs a few words (which service? what else?) waits for them here."""

    waiting = State()


def close_router() -> Router:
    router = Router(name="close")

    @router.callback_query(LeadButton.filter(F.action.in_(set(OUTCOMES))))
    async def pick_reason(
        query: CallbackQuery,
        callback_data: LeadButton,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        config: AppConfig,
        clock: Clock,
    ) -> None:
        outcome = OUTCOMES[callback_data.action]
        lead_id = callback_data.lead_id
        card = card_message(query)
        copy = (card.chat.id, card.message_id) if card is not None else None
        # Refuse on a new card: the press takes the lead first (first press wins), then the
        # reasons: two taps from a new card to a refused lead
        now = clock.now()
        taken = (
            await take_if_new(session, lead_id, staff, now, config, copy)
            if outcome is Action.REFUSE
            else None
        )
        if taken is not None and not taken.ok:
            await refuse(query, taken, locale)
            return
        allowed = await check_allowed(session, lead_id, staff, outcome)
        if not allowed.ok:
            await refuse(query, allowed, locale)
            return
        # answered first: the edit may have to wait for the chat's turn within Telegram's limits
        await query.answer(
            render_alert("close_pick", locale, lead_id=lead_id, outcome=outcome.value)
        )
        picker = reasons_keyboard(lead_id, outcome, config, locale)
        if taken is not None and taken.lead is not None and card is not None:
            # the card now says the lead is the presser's; its copy is left to us (kept_copy)
            view, _ = await card_for(session, taken.lead, staff.id, config, now)
            with unchanged_or_gone():
                await card.edit_text(view.text, reply_markup=picker)
        else:
            await show_keyboard(query, picker)

    @router.callback_query(ReasonButton.filter())
    async def close_with_reason(
        query: CallbackQuery,
        callback_data: ReasonButton,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        config: AppConfig,
        clock: Clock,
        state: FSMContext,
    ) -> None:
        outcome, lead_id = callback_data.outcome, callback_data.lead_id
        reason = config.close_reason(outcome, callback_data.reason)
        if reason is not None and reason.asks_text:
            allowed = await check_allowed(session, lead_id, staff, outcome)
            if not allowed.ok:
                await refuse(query, allowed, locale)
                return
            await query.answer()
            question = render(
                "close_ask_comment.html.j2",
                locale,
                lead_id=lead_id,
                reason=reason.label(locale),
                code=reason.code,
                outcome=outcome.value,
            )
            await ask(
                query,
                state,
                CloseComment.waiting,
                question,
                lead_id=lead_id,
                outcome=outcome.value,
                reason=reason.code,
            )
            return
        result = await close_lead(
            session, lead_id, staff, outcome, callback_data.reason, None, clock.now(), config
        )
        if not result.ok:
            await refuse(query, result, locale)
            return
        label = reason.label(locale) if reason else callback_data.reason
        await query.answer(
            render_alert("closed", locale, lead_id=lead_id, reason=label, outcome=outcome.value)
        )

    @router.message(CloseComment.waiting, F.text, ~F.text.startswith("/"))
    async def close_with_comment(
        message: Message,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        config: AppConfig,
        clock: Clock,
        state: FSMContext,
    ) -> None:
        data = await state.get_data()
        await state.clear()
        outcome = Action(data["outcome"])
        comment = message.text or ""
        result = await close_lead(
            session, data["lead_id"], staff, outcome, data["reason"], comment, clock.now(), config
        )
        if not result.ok:
            await refuse_in_chat(message, result, locale)
            return
        reason = config.close_reason(outcome, data["reason"])
        await message.answer(
            render(
                "closed.html.j2",
                locale,
                lead_id=data["lead_id"],
                comment=comment,
                reason=reason.label(locale) if reason else data["reason"],
                outcome=outcome.value,
            )
        )

    return router
