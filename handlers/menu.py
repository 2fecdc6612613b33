"""Registers the command menu with Telegram: clients see /start; each staff member gets the
commands of their role, in their language, scoped to their private chat."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from bot.common.render import LOCALES, labels
from bot.team.menus import commands_for
from storage.models import Role, Staff

log = logging.getLogger("leadbot.menu")


def _commands(role: Role | None, locale: str) -> list[BotCommand]:
    described = labels(locale)["commands"]
    return [BotCommand(command=name, description=described[name]) for name in commands_for(role)]


async def publish_default_commands(bot: Bot, default_locale: str) -> None:
    """The menu of everyone who is not staff, in each language and as a fallback."""
    await bot.set_my_commands(_commands(None, default_locale), scope=BotCommandScopeDefault())
    for locale in LOCALES:
        await bot.set_my_commands(
            _commands(None, locale), scope=BotCommandScopeDefault(), language_code=locale
        )


async def publish_staff_commands(bot: Bot, staff: Staff, default_locale: str) -> None:
    """One staff member's menu; a deactivated person's chat falls back to the client menu."""
    scope = BotCommandScopeChat(chat_id=staff.telegram_id)
    if not staff.is_active:
        await bot.delete_my_commands(scope=scope)
        return
    locale = staff.language or default_locale
    await bot.set_my_commands(_commands(Role(staff.role), locale), scope=scope)


async def publish_all(bot: Bot, people: Iterable[Staff], default_locale: str) -> None:
    await publish_default_commands(bot, default_locale)
    for staff in people:
        await publish_staff_commands(bot, staff, default_locale)


async def refresh_menu(bot: Bot, staff: Staff, default_locale: str) -> None:
    """After a role or language change: best effort, a failed menu update is not an error
    the person needs to see (the next start publishes it again)."""
    try:
        await publish_staff_commands(bot, staff, default_locale)
    except TelegramAPIError as exc:
        log.warning("menu not updated staff=%s: %s", staff.id, exc)
