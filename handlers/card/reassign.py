"""Reassign: a supervisor picks who works a lead now (managers with their open-lead counts)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.lifecycle import Action
from bot.common.render import render_alert
from bot.config import AppConfig
from bot.leads.actions import check_allowed
from bot.leads.cards import CardAction
from bot.leads.reassign import reassign_candidates, reassign_lead
from handlers.card.answers import show_keyboard
from handlers.errors import refuse
from handlers.keyboards.lead import LeadButton, ReassignTo, candidates_keyboard
from storage.models import Staff


def reassign_router() -> Router:
    router = Router(name="reassign")

    @router.callback_query(LeadButton.filter(F.action == CardAction.REASSIGN))
    async def pick_person(
        query: CallbackQuery,
        callback_data: LeadButton,
        session: AsyncSession,
        staff: Staff,
        locale: str,
    ) -> None:
        allowed = await check_allowed(session, callback_data.lead_id, staff, Action.REASSIGN)
        if not allowed.ok or allowed.lead is None:
            await refuse(query, allowed, locale)
            return
        people = await reassign_candidates(session, allowed.lead)
        await query.answer(render_alert("reassign_pick", locale, lead_id=allowed.lead.id))
        await show_keyboard(
            query, candidates_keyboard(allowed.lead.id, allowed.lead.version, people, locale)
        )

    @router.callback_query(ReassignTo.filter())
    async def give(
        query: CallbackQuery,
        callback_data: ReassignTo,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        clock: Clock,
        config: AppConfig,
    ) -> None:
        result = await reassign_lead(
            session,
            callback_data.lead_id,
            staff,
            callback_data.staff_id,
            callback_data.version,
            clock.now(),
            config,
        )
        if not result.ok:
            await refuse(query, result, locale)
            return
        await query.answer(
            render_alert(
                "reassigned", locale, lead_id=callback_data.lead_id, owner=result.owner_name
            )
        )

    return router
