"""Every press is answered: a button never just spins.

`EveryPressAnswered` is the outermost middleware on button presses. When the handling fails
(a bug, the database, Telegram refusing an edit after its retries) and the press has not been
answered yet, the presser gets a short alert ("something went wrong, try again") and the log a
line with the stack; a handler that returned without answering has its press answered
without words. Handlers' own answers (refusals, confirmations) are kept as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from aiogram.types import CallbackQuery, TelegramObject

from bot.adapters.telegram.gate import accepted_calls
from bot.common.render import render_alert
from handlers.middlewares import locale_of

log = logging.getLogger("leadbot.presses")


def _answered(calls: list[TelegramMethod[Any]], query: CallbackQuery) -> bool:
    return any(
        isinstance(call, AnswerCallbackQuery) and call.callback_query_id == query.id
        for call in calls
    )


class EveryPressAnswered(BaseMiddleware):
    def __init__(self, default_locale: str) -> None:
        self._default_locale = default_locale

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, CallbackQuery):
            return await handler(event, data)
        with accepted_calls() as calls:
            try:
                result = await handler(event, data)
            except Exception:
                log.exception(
                    "press failed user=%s data=%r", event.from_user.id, (event.data or "")[:64]
                )
                if not _answered(calls, event):
                    # the staff middleware may not have got as far as the presser's language
                    locale = data.get("locale") or locale_of(
                        None, event.from_user, self._default_locale
                    )
                    await self._answer(event, render_alert("press_failed", locale), alert=True)
                return None
            if not _answered(calls, event):
                await self._answer(event, None, alert=False)
            return result

    @staticmethod
    async def _answer(query: CallbackQuery, text: str | None, alert: bool) -> None:
        try:
            await query.answer(text, show_alert=alert)
        except Exception as exc:  # Telegram unreachable for longer than the gate tries
            log.warning("press left unanswered user=%s error=%s", query.from_user.id, exc)
