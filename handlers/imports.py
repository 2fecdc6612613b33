"""Importing leads from a file, in the chat: a supervisor or admin sends a .csv or .xlsx as a
document; the bot answers with what it found and what importing would do, and buttons (skip,
attach or update the people we already know; cancel). A manager who sends one is told the
import is for supervisors; `/import` says how. Every press is authorised again: the role as it
is now, and the file must be the presser's own. The work itself is the ImportDesk's
(handlers/import_desk.py), in the background."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.types import CallbackQuery, Message

from bot.common.lifecycle import SUPERVISING
from bot.common.render import render, render_alert
from bot.intake.imports.reading import is_table_name
from bot.intake.imports.store import Policy
from handlers.filters import HasRole, IsStaff
from handlers.import_desk import ImportDesk
from handlers.keyboards.imports import ImportChoice, ImportDo
from storage.models import Staff

# a document sent on its own (not a reply: that answers a client), named as a table
TABLE = (
    F.document
    & F.reply_to_message.is_(None)
    & F.document.file_name.func(lambda name: bool(name) and is_table_name(name))
)


def imports_router() -> Router:
    router = Router(name="imports")
    router.message.filter(IsStaff(), F.chat.type == "private")
    router.callback_query.filter(IsStaff())

    @router.message(Command("import"), HasRole(SUPERVISING))
    async def usage(message: Message, locale: str) -> None:
        await message.answer(render("import_usage.html.j2", locale))

    @router.message(Command("import"))
    async def usage_refused(message: Message, locale: str) -> None:
        await message.answer(render("import_refused.html.j2", locale))

    # outside a dialogue only: a file sent while answering a question is the question's
    @router.message(TABLE, StateFilter(None), HasRole(SUPERVISING))
    async def file_sent(
        message: Message, bot: Bot, staff: Staff, locale: str, import_desk: ImportDesk
    ) -> None:
        assert message.document is not None
        await import_desk.receive(bot, message.chat.id, staff.id, locale, message.document)

    @router.message(TABLE, StateFilter(None))
    async def file_refused(message: Message, locale: str) -> None:
        await message.answer(render("import_refused.html.j2", locale))

    @router.callback_query(ImportChoice.filter(), HasRole(SUPERVISING))
    async def chosen(
        query: CallbackQuery,
        callback_data: ImportChoice,
        bot: Bot,
        staff: Staff,
        locale: str,
        import_desk: ImportDesk,
    ) -> None:
        pending = import_desk.claim(callback_data.token, staff.id)
        if pending is None:
            await query.answer(render_alert("import_expired", locale), show_alert=True)
            return
        await query.answer()
        if callback_data.do is ImportDo.CANCEL:
            await import_desk.cancel(bot, pending)
            return
        await import_desk.start(bot, pending, Policy(callback_data.do.value))

    @router.callback_query(ImportChoice.filter())
    async def chosen_refused(query: CallbackQuery, locale: str) -> None:
        await query.answer(render_alert("import_refused", locale), show_alert=True)

    return router
