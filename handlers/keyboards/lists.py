"""Lead lists: the menu under the input field, a list's lines (each opens the live card) and its
pages."""

from __future__ import annotations

from collections.abc import Callable

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.common.render import cut, labels, local_time
from bot.config import AppConfig
from bot.leads.lists import LeadList, ListedLead

BUTTON_TEXT = 60


class ListButton(CallbackData, prefix="list"):
    """A page of a lead list: `list:today:2`."""

    kind: LeadList
    page: int


class OpenLead(CallbackData, prefix="open"):
    """A line of a list or a search: send that lead's card here."""

    lead_id: int


def menu_keyboard(locale: str) -> ReplyKeyboardMarkup:
    names = labels(locale)["lists"]
    row = [KeyboardButton(text=names[kind.value]) for kind in LeadList]
    return ReplyKeyboardMarkup(
        keyboard=[row[:2], row[2:]], resize_keyboard=True, is_persistent=True
    )


def _line_button(item: ListedLead, config: AppConfig, locale: str) -> str:
    lead = item.lead
    status = labels(locale)["statuses"][lead.status].split(" ", 1)[0]  # the emoji
    name = lead.name or lead.phone or lead.email or "—"
    when = f" · {local_time(item.due, config.zone, locale)}" if item.due else ""
    return cut(f"#{lead.id} {status} {name}{when}", BUTTON_TEXT)


def page_row(
    builder: InlineKeyboardBuilder, page: int, pages: int, turn: Callable[[int], CallbackData]
) -> int:
    """◀ 2/5 ▶ under a paged list (only the arrows that lead somewhere); how many buttons."""
    if pages <= 1:
        return 0
    nav = [(page - 1, "◀"), (page, f"{page + 1}/{pages}"), (page + 1, "▶")]
    shown = [(target, text) for target, text in nav if 0 <= target < pages]
    for target, text in shown:
        builder.button(text=text, callback_data=turn(target))
    return len(shown)


def list_keyboard(
    items: list[ListedLead],
    config: AppConfig,
    locale: str,
    kind: LeadList | None = None,
    page: int = 0,
    pages: int = 1,
    turn: Callable[[int], CallbackData] | None = None,
) -> InlineKeyboardMarkup | None:
    """A list's lines, each opening the live card, and its pages: a lead list's own
    (`kind`), or any other paged list's (`turn`: the button data of page n)."""
    builder = InlineKeyboardBuilder()
    for item in items:
        builder.button(
            text=_line_button(item, config, locale), callback_data=OpenLead(lead_id=item.lead.id)
        )
    sizes = [1] * len(items)
    if turn is None and kind is not None:
        listed = kind
        turn = lambda target: ListButton(kind=listed, page=target)  # noqa: E731
    if turn is not None and (shown := page_row(builder, page, pages, turn)):
        sizes.append(shown)
    if not sizes:
        return None
    builder.adjust(*sizes)
    return builder.as_markup()
