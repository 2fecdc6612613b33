"""Webhook mode: pending updates are POSTed to the bot one at a time, in order."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

import aiohttp

from bot.devtools.emulator.errors import bad_request
from bot.devtools.emulator.state import EmulatorState

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
RETRY_DELAY = 0.2  # Telegram retries a failed delivery later; tests need it soon


def check_webhook_url(url: str) -> None:
    """Telegram demands HTTPS; plain HTTP is allowed here for a bot on this machine only."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return
    raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")


class WebhookSender:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.secret_token: str | None = None
        self._task: asyncio.Task[None] | None = None

    def ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._deliver())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _deliver(self) -> None:
        async with aiohttp.ClientSession() as http:
            while self.state.webhook_url:
                updates = self.state.deliverable_updates(1)
                if not updates:
                    await self.state.update_arrived.wait()
                    continue
                if await self._post(http, updates[0]):
                    self.state.updates.remove(updates[0])
                    self.state.state_changed()
                else:
                    await asyncio.sleep(RETRY_DELAY)

    async def _post(self, http: aiohttp.ClientSession, update: dict[str, object]) -> bool:
        headers = {}
        if self.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.secret_token
        try:
            async with http.post(self.state.webhook_url, json=update, headers=headers) as answer:
                return 200 <= answer.status < 300
        except aiohttp.ClientError:
            return False
