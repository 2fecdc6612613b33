"""The card a press came from: whose view it is, and swapping its buttons (a picker, or the
card's own again)."""

from __future__ import annotations

from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.outbox import alert_copy_at
from bot.config import AppConfig
from bot.leads.cards import card_for
from bot.leads.reassign import may_own_leads
from bot.sla.alerts import AlertSubject, alert_still_pending
from handlers.errors import unchanged_or_gone
from handlers.keyboards.escalation import alert_keyboard
from handlers.keyboards.lead import card_keyboard
from storage.models import Lead, Staff


def reader_staff_id(query: CallbackQuery, staff: Staff) -> int | None:
    """A card in the team chat is the team's view; in a private chat, its owner's."""
    message = query.message
    private = message is not None and message.chat.type == "private"
    return staff.id if private else None


def card_message(query: CallbackQuery) -> Message | None:
    """The card the button is on, if Telegram still lets the bot edit it."""
    return query.message if isinstance(query.message, Message) else None


async def show_keyboard(query: CallbackQuery, markup: InlineKeyboardMarkup | None) -> None:
    """Swap the buttons under the card the press came from (a picker, or the card's own)."""
    card = card_message(query)
    if card is None:
        return
    # pressed twice, or a refresh already put these buttons there: nothing to change
    with unchanged_or_gone():
        await card.edit_reply_markup(reply_markup=markup)


async def own_keyboard(
    query: CallbackQuery,
    session: AsyncSession,
    lead: Lead,
    staff: Staff,
    config: AppConfig,
    clock: Clock,
) -> InlineKeyboardMarkup | None:
    """The buttons the message a press came from shows when no picker is open: a card's own,
    an escalation's Reassign / Take over / Snooze while it is pending, none once settled."""
    view, locale = await card_for(session, lead, reader_staff_id(query, staff), config, clock.now())
    message = card_message(query)
    alert = await alert_copy_at(session, message.chat.id, message.message_id) if message else None
    if alert is None:
        return card_keyboard(view, locale)
    pending = await alert_still_pending(session, alert, lead)
    subject = AlertSubject.of(alert.payload)
    return alert_keyboard(
        subject, pending, view, lead.version, config, locale, may_own_leads(staff)
    )


async def ask(
    query: CallbackQuery, state: FSMContext, step: State, question: str, **data: Any
) -> None:
    """Open a dialogue from a press: the question goes to the chat the card is in, and only
    once it is there does the dialogue wait for its answer (a question that never arrived
    leaves no invisible dialogue behind)."""
    card = card_message(query)
    if card is None:
        return
    await card.answer(question)
    await state.set_state(step)
    await state.update_data(**data)
