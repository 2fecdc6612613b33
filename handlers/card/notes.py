"""Notes and the lead's history, for its owner and supervisors."""

from __future__ import annotations

from datetime import datetime

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.render import labels, local_time, render
from bot.config import AppConfig
from bot.leads.cards import CardAction
from bot.leads.notes import (
    HistoryLine,
    add_note,
    lead_history,
    may_annotate,
    shown_history,
)
from bot.telephony.recordings import RECORDING_EVENT
from handlers.card.answers import ask, card_message
from handlers.errors import refuse, refuse_in_chat
from handlers.keyboards.lead import HistoryPage, LeadButton, history_keyboard
from storage.models import Staff


class NoteText(StatesGroup):
    waiting = State()


async def _history_page(
    session: AsyncSession, lead_id: int, page: int, config: AppConfig, locale: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The page's text and buttons: its recordings' (one each), then the pages'."""
    lines, pages = await lead_history(session, lead_id, page)
    page = min(page, pages - 1)
    shown = shown_history(lines, config, locale)
    text = render("history.html.j2", locale, lead_id=lead_id, page=page, pages=pages, lines=shown)
    words = labels(locale)["recordings"]
    recordings = [
        (
            int(line.data["recording"]),
            words["button"].format(length=seen.detail, at=_called(line, seen.at, config, locale)),
        )
        for line, seen in zip(lines, shown, strict=True)
        if line.kind == RECORDING_EVENT and isinstance(line.data.get("recording"), int)
    ]
    return text, history_keyboard(lead_id, page, pages, recordings)


def _called(line: HistoryLine, recorded: str, config: AppConfig, locale: str) -> str:
    """When the recorded call was made (the button names the call, not the notice)."""
    at = line.data.get("at")
    return local_time(datetime.fromisoformat(at), config.zone, locale) if at else recorded


def notes_router() -> Router:
    router = Router(name="notes")

    @router.callback_query(LeadButton.filter(F.action == CardAction.NOTE))
    async def ask_note(
        query: CallbackQuery,
        callback_data: LeadButton,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        state: FSMContext,
    ) -> None:
        allowed = await may_annotate(session, callback_data.lead_id, staff)
        if not allowed.ok:
            await refuse(query, allowed, locale)
            return
        await query.answer()
        question = render("note_ask.html.j2", locale, lead_id=callback_data.lead_id)
        await ask(query, state, NoteText.waiting, question, lead_id=callback_data.lead_id)

    @router.message(NoteText.waiting, F.text, ~F.text.startswith("/"))
    async def save_note(
        message: Message,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        clock: Clock,
        state: FSMContext,
    ) -> None:
        lead_id = (await state.get_data())["lead_id"]
        await state.clear()
        result = await add_note(session, lead_id, staff, (message.text or "").strip(), clock.now())
        if not result.ok:
            await refuse_in_chat(message, result, locale)
            return
        await message.answer(render("note_added.html.j2", locale, lead_id=lead_id))

    @router.callback_query(LeadButton.filter(F.action == CardAction.HISTORY))
    async def show_history(
        query: CallbackQuery,
        callback_data: LeadButton,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        config: AppConfig,
    ) -> None:
        allowed = await may_annotate(session, callback_data.lead_id, staff)
        if not allowed.ok:
            await refuse(query, allowed, locale)
            return
        text, keyboard = await _history_page(session, callback_data.lead_id, 0, config, locale)
        await query.answer()
        if card := card_message(query):
            await card.answer(text, reply_markup=keyboard)

    @router.callback_query(HistoryPage.filter())
    async def turn_page(
        query: CallbackQuery,
        callback_data: HistoryPage,
        session: AsyncSession,
        staff: Staff,
        locale: str,
        config: AppConfig,
    ) -> None:
        allowed = await may_annotate(session, callback_data.lead_id, staff)
        if not allowed.ok:
            await refuse(query, allowed, locale)
            return
        text, keyboard = await _history_page(
            session, callback_data.lead_id, callback_data.page, config, locale
        )
        await query.answer()
        message = card_message(query)
        if message is not None and message.html_text != text:
            await message.edit_text(text, reply_markup=keyboard)

    return router
