"""The one path to the Bot API: every call leadbot makes (the notifier's, the handlers', the
jobs') goes through `TelegramGate`, a request middleware on the Bot's session.

It books each message a chat receives (sends, edits, copies) in the one `SendLimits` of the
process, so a handler's edit waits for its turn behind the notifier's cards instead of being
answered 429; a 429 holds the senders it concerns (one chat, or all) for Telegram's
`retry_after` and slows their pace to what Telegram really allows; a 5xx, a network error
or an undecodable answer is tried again with a growing pause. A call keeps trying for at most
`within` seconds (a handler must not hang), then fails as Telegram answered it. A caller that
retries by itself (the notifier: its rows wait in the outbox) asks for one attempt. Every
request (each attempt, polling's too) is counted by method and result for /metrics.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramEntityTooLarge,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType

from bot.adapters.telegram.limits import SendLimits
from bot.common.metrics import CLIENT_ERROR, FLOOD, NETWORK, OK, SERVER_ERROR, Metrics

log = logging.getLogger("leadbot.telegram")

# Calls that put a message in a chat: Telegram's per-chat and bot-wide limits count these.
_NOT_MESSAGES = frozenset({"sendChatAction", "sendGift", "sendInvoice"})
_CHAT_MESSAGES = frozenset(
    {
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
        "editMessageMedia",
        "copyMessage",
        "forwardMessage",
    }
)

_one_attempt: ContextVar[bool] = ContextVar("leadbot_one_attempt", default=False)
_accepted: ContextVar[list[TelegramMethod[Any]] | None] = ContextVar(
    "leadbot_accepted", default=None
)


@contextmanager
def one_attempt() -> Iterator[None]:
    """Calls made inside are paced but tried once: the caller retries them by itself."""
    token = _one_attempt.set(True)
    try:
        yield
    finally:
        _one_attempt.reset(token)


@contextmanager
def accepted_calls() -> Iterator[list[TelegramMethod[Any]]]:
    """The calls Telegram accepted while inside (e.g. whether a press was answered)."""
    calls: list[TelegramMethod[Any]] = []
    token = _accepted.set(calls)
    try:
        yield calls
    finally:
        _accepted.reset(token)


def paced_chat(method: TelegramMethod[Any]) -> int | None:
    """The chat whose message limits this call counts against, if any."""
    name = method.__api_method__
    if name not in _CHAT_MESSAGES and (not name.startswith("send") or name in _NOT_MESSAGES):
        return None
    chat_id = getattr(method, "chat_id", None)
    return chat_id if isinstance(chat_id, int) else None


def _retry_wait(exc: Exception, backoff: float) -> float | None:
    """How long to wait before trying a failed call again; None: do not try again."""
    if isinstance(exc, TelegramRetryAfter):
        return float(exc.retry_after)
    if isinstance(exc, TelegramEntityTooLarge):
        return None
    if isinstance(exc, TelegramServerError | TelegramNetworkError | ClientDecodeError):
        return backoff
    return None


def call_result(exc: Exception) -> str:
    """What a failed call counts as in leadbot_telegram_calls_total."""
    if isinstance(exc, TelegramRetryAfter):
        return FLOOD
    if isinstance(exc, TelegramServerError):
        return SERVER_ERROR
    if isinstance(exc, TelegramNetworkError | ClientDecodeError):
        return NETWORK
    if isinstance(exc, TelegramAPIError):  # 400, 401, 403, 404, 409, 413: refused for good
        return CLIENT_ERROR
    return NETWORK  # e.g. a timeout aiogram did not wrap: nothing came back


class TelegramGate(BaseRequestMiddleware):
    def __init__(
        self,
        limits: SendLimits,
        within: float,
        backoff_base: float,
        backoff_max: float,
        metrics: Metrics | None = None,
    ) -> None:
        self.limits = limits
        self._within = within
        self._base = backoff_base
        self._max = backoff_max
        self._metrics = metrics

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if isinstance(method, GetUpdates):  # polling has its own back-off and long timeouts
            return await self._counted(make_request, bot, method)
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self._within
        chat_id = paced_chat(method)
        backoff = self._base
        while True:
            if chat_id is not None:
                await self._reserve(chat_id)
            try:
                response = await self._counted(make_request, bot, method)
            except Exception as exc:
                if isinstance(exc, TelegramRetryAfter):  # its senders wait, then go slower
                    self.limits.throttled(chat_id, loop.time(), exc.retry_after)
                wait = _retry_wait(exc, backoff)
                if wait is None or _one_attempt.get() or loop.time() + wait > give_up_at:
                    raise
                log.info(
                    "telegram call retried method=%s chat=%s in=%.2fs error=%s",
                    method.__api_method__,
                    chat_id,
                    wait,
                    exc,
                )
                backoff = min(backoff * 2, self._max)
                await asyncio.sleep(wait)
                continue
            if chat_id is not None:
                self.limits.accepted(chat_id, loop.time())
            accepted = _accepted.get()
            if accepted is not None:
                accepted.append(method)
            return response

    async def _counted(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        """One request to Telegram, counted by what it answered (every attempt)."""
        if self._metrics is None:
            return await make_request(bot, method)
        try:
            response = await make_request(bot, method)
        except Exception as exc:
            self._metrics.telegram_call(method.__api_method__, call_result(exc))
            raise
        self._metrics.telegram_call(method.__api_method__, OK)
        return response

    async def _reserve(self, chat_id: int) -> None:
        """Wait for this chat's turn, then for the bot-wide one (booked only then, so a chat
        that must wait never holds up another); a 429 that came meanwhile is waited out and
        the bot-wide turn booked again."""
        loop = asyncio.get_running_loop()
        await _until(loop, self.limits.book_chat(chat_id, loop.time()))
        while True:
            await _until(loop, self.limits.book_global(loop.time()))
            resume = self.limits.resume_at(chat_id)
            if resume <= loop.time():
                return
            await _until(loop, resume)


async def _until(loop: asyncio.AbstractEventLoop, moment: float) -> None:
    if moment > loop.time():
        await asyncio.sleep(moment - loop.time())
