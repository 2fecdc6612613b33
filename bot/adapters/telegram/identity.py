"""The bot's own username, for the links it hands out (`t.me/<username>?start=...`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiogram import Bot

from bot.adapters.telegram.gate import one_attempt

log = logging.getLogger("leadbot.telegram")


class BotUsername:
    """BOT_USERNAME when set; else Telegram's getMe, asked once and kept. An intake never waits
    on Telegram for it more than `patience`: while Telegram is slow or down the answer goes
    without a link (None); a failed getMe is asked again only after `pause` (an outage is
    not hammered, nor mistaken by the outage probe for its own question)."""

    def __init__(
        self,
        bot: Bot,
        configured: str | None = None,
        patience: float = 0.25,
        pause: float = 60.0,
    ) -> None:
        self._bot = bot
        self._name = configured.lstrip("@") if configured else None
        self._patience = patience
        self._pause = pause
        self._asking: asyncio.Task[None] | None = None
        self._failed_at: float | None = None

    async def __call__(self) -> str | None:
        if self._name is not None:
            return self._name
        resting = self._failed_at is not None and time.monotonic() - self._failed_at < self._pause
        if (self._asking is None or self._asking.done()) and not resting:
            self._asking = asyncio.create_task(self._ask())
        if self._asking is not None and not self._asking.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._asking), self._patience)
        return self._name

    async def _ask(self) -> None:
        try:
            with one_attempt():  # never the gate's retries: asked again after the pause
                self._name = (await self._bot.get_me()).username
        except Exception as exc:  # an outage must not fail an intake
            self._failed_at = time.monotonic()
            log.warning("bot username unknown: %s", type(exc).__name__)
