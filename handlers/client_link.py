"""`/start <token>` from a web form's thank-you page (bot/sequences/links.py): the opener
becomes the lead's contact in Telegram. Before the other /start handlers: its token's shape
(`c-` and 24 characters) is no invite's and no campaign tag's."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from bot.common.render import render
from bot.sequences.links import LINK_SHAPE, open_link
from storage.models import Staff


def client_link_router() -> Router:
    router = Router(name="client_link")

    @router.message(
        CommandStart(deep_link=True, magic=F.args.regexp(LINK_SHAPE)), F.chat.type == "private"
    )
    async def opened_link(
        message: Message,
        command: CommandObject,
        session: AsyncSession,
        locale: str,
        clock: Clock,
        staff: Staff | None = None,
    ) -> None:
        user = message.from_user
        if user is None or command.args is None:
            return
        if staff is not None:  # staff testing the form's page: nothing of theirs to link
            await message.answer(render("client_link_refused.html.j2", locale, reason="staff"))
            return
        result = await open_link(session, command.args, user.id, clock.now())
        if result.refusal is not None:
            reason = result.refusal.value
            await message.answer(render("client_link_refused.html.j2", locale, reason=reason))
            return
        await message.answer(render("client_linked.html.j2", locale))

    return router
