"""Call-backs from the card: quick choices, or a time typed in the manager's words; Done."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.lifecycle import Action
from bot.common.render import local_time, render, render_alert
from bot.config import AppConfig
from bot.leads.actions import check_allowed
from bot.leads.call_backs import (
    CallBackChoice,
    finish_call_back,
    quick_call_back_time,
    schedule_call_back,
)
from bot.leads.cards import CardAction
from bot.leads.time_input import parse_when
from handlers.card.answers import ask, show_keyboard
from handlers.errors import refuse, refuse_in_chat
from handlers.keyboards.lead import CallBackWhen, LeadButton, call_back_times_keyboard
from storage.models import Staff


# the name is stored with open dialogues (FSM state "CallbackTime:waiting"): it stays
class CallbackTime(StatesGroup):
    waiting = State()  # for a typed time


def call_back_router() -> Router:
    router = Router(name="call_back")
    when_buttons = {CardAction.CALL_BACK, CardAction.RESCHEDULE}

    @router.callback_query(LeadButton.filter(F.action.in_(when_buttons)))
    async def pick_time(
        query: CallbackQuery,
        callback_data: LeadButton,
        session: AsyncSession,
        staff: Staff,
        locale: str,
    ) -> None:
        allowed = await check_allowed(
            session, callback_data.lead_id, staff, Action.SCHEDULE_CALL_BACK
        )
        if not allowed.ok:
            await refuse(query, allowed, locale)
            return
        await query.answer(render_alert("callback_pick", locale, lead_id=callback_data.lead_id))
        await show_keyboard(query, call_back_times_keyboard(callback_data.lead_id, locale))

    @router.callback_query(CallBackWhen.filter())
    async def schedule(
        query: CallbackQuery,
        callback_data: CallBackWhen,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        config: AppConfig,
        clock: Clock,
        state: FSMContext,
    ) -> None:
        lead_id = callback_data.lead_id
        if callback_data.choice is CallBackChoice.OTHER:
            allowed = await check_allowed(session, lead_id, staff, Action.SCHEDULE_CALL_BACK)
            if not allowed.ok:
                await refuse(query, allowed, locale)
                return
            await query.answer()
            question = render(
                "callback_ask_time.html.j2", locale, lead_id=lead_id, zone=config.timezone
            )
            await ask(query, state, CallbackTime.waiting, question, lead_id=lead_id)
            return
        now = clock.now()
        due = quick_call_back_time(callback_data.choice, now, config)
        result = await schedule_call_back(session, lead_id, staff, due, now, config)
        if not result.ok:
            await refuse(query, result, locale)
            return
        await query.answer(
            render_alert(
                "callback_scheduled",
                locale,
                lead_id=lead_id,
                due=local_time(due, config.zone, locale),
            )
        )

    @router.message(CallbackTime.waiting, F.text, ~F.text.startswith("/"))
    async def schedule_typed_time(
        message: Message,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        config: AppConfig,
        clock: Clock,
        state: FSMContext,
    ) -> None:
        now = clock.now()
        text = message.text or ""
        due = parse_when(text, now, config.zone, config.working_hours.opens)
        if due is None:  # the dialogue stays open: the manager tries again
            await message.answer(render("callback_unreadable.html.j2", locale, text=text))
            return
        lead_id = (await state.get_data())["lead_id"]
        await state.clear()
        result = await schedule_call_back(session, lead_id, staff, due, now, config)
        if not result.ok:
            await refuse_in_chat(message, result, locale)
            return
        await message.answer(
            render(
                "callback_scheduled.html.j2",
                locale,
                lead_id=lead_id,
                due=local_time(due, config.zone, locale),
            )
        )

    @router.callback_query(LeadButton.filter(F.action == CardAction.DONE))
    async def done(
        query: CallbackQuery,
        callback_data: LeadButton,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        clock: Clock,
        config: AppConfig,
    ) -> None:
        result = await finish_call_back(session, callback_data.lead_id, staff, clock.now(), config)
        if not result.ok:
            await refuse(query, result, locale)
            return
        await query.answer(render_alert("callback_done", locale, lead_id=callback_data.lead_id))

    return router
