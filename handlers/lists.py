"""Lead lists (/leads and the menu under the input field), /find, /overdue, and opening a
lead's card from any of them."""

from __future__ import annotations

from contextlib import suppress

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.lifecycle import SUPERVISING
from bot.common.render import LOCALES, cut, labels, local_time, render, render_alert
from bot.config import AppConfig
from bot.leads.actions import load_lead
from bot.leads.cards import card_for, remember_card
from bot.leads.lists import LeadList, ListedLead, ListPage, find_leads, lead_list
from handlers.keyboards import card_keyboard
from storage.models import Staff

BUTTON_TEXT = 60


class ListButton(CallbackData, prefix="list"):
    """A page of a lead list: `list:today:2`."""

    kind: LeadList
    page: int


class OpenLead(CallbackData, prefix="open"):
    """A line of a list or a search: send that lead's card here."""

    lead_id: int


class FindQuery(StatesGroup):
    waiting = State()


def menu_keyboard(locale: str) -> ReplyKeyboardMarkup:
    names = labels(locale)["lists"]
    row = [KeyboardButton(text=names[kind.value]) for kind in LeadList]
    return ReplyKeyboardMarkup(keyboard=[row[:2], row[2:]], resize_keyboard=True,
                               is_persistent=True)  # fmt: skip


def _menu_kinds() -> dict[str, LeadList]:
    """What the menu buttons send, in every language (a person may switch their app's)."""
    return {labels(locale)["lists"][kind.value]: kind for locale in LOCALES for kind in LeadList}


def _line_button(item: ListedLead, config: AppConfig, locale: str) -> str:
    lead = item.lead
    status = labels(locale)["statuses"][lead.status].split(" ", 1)[0]  # the emoji
    name = lead.name or lead.phone or lead.email or "—"
    when = f" · {local_time(item.due, config.zone)}" if item.due else ""
    return cut(f"#{lead.id} {status} {name}{when}", BUTTON_TEXT)


def list_keyboard(
    items: list[ListedLead], config: AppConfig, locale: str, kind: LeadList | None = None,
    page: int = 0, pages: int = 1,
) -> InlineKeyboardMarkup | None:  # fmt: skip
    builder = InlineKeyboardBuilder()
    for item in items:
        builder.button(text=_line_button(item, config, locale),
                       callback_data=OpenLead(lead_id=item.lead.id))  # fmt: skip
    sizes = [1] * len(items)
    if kind is not None and pages > 1:
        nav = [(page - 1, "◀"), (page, f"{page + 1}/{pages}"), (page + 1, "▶")]
        shown = [(target, text) for target, text in nav if 0 <= target < pages]
        for target, text in shown:
            builder.button(text=text, callback_data=ListButton(kind=kind, page=target))
        sizes.append(len(shown))
    if not sizes:
        return None
    builder.adjust(*sizes)
    return builder.as_markup()


def _list_text(kind: LeadList, listed: ListPage, locale: str) -> str:
    return render("lead_list.html.j2", locale, kind=kind.value, total=listed.total,
                  page=listed.page, pages=listed.pages)  # fmt: skip


def lists_router() -> Router:
    router = Router(name="lists")

    async def show_list(
        message: Message, kind: LeadList, session: AsyncSession, staff: Staff,
        config: AppConfig, clock: Clock, locale: str,
    ) -> None:  # fmt: skip
        listed = await lead_list(session, kind, staff, clock.now(), config)
        await message.answer(
            _list_text(kind, listed, locale),
            reply_markup=list_keyboard(listed.items, config, locale, kind, listed.page,
                                       listed.pages),
        )  # fmt: skip

    @router.message(Command("leads"))
    async def leads_menu(message: Message, locale: str) -> None:
        await message.answer(
            render("lists_menu.html.j2", locale), reply_markup=menu_keyboard(locale)
        )

    @router.message(F.text.in_(set(_menu_kinds())))
    async def menu_pick(
        message: Message, session: AsyncSession, staff: Staff, config: AppConfig,
        clock: Clock, locale: str, state: FSMContext,
    ) -> None:  # fmt: skip
        await state.clear()  # a menu press leaves any half-done dialogue
        kind = _menu_kinds()[message.text or ""]
        await show_list(message, kind, session, staff, config, clock, locale)

    @router.message(Command("overdue"))
    async def overdue(
        message: Message, session: AsyncSession, staff: Staff, config: AppConfig,
        clock: Clock, locale: str,
    ) -> None:  # fmt: skip
        if staff.role not in SUPERVISING:
            await message.answer(render("supervisors_only.html.j2", locale))
            return
        await show_list(message, LeadList.OVERDUE, session, staff, config, clock, locale)

    @router.callback_query(ListButton.filter())
    async def turn_page(
        query: CallbackQuery, callback_data: ListButton, session: AsyncSession, staff: Staff,
        config: AppConfig, clock: Clock, locale: str,
    ) -> None:  # fmt: skip
        listed = await lead_list(session, callback_data.kind, staff, clock.now(), config,
                                 callback_data.page)  # fmt: skip
        await query.answer()
        if isinstance(query.message, Message):
            with suppress(TelegramBadRequest):  # the same page pressed again
                await query.message.edit_text(
                    _list_text(callback_data.kind, listed, locale),
                    reply_markup=list_keyboard(listed.items, config, locale, callback_data.kind,
                                               listed.page, listed.pages),
                )  # fmt: skip

    @router.callback_query(OpenLead.filter())
    async def open_card(
        query: CallbackQuery, callback_data: OpenLead, session: AsyncSession, staff: Staff,
        config: AppConfig, clock: Clock, locale: str, bot: Bot,
    ) -> None:  # fmt: skip
        lead = await load_lead(session, callback_data.lead_id)
        if lead is None:
            await query.answer(render_alert("refusal_not_found", locale), show_alert=True)
            return
        await query.answer()
        chat_id = staff.telegram_id
        view, reader_locale = await card_for(session, lead, staff.id, config, clock.now())
        sent = await bot.send_message(chat_id, view.text,
                                      reply_markup=card_keyboard(view, reader_locale))  # fmt: skip
        replaced = await remember_card(session, lead, chat_id, sent.message_id, staff.id,
                                       reader_locale, clock.now())  # fmt: skip
        if replaced is not None:  # the older copy stops offering buttons; this one is kept
            with suppress(TelegramBadRequest):
                await bot.edit_message_reply_markup(chat_id=chat_id, message_id=replaced,
                                                    reply_markup=None)  # fmt: skip

    async def show_found(
        message: Message, text: str, session: AsyncSession, config: AppConfig, locale: str
    ) -> None:
        found = await find_leads(session, text, config.phone_region)
        await message.answer(
            render("found.html.j2", locale, query=text, count=len(found)),
            reply_markup=list_keyboard([ListedLead(lead) for lead in found], config, locale),
        )

    @router.message(Command("find"))
    async def find(
        message: Message, command: CommandObject, session: AsyncSession, config: AppConfig,
        locale: str, state: FSMContext,
    ) -> None:  # fmt: skip
        if not command.args:
            await state.set_state(FindQuery.waiting)
            await message.answer(render("find_ask.html.j2", locale))
            return
        await show_found(message, command.args, session, config, locale)

    @router.message(FindQuery.waiting, F.text, ~F.text.startswith("/"))
    async def find_typed(
        message: Message, session: AsyncSession, config: AppConfig, locale: str,
        state: FSMContext,
    ) -> None:  # fmt: skip
        await state.clear()
        await show_found(message, message.text or "", session, config, locale)

    return router
