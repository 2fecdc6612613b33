"""Merging duplicates: from the card of a flagged lead, or `/merge 12 34` (lead 12 into 34)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.render import labels, render, render_alert
from bot.config import AppConfig
from bot.leads.cards import CardAction
from bot.leads.merge import merge_leads, merge_proposal
from handlers.card.answers import show_keyboard
from handlers.errors import refuse, refuse_in_chat
from handlers.keyboards.lead import CardBackButton, LeadButton, MergeInto
from storage.models import Staff


def merge_router() -> Router:
    router = Router(name="merge")

    @router.callback_query(LeadButton.filter(F.action == CardAction.MERGE))
    async def confirm(
        query: CallbackQuery,
        callback_data: LeadButton,
        session: AsyncSession,
        staff: Staff,
        locale: str,
    ) -> None:
        proposal, into = await merge_proposal(session, callback_data.lead_id, staff)
        if into is None or proposal.lead is None:
            await refuse(query, proposal, locale)
            return
        lead = proposal.lead
        builder = InlineKeyboardBuilder()
        builder.button(
            text=labels(locale)["merge"]["confirm"].format(lead=lead.id, into=into),
            callback_data=MergeInto(lead_id=lead.id, into_id=into),
        )
        builder.button(
            text=labels(locale)["buttons"]["back"], callback_data=CardBackButton(lead_id=lead.id)
        )
        builder.adjust(1)
        await query.answer(render_alert("merge_confirm", locale, lead_id=lead.id, into_id=into))
        await show_keyboard(query, builder.as_markup())

    @router.callback_query(MergeInto.filter())
    async def merge(
        query: CallbackQuery,
        callback_data: MergeInto,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        clock: Clock,
        config: AppConfig,
    ) -> None:
        result = await merge_leads(
            session, callback_data.lead_id, callback_data.into_id, staff, clock.now(), config
        )
        if not result.ok:
            await refuse(query, result, locale)
            return
        await query.answer(
            render_alert(
                "merged", locale, lead_id=callback_data.lead_id, into_id=callback_data.into_id
            )
        )

    @router.message(Command("merge"))
    async def merge_command(
        message: Message,
        command: CommandObject,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        clock: Clock,
        config: AppConfig,
    ) -> None:
        numbers = [part.lstrip("#№") for part in (command.args or "").split()]
        if len(numbers) != 2 or not all(n.isdigit() and len(n) < 10 for n in numbers):
            await message.answer(render("merge_usage.html.j2", locale))
            return
        lead_id, into_id = (int(n) for n in numbers)
        result = await merge_leads(session, lead_id, into_id, staff, clock.now(), config)
        if not result.ok:
            await refuse_in_chat(message, result, locale)
            return
        await message.answer(render("merged.html.j2", locale, lead_id=lead_id, into_id=into_id))

    return router
