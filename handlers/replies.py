"""Answers shared by the staff routers: a refusal as an alert, the card's reader."""

from __future__ import annotations

import logging
from contextlib import suppress

from aiogram import html
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.common.render import render_alert
from bot.leads.actions import ActionResult
from storage.models import Staff

log = logging.getLogger("leadbot.presses")


def refusal_text(result: ActionResult, locale: str) -> str:
    assert result.refusal is not None
    return render_alert(f"refusal_{result.refusal.value}", locale, owner=result.owner_name,
                        lead_id=result.lead.id if result.lead else None)  # fmt: skip


async def refuse(query: CallbackQuery, result: ActionResult, locale: str) -> None:
    """A press that changed nothing: say why, as a pop-up the person must acknowledge."""
    # a stale or forged press is worth a line in the log: who, what, and why it was refused
    log.info("press refused user=%s data=%r lead=%s why=%s", query.from_user.id,
             (query.data or "")[:64], result.lead.id if result.lead else None,
             result.refusal)  # fmt: skip
    await query.answer(refusal_text(result, locale), show_alert=True)


async def refuse_in_chat(message: Message, result: ActionResult, locale: str) -> None:
    """The same, for a typed answer (a dialogue's last step)."""
    user = message.from_user.id if message.from_user else None
    log.info("answer refused user=%s lead=%s why=%s", user,
             result.lead.id if result.lead else None, result.refusal)  # fmt: skip
    await message.answer(html.quote(refusal_text(result, locale)))


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
    with suppress(TelegramBadRequest):
        await card.edit_reply_markup(reply_markup=markup)
