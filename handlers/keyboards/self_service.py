"""The client's self-service buttons: the menu, services, time slots, their request's actions.
Prefixes start with `cs` (client self-service); every one fits in 64 bytes."""

from __future__ import annotations

import enum
from datetime import datetime

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import Field

from bot.common.render import labels, local_day
from bot.config import SERVICE_CODE_MAX, AppConfig
from bot.self_service.slots import SlotDay, slot_day, slot_minute


class MenuItem(enum.StrEnum):
    LEAVE = "leave"
    MINE = "mine"
    NUDGE = "nudge"


class RequestAction(enum.StrEnum):
    MOVE = "move"
    CANCEL = "cancel"  # asks to confirm
    CANCEL_YES = "yes"
    KEEP = "keep"
    NUDGE = "nudge"


class SelfMenu(CallbackData, prefix="csm"):
    """A menu button: `csm:leave`."""

    item: MenuItem


class ServicePick(CallbackData, prefix="csv"):
    """A service picked for a new request: `csv:install`."""

    code: str = Field(max_length=SERVICE_CODE_MAX)


class SlotPick(CallbackData, prefix="cst"):
    """A time picked: for a new request (`lead_id` 0, with its service) or to move the call of
    request `lead_id`: `cst:29432880:0:install` (the slot in minutes since the epoch)."""

    minute: int
    lead_id: int
    code: str = Field(default="", max_length=SERVICE_CODE_MAX)


class RequestButton(CallbackData, prefix="csl"):
    """An action on the client's own request: `csl:move:42`."""

    action: RequestAction
    lead_id: int


def menu_keyboard(locale: str) -> InlineKeyboardMarkup:
    words = labels(locale)["self_service"]
    builder = InlineKeyboardBuilder()
    for item in MenuItem:
        builder.button(text=words[item.value], callback_data=SelfMenu(item=item).pack())
    builder.adjust(1)
    return builder.as_markup()


def services_keyboard(config: AppConfig, locale: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for service in config.services:
        builder.button(text=service.label(locale), callback_data=ServicePick(code=service.code))
    builder.adjust(2)
    return builder.as_markup()


def _slot_label(slot: datetime, now: datetime, config: AppConfig, locale: str) -> str:
    words = labels(locale)["self_service"]
    local = slot.astimezone(config.zone)
    day = slot_day(slot, now, config)
    if day is SlotDay.LATER:
        weekday = str(words["weekdays"]).split()[local.isoweekday() - 1]
        name = f"{weekday} {local_day(slot, config.zone, locale)}"
    else:
        name = str(words[day.value])
    return f"{name} {local:%H:%M}"


def slots_keyboard(
    slots: list[datetime],
    now: datetime,
    config: AppConfig,
    locale: str,
    lead_id: int = 0,
    code: str = "",
) -> InlineKeyboardMarkup:
    """Three slots a row; each day starts a new row (today, tomorrow, then by date)."""
    rows: list[list[InlineKeyboardButton]] = []
    last_day = None
    for slot in slots:
        day = slot.astimezone(config.zone).date()
        if day != last_day or len(rows[-1]) == 3:
            rows.append([])
        last_day = day
        data = SlotPick(minute=slot_minute(slot), lead_id=lead_id, code=code).pack()
        rows[-1].append(
            InlineKeyboardButton(text=_slot_label(slot, now, config, locale), callback_data=data)
        )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def request_keyboard(lead_id: int, locale: str) -> InlineKeyboardMarkup:
    words = labels(locale)["self_service"]
    builder = InlineKeyboardBuilder()
    for action in (RequestAction.MOVE, RequestAction.CANCEL, RequestAction.NUDGE):
        builder.button(
            text=words[action.value], callback_data=RequestButton(action=action, lead_id=lead_id)
        )
    builder.adjust(1)
    return builder.as_markup()


def confirm_cancel_keyboard(lead_id: int, locale: str) -> InlineKeyboardMarkup:
    words = labels(locale)["self_service"]
    builder = InlineKeyboardBuilder()
    builder.button(
        text=words["cancel_yes"],
        callback_data=RequestButton(action=RequestAction.CANCEL_YES, lead_id=lead_id),
    )
    builder.button(
        text=words["cancel_no"],
        callback_data=RequestButton(action=RequestAction.KEEP, lead_id=lead_id),
    )
    builder.adjust(2)
    return builder.as_markup()
