"""Inline keyboards and the typed callback data behind every button."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.cards import CardAction, CardView
from bot.config import AppConfig
from bot.render import labels


class LeadButton(CallbackData, prefix="lead"):
    """A card button: `lead:take:42`."""

    action: CardAction
    lead_id: int


class JunkReasonButton(CallbackData, prefix="junk"):
    """A pick in the junk reason list: `junk:42:spam`."""

    lead_id: int
    reason: str


class CardBackButton(CallbackData, prefix="card"):
    """Leave the reason picker and show the card's own buttons again."""

    lead_id: int


def card_keyboard(view: CardView, locale: str) -> InlineKeyboardMarkup | None:
    if not view.actions:
        return None
    names = labels(locale)["buttons"]
    builder = InlineKeyboardBuilder()
    for action in view.actions:
        builder.button(
            text=names[action.value],
            callback_data=LeadButton(action=action, lead_id=view.lead_id),
        )
    builder.adjust(2)
    return builder.as_markup()


def junk_reasons_keyboard(lead_id: int, config: AppConfig, locale: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for reason in config.junk_reasons:
        builder.button(
            text=reason.label(locale),
            callback_data=JunkReasonButton(lead_id=lead_id, reason=reason.code),
        )
    back = labels(locale)["buttons"]["back"]
    builder.button(text=back, callback_data=CardBackButton(lead_id=lead_id))
    builder.adjust(2)
    return builder.as_markup()
