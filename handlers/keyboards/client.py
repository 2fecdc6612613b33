"""The client's one button: share my phone number."""

from __future__ import annotations

from aiogram.types import KeyboardButton, ReplyKeyboardMarkup

from bot.common.render import labels


def share_phone_keyboard(locale: str) -> ReplyKeyboardMarkup:
    """One button that shares the client's own number; they may ignore it and just write."""
    button = KeyboardButton(text=labels(locale)["client"]["share_phone"], request_contact=True)
    return ReplyKeyboardMarkup(keyboard=[[button]], resize_keyboard=True, one_time_keyboard=True)
