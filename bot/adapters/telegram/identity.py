"""The bot's own username, for the links it hands out (`t.me/<username>?start=...`)."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot

log = logging.getLogger("leadbot.telegram")


async def bot_username(bot: Bot, configured: str | None = None, within: float = 5.0) -> str | None:
    """BOT_USERNAME when set; else Telegram's getMe (aiogram keeps the answer after the first
    call). None when Telegram does not answer in time: the caller goes on without a link."""
    if configured:
        return configured.lstrip("@")
    try:
        me = await asyncio.wait_for(bot.me(), within)
    except Exception as exc:  # an outage must not fail an intake
        log.warning("bot username unknown: %s", type(exc).__name__)
        return None
    return me.username
