"""Lead lists (/leads and the menu under the input field), /find, /overdue, and opening a
lead's card from any of them."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    Message,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.lifecycle import SUPERVISING
from bot.common.render import LOCALES, labels, render, render_alert
from bot.config import AppConfig
from bot.leads.actions import load_lead
from bot.leads.cards import card_for, remember_card
from bot.leads.lists import LeadList, ListedLead, ListPage, find_leads, lead_list
from handlers.errors import unchanged_or_gone
from handlers.filters import HasRole
from handlers.keyboards.lead import card_keyboard
from handlers.keyboards.lists import ListButton, OpenLead, list_keyboard, menu_keyboard
from storage.models import Staff


class FindQuery(StatesGroup):
    waiting = State()


def _menu_kinds() -> dict[str, LeadList]:
    """What the menu buttons send, in every language (a person may switch their app's)."""
    return {labels(locale)["lists"][kind.value]: kind for locale in LOCALES for kind in LeadList}


def _list_text(kind: LeadList, listed: ListPage, locale: str) -> str:
    return render(
        "lead_list.html.j2",
        locale,
        kind=kind.value,
        total=listed.total,
        page=listed.page,
        pages=listed.pages,
    )


def lists_router() -> Router:
    router = Router(name="lists")

    async def show_list(
        message: Message,
        kind: LeadList,
        session: AsyncSession,
        staff: Staff,
        config: AppConfig,
        clock: Clock,
        locale: str,
    ) -> None:
        listed = await lead_list(session, kind, staff, clock.now(), config)
        await message.answer(
            _list_text(kind, listed, locale),
            reply_markup=list_keyboard(
                listed.items, config, locale, kind, listed.page, listed.pages
            ),
        )

    @router.message(Command("leads"))
    async def leads_menu(message: Message, locale: str) -> None:
        await message.answer(
            render("lists_menu.html.j2", locale), reply_markup=menu_keyboard(locale)
        )

    @router.message(F.text.in_(set(_menu_kinds())))
    async def menu_pick(
        message: Message,
        session: AsyncSession,
        staff: Staff,
        config: AppConfig,
        clock: Clock,
        locale: str,
        state: FSMContext,
    ) -> None:
        await state.clear()  # a menu press leaves any half-done dialogue
        kind = _menu_kinds()[message.text or ""]
        await show_list(message, kind, session, staff, config, clock, locale)

    @router.message(Command("overdue"), HasRole(SUPERVISING))
    async def overdue(
        message: Message,
        session: AsyncSession,
        staff: Staff,
        config: AppConfig,
        clock: Clock,
        locale: str,
    ) -> None:
        await show_list(message, LeadList.OVERDUE, session, staff, config, clock, locale)

    @router.message(Command("overdue"))
    async def overdue_refused(message: Message, locale: str) -> None:
        await message.answer(render("supervisors_only.html.j2", locale))

    @router.callback_query(ListButton.filter())
    async def turn_page(
        query: CallbackQuery,
        callback_data: ListButton,
        session: AsyncSession,
        staff: Staff,
        config: AppConfig,
        clock: Clock,
        locale: str,
    ) -> None:
        listed = await lead_list(
            session, callback_data.kind, staff, clock.now(), config, callback_data.page
        )
        await query.answer()
        if isinstance(query.message, Message):
            with unchanged_or_gone():  # the same page pressed again
                await query.message.edit_text(
                    _list_text(callback_data.kind, listed, locale),
                    reply_markup=list_keyboard(
                        listed.items, config, locale, callback_data.kind, listed.page, listed.pages
                    ),
                )

    @router.callback_query(OpenLead.filter())
    async def open_card(
        query: CallbackQuery,
        callback_data: OpenLead,
        session: AsyncSession,
        staff: Staff,
        config: AppConfig,
        clock: Clock,
        locale: str,
        bot: Bot,
    ) -> None:
        lead = await load_lead(session, callback_data.lead_id)
        if lead is None:
            await query.answer(render_alert("refusal_not_found", locale), show_alert=True)
            return
        await query.answer()
        chat_id = staff.telegram_id
        view, reader_locale = await card_for(session, lead, staff.id, config, clock.now())
        sent = await bot.send_message(
            chat_id, view.text, reply_markup=card_keyboard(view, reader_locale)
        )
        replaced = await remember_card(
            session, lead, chat_id, sent.message_id, staff.id, reader_locale, clock.now()
        )
        if replaced is not None:  # the older copy stops offering buttons; this one is kept
            with unchanged_or_gone():
                await bot.edit_message_reply_markup(
                    chat_id=chat_id, message_id=replaced, reply_markup=None
                )

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
        message: Message,
        command: CommandObject,
        session: AsyncSession,
        config: AppConfig,
        locale: str,
        state: FSMContext,
    ) -> None:
        if not command.args:
            await message.answer(render("find_ask.html.j2", locale))
            await state.set_state(FindQuery.waiting)  # once the question is in the chat
            return
        await show_found(message, command.args, session, config, locale)

    @router.message(FindQuery.waiting, F.text, ~F.text.startswith("/"))
    async def find_typed(
        message: Message,
        session: AsyncSession,
        config: AppConfig,
        locale: str,
        state: FSMContext,
    ) -> None:
        await state.clear()
        await show_found(message, message.text or "", session, config, locale)

    return router
