"""The card a press came from: whose view it is, and swapping its buttons (a picker, or the
card's own again)."""

from __future__ import annotations

from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from handlers.errors import unchanged_or_gone
from storage.models import Staff


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
