"""The buttons under a Qualify / Convert question: Keep, Skip, Cancel."""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.common.render import labels
from bot.config import DealField


class StepChoice(enum.StrEnum):
    KEEP = "keep"  # the value the lead already has
    SKIP = "skip"  # an optional field left empty
    CANCEL = "cancel"


class StepButton(CallbackData, prefix="step"):
    """A button under one step's question: `step:42:1:keep` (lead, step number, choice)."""

    lead_id: int
    step: int
    choice: StepChoice


def step_keyboard(
    lead_id: int, step: int, field: DealField, has_value: bool, locale: str
) -> InlineKeyboardMarkup:
    names = labels(locale)["step_buttons"]
    choices = [StepChoice.KEEP] if has_value else [] if field.required else [StepChoice.SKIP]
    builder = InlineKeyboardBuilder()
    for choice in [*choices, StepChoice.CANCEL]:
        button = StepButton(lead_id=lead_id, step=step, choice=choice)
        builder.button(text=names[choice.value], callback_data=button)
    return builder.as_markup()
