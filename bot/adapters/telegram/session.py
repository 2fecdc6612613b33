"""The HTTP session leadbot reaches the Bot API with."""

from __future__ import annotations

from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer


class BotApiSession(AiohttpSession):
    """aiogram's session, without its 250 ms pause on close when the Bot API is reached over
    plain HTTP (a local Bot API server, the emulator): the pause lets TLS connections wind
    down, and there are none. Every stop of the sandbox and of each end-to-end test paid it."""

    def __init__(self, base: str) -> None:
        super().__init__(api=TelegramAPIServer.from_base(base))
        self._plain_http = base.startswith("http://")

    async def close(self) -> None:
        if self._plain_http:
            if self._session is not None and not self._session.closed:
                await self._session.close()
            return
        await super().close()
