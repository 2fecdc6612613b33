"""Dialogues nobody finishes: one left without an answer for `[dialogues] abandon_after` is
closed politely, and nothing about its lead changes.

Every dialogue keeps `touched_at` (ISO time by the application's clock) in its FSM data. The
middleware stamps it with the arrival time of each update from someone in a dialogue (after
the update is handled: a handler may replace the data), and closes a dialogue found stale
before the update is handled, so a late answer is handled as if no dialogue were open.
`close_abandoned` is the periodic sweep that tells people who never write again; it walks the
storage's keys (MemoryStorage's dict, or SCAN on Redis) under the same per-chat lock the
dispatcher takes for an update, so a sweep and an answer never interleave.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import datetime, timedelta
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import (
    DEFAULT_DESTINY,
    BaseEventIsolation,
    BaseStorage,
    DefaultKeyBuilder,
    StorageKey,
)
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import TelegramObject

from bot.common.clock import Clock
from bot.common.render import render
from handlers.errors import unchanged_or_gone

log = logging.getLogger("leadbot.dialogues")

TOUCHED = "touched_at"
LocaleOf = Callable[[int], Awaitable[str]]


def is_abandoned(data: dict[str, Any], now: datetime, abandon_after: timedelta) -> bool:
    """A dialogue not touched for `abandon_after`. One never stamped (opened by an older
    version, or mid-update) is not: the next update or sweep stamps it."""
    touched = data.get(TOUCHED)
    if not isinstance(touched, str):
        return False
    try:
        return now - datetime.fromisoformat(touched) >= abandon_after
    except ValueError:  # unreadable stamp: treat as old rather than keep it open forever
        return True


def abandoned_text(data: dict[str, Any], abandon_after: timedelta, locale: str) -> str:
    minutes = max(1, int(abandon_after.total_seconds() // 60))
    return render(
        "dialogue_abandoned.html.j2", locale, lead_id=data.get("lead_id"), minutes=minutes
    )


async def _tell(
    bot: Bot, key: StorageKey, data: dict[str, Any], abandon_after: timedelta, locale: str
) -> None:
    """The dialogue's open question (a Qualify step) loses its buttons; the person is told."""
    prompt_id = data.get("prompt_id")
    if isinstance(prompt_id, int):
        with unchanged_or_gone():  # already gone or without buttons
            await bot.edit_message_reply_markup(
                chat_id=key.chat_id, message_id=prompt_id, reply_markup=None
            )
    await bot.send_message(
        key.chat_id, abandoned_text(data, abandon_after, locale), message_thread_id=key.thread_id
    )


ABANDONED_NOW = "dialogue_abandoned_now"  # in the update's data: this update closed a dialogue


class DialogueTimeoutMiddleware(BaseMiddleware):
    """Outer middleware for messages and button presses (after StaffMiddleware: it needs the
    reader's `locale`): close a stale dialogue before the update is handled; stamp an open
    one after."""

    def __init__(self, abandon_after: timedelta, clock: Clock) -> None:
        self._abandon_after = abandon_after
        self._clock = clock

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        state: FSMContext | None = data.get("state")
        if state is None:
            return await handler(event, data)
        arrived = self._clock.now()  # the person's last word: not when its handling ended
        if data.get("raw_state") is not None:
            fsm_data = await state.get_data()
            if is_abandoned(fsm_data, arrived, self._abandon_after):
                await state.clear()
                data["raw_state"] = None  # what StateFilter reads: the update sees no dialogue
                data[ABANDONED_NOW] = True  # told so below: no help on top of it
                log.info(
                    "dialogue abandoned lead=%s chat=%s (closed on a late update)",
                    fsm_data.get("lead_id"),
                    state.key.chat_id,
                )
                try:
                    await _tell(
                        data["bot"],
                        state.key,
                        fsm_data,
                        self._abandon_after,
                        data.get("locale", "ru"),
                    )
                except TelegramAPIError as exc:  # the late update is still handled
                    log.warning(
                        "could not tell chat=%s its dialogue was closed: %s", state.key.chat_id, exc
                    )
        result = await handler(event, data)
        if await state.get_state() is not None:
            await state.update_data({TOUCHED: arrived.isoformat()})
        return result


async def dialogue_keys(storage: BaseStorage, bot_id: int) -> AsyncIterator[StorageKey]:
    """Every key of `bot_id` that may hold a dialogue (one with a state)."""
    if isinstance(storage, MemoryStorage):
        for key, record in list(storage.storage.items()):
            if key.bot_id == bot_id and record.state is not None:
                yield key
        return
    if isinstance(storage, RedisStorage):
        builder = storage.key_builder
        if not isinstance(builder, DefaultKeyBuilder) or builder.with_business_connection_id:
            raise TypeError("close_abandoned reads keys of a plain DefaultKeyBuilder only")
        sep = builder.separator
        head = [builder.prefix, *([str(bot_id)] if builder.with_bot_id else [])]
        async for raw in storage.redis.scan_iter(match=sep.join([*head, "*", "state"]), count=500):
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            key = _parse_redis_key(name.split(sep)[len(head) : -1], bot_id, builder.with_destiny)
            if key is not None:
                yield key
        return
    raise TypeError(f"close_abandoned cannot list the keys of {type(storage).__name__}")


def _parse_redis_key(parts: list[str], bot_id: int, with_destiny: bool) -> StorageKey | None:
    """`chat:user` or `chat:thread:user` (plus `:destiny`), as DefaultKeyBuilder wrote it."""
    destiny = parts.pop() if with_destiny and parts else DEFAULT_DESTINY
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        return None
    if len(numbers) == 2:
        return StorageKey(bot_id=bot_id, chat_id=numbers[0], user_id=numbers[1], destiny=destiny)
    if len(numbers) == 3:
        return StorageKey(
            bot_id=bot_id,
            chat_id=numbers[0],
            thread_id=numbers[1],
            user_id=numbers[2],
            destiny=destiny,
        )
    return None


async def close_abandoned(
    storage: BaseStorage,
    bot: Bot,
    now: datetime,
    abandon_after: timedelta,
    locale_of: LocaleOf,
    isolation: BaseEventIsolation | None = None,
) -> int:
    """Close every dialogue untouched for `abandon_after` and tell its person (in their
    language, `locale_of(user_id)`); the number closed. `isolation` is the dispatcher's: with
    it, an update being handled for that chat is waited for, never cut in on."""
    closed = 0
    async for key in dialogue_keys(storage, bot.id):
        lock: AbstractAsyncContextManager[Any] = isolation.lock(key) if isolation else nullcontext()
        async with lock:
            if await storage.get_state(key) is None:  # finished meanwhile
                continue
            data = await storage.get_data(key)
            if TOUCHED not in data:  # opened before stamps existed: the clock starts now
                await storage.update_data(key, {TOUCHED: now.isoformat()})
                continue
            if not is_abandoned(data, now, abandon_after):
                continue
            await storage.set_state(key, None)
            await storage.set_data(key, {})
        closed += 1
        log.info(
            "dialogue abandoned lead=%s chat=%s (closed by the sweep)",
            data.get("lead_id"),
            key.chat_id,
        )
        try:
            await _tell(bot, key, data, abandon_after, await locale_of(key.user_id))
        except Exception as exc:  # blocked the bot, Telegram or the database down: still closed
            log.warning("could not tell chat=%s its dialogue was closed: %s", key.chat_id, exc)
    return closed
