"""Buttons under an import's preview: the three ways to treat people we already know, and
Cancel. The button carries the preview's token (the file waits on the server meanwhile) and
the choice: `imp:Xy3_k9Qa:attach`."""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import Field

from bot.common.render import labels

TOKEN_PATTERN = r"^[A-Za-z0-9_-]{1,16}$"


class ImportDo(enum.StrEnum):
    SKIP = "skip"  # import; people we know are left as they are
    ATTACH = "attach"  # import; their rows become history events on their leads
    UPDATE = "update"  # import; their empty fields are filled
    CANCEL = "cancel"  # nothing is written; the file is dropped


class ImportChoice(CallbackData, prefix="imp"):
    token: str = Field(max_length=16, pattern=TOKEN_PATTERN)
    do: ImportDo


def import_keyboard(token: str, duplicates: int, locale: str) -> InlineKeyboardMarkup:
    """With people we know in the file: a button per policy; without: Import and Cancel."""
    names = labels(locale)["import_buttons"]
    builder = InlineKeyboardBuilder()
    choices = [ImportDo.SKIP, ImportDo.ATTACH, ImportDo.UPDATE] if duplicates else []
    for do in choices:
        builder.button(text=names[do.value], callback_data=ImportChoice(token=token, do=do))
    if not duplicates:
        builder.button(
            text=names["import"], callback_data=ImportChoice(token=token, do=ImportDo.SKIP)
        )
    builder.button(
        text=names["cancel"], callback_data=ImportChoice(token=token, do=ImportDo.CANCEL)
    )
    builder.adjust(1)
    return builder.as_markup()
