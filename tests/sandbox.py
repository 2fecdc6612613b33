"""Helpers for the sandbox tests: a running sandbox on a test database with a movable clock,
and what the emulator holds per chat, in the shape the page shows it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.common.clock import JumpingClock, ManualClock
from bot.config import Settings
from bot.devtools.sandbox.runner import Sandbox, SandboxOptions
from tests.conftest import reset_database
from tests.harness import fast_config

ANNA, BORIS, SVETA, ALEX, KATE = 1001, 1002, 1003, 1004, 1005
MANAGERS = (ANNA, BORIS)


@asynccontextmanager
async def running_sandbox(database_url: str, language: str = "en") -> AsyncIterator[Sandbox]:
    """The sandbox as `leadbot sandbox` starts it, on a free port, everyone greeted."""
    await reset_database(database_url)
    clock = JumpingClock(ManualClock())
    options = SandboxOptions(port=0, database_url=database_url, language=language)
    sandbox = Sandbox(Settings(_env_file=None), fast_config(), options, clock)  # type: ignore[call-arg]
    await sandbox.start()
    try:
        chats = [person.telegram_id for person in sandbox.people]
        # each person's /start is answered: two messages in every chat
        await sandbox.emulator.wait_for(
            lambda: all(len(sandbox.emulator.chat_history(chat)) >= 2 for chat in chats)
        )
        yield sandbox
    finally:
        await sandbox.stop()


def recorded_chat(sandbox: Sandbox, chat_id: int) -> list[dict[str, Any]]:
    """What Telegram (the emulator) holds in a chat: id, text as seen, inline button labels."""
    shown = []
    for message in sandbox.emulator.chat_history(chat_id):
        markup = message.get("reply_markup") or {}
        shown.append(
            {
                "id": message["message_id"],
                "text": message.get("text", message.get("caption", "")),
                "buttons": [b["text"] for row in markup.get("inline_keyboard", []) for b in row],
            }
        )
    return shown


def card_text(sandbox: Sandbox, chat_id: int, lead_id: int) -> str:
    """The text of the lead's card in a chat ('' while there is none)."""
    for message in sandbox.emulator.chat_messages(chat_id):
        if message.text.startswith((f"Lead #{lead_id} ", f"Лид #{lead_id} ")):
            return message.text
    return ""
