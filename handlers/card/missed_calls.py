"""Missed calls from the card or the owner's message: Called back, No answer (try again in
30 minutes). Every press is re-checked against the lead and its task as they are now."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.render import local_time, render_alert
from bot.config import AppConfig
from bot.leads.cards import CardAction
from bot.telephony.missed_calls import next_try_at, return_missed_call
from handlers.errors import refuse
from handlers.keyboards.lead import LeadButton
from storage.models import Staff


def missed_calls_router() -> Router:
    router = Router(name="missed_calls")
    buttons = {CardAction.CALLED_BACK, CardAction.NO_ANSWER}

    @router.callback_query(LeadButton.filter(F.action.in_(buttons)))
    async def returned(
        query: CallbackQuery,
        callback_data: LeadButton,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        clock: Clock,
        config: AppConfig,
    ) -> None:
        now = clock.now()
        reached = callback_data.action is CardAction.CALLED_BACK
        lead_id = callback_data.lead_id
        result = await return_missed_call(session, lead_id, staff, reached, now, config)
        if not result.ok:
            await refuse(query, result, locale)
            return
        if reached:
            await query.answer(render_alert("missed_call_done", locale, lead_id=lead_id))
            return
        due = local_time(next_try_at(now), config.zone, locale)
        await query.answer(render_alert("missed_call_retry", locale, lead_id=lead_id, due=due))

    return router
