"""The lead card's own buttons for staff: Take, Reopen, and Back from a picker; the card's
dialogues (closing, call-backs, notes, qualifying) have routers of their own."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.render import render, render_alert
from bot.config import AppConfig
from bot.leads.actions import load_lead, reopen_lead, take_lead
from bot.leads.cards import CardAction
from handlers.card.answers import own_keyboard, show_keyboard
from handlers.card.call_back import call_back_router
from handlers.card.close import close_router
from handlers.card.dial import dial_router
from handlers.card.escalations import escalation_router
from handlers.card.merge import merge_router
from handlers.card.missed_calls import missed_calls_router
from handlers.card.notes import notes_router
from handlers.card.qualify import qualify_router
from handlers.card.reassign import reassign_router
from handlers.card.recordings import recordings_router
from handlers.card.reply import reply_router
from handlers.errors import refuse
from handlers.filters import IsStaff
from handlers.keyboards.lead import CardBackButton, LeadButton
from handlers.lists import lists_router
from storage.models import Staff


def dialogue_fallback_router() -> Router:
    """After every router with dialogues: in a dialogue, anything its step cannot take (a
    photo, a contact, an unknown command) gets a word on what is expected, not silence."""
    router = Router(name="dialogue_fallback")

    @router.message(~StateFilter(None))
    async def not_an_answer(message: Message, locale: str) -> None:
        await message.answer(render("dialogue_wants_text.html.j2", locale))

    return router


def manager_router() -> Router:
    router = Router(name="manager")
    router.callback_query.filter(IsStaff())
    router.message.filter(IsStaff())

    @router.message(Command("cancel"), ~StateFilter(None))
    async def cancel_dialogue(message: Message, state: FSMContext, locale: str) -> None:
        """Any open dialogue (a comment, a time, a note, a field) ends without a change."""
        await state.clear()
        await message.answer(render("dialogue_cancelled.html.j2", locale))

    @router.message(Command("cancel"))
    async def nothing_to_cancel(message: Message, locale: str) -> None:
        await message.answer(render("nothing_to_cancel.html.j2", locale))

    @router.callback_query(LeadButton.filter(F.action == CardAction.TAKE))
    async def take(
        query: CallbackQuery,
        callback_data: LeadButton,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        clock: Clock,
        config: AppConfig,
    ) -> None:
        result = await take_lead(session, callback_data.lead_id, staff, clock.now(), config)
        if not result.ok:
            await refuse(query, result, locale)
            return
        await query.answer(render_alert("taken", locale, lead_id=callback_data.lead_id))

    @router.callback_query(LeadButton.filter(F.action == CardAction.REOPEN))
    async def reopen(
        query: CallbackQuery,
        callback_data: LeadButton,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        clock: Clock,
        config: AppConfig,
    ) -> None:
        result = await reopen_lead(session, callback_data.lead_id, staff, clock.now(), config)
        if not result.ok:
            await refuse(query, result, locale)
            return
        await query.answer(
            render_alert("reopened", locale, lead_id=callback_data.lead_id, owner=result.owner_name)
        )

    @router.callback_query(CardBackButton.filter())
    async def back_to_card(
        query: CallbackQuery,
        callback_data: CardBackButton,
        session: AsyncSession,
        staff: Staff,
        config: AppConfig,
        clock: Clock,
    ) -> None:
        await query.answer()
        lead = await load_lead(session, callback_data.lead_id)
        if lead is not None:
            await show_keyboard(
                query, await own_keyboard(query, session, lead, staff, config, clock)
            )

    # lists first: their commands and menu buttons work even while a dialogue waits for text
    router.include_routers(
        lists_router(),
        close_router(),
        call_back_router(),
        notes_router(),
        qualify_router(),
        reassign_router(),
        escalation_router(),
        merge_router(),
        reply_router(),
        missed_calls_router(),
        dial_router(),  # 📞 Call (click-to-call)
        recordings_router(),  # a call recording's button on the history (issue 17)
    )
    return router
