"""The buttons under a follow-up message to a client ([[sequences]]): Yes, call me / Not
interested. The enrolment's id rides in the data; the press is re-authorised against it."""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.common.render import labels


class FollowUpChoice(enum.StrEnum):
    YES = "yes"
    NO = "no"


class FollowUpButton(CallbackData, prefix="fu"):
    """`fu:yes:42`: a client's answer to enrolment 42's message."""

    choice: FollowUpChoice
    enrolment_id: int


def follow_up_keyboard(enrolment_id: int, locale: str) -> InlineKeyboardMarkup:
    words = labels(locale)["sequence_buttons"]
    builder = InlineKeyboardBuilder()
    for choice in FollowUpChoice:
        data = FollowUpButton(choice=choice, enrolment_id=enrolment_id).pack()
        builder.button(text=words[choice.value], callback_data=data)
    builder.adjust(1)
    return builder.as_markup()
