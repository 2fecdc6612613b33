"""/channel LEAD CHANNEL (staff): how a lead's client wants to be reached (telegram, phone,
email, or auto: learned from their answers). Follow-ups ([[sequences]]) write in Telegram
only while it is Telegram or not known; otherwise their steps ask the owner to call or
e-mail. The lead's owner or a supervisor may set it (checked in the core)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.render import render
from bot.sequences.channels import choose_channel
from handlers.filters import IsStaff
from storage.models import Staff


def lead_channel_router() -> Router:
    router = Router(name="lead_channel")
    router.message.filter(IsStaff())  # a client's /channel falls through to the fallback

    @router.message(Command("channel"))
    async def channel(
        message: Message, command: CommandObject, session: AsyncSession, staff: Staff, locale: str
    ) -> None:
        parts = (command.args or "").split()
        if len(parts) != 2 or not parts[0].lstrip("#").isdigit() or len(parts[0]) > 9:
            await message.answer(render("channel_usage.html.j2", locale))
            return
        lead_id = int(parts[0].lstrip("#"))
        choice = await choose_channel(session, lead_id, staff, parts[1])
        await message.answer(
            render(
                "channel_set.html.j2",
                locale,
                lead_id=lead_id,
                refusal=choice.refusal.value if choice.refusal else None,
                channel=choice.channel.value if choice.channel else None,
            )
        )

    return router
