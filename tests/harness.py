"""Helpers for the application's tests: the real application against the emulated Bot API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from sqlalchemy import func, select

from bot.app import Application, build_application
from bot.common.clock import ManualClock
from bot.config import AppConfig, Settings, load_app_config
from bot.devtools.emulator import BotMessage, TelegramEmulator
from storage.db import SessionFactory
from storage.models import HookDelivery, OutboxMessage, OutboxState

TOKEN = "123456789:AAHtest-token-for-the-emulator_0123456789"
INTAKE_TOKEN = "intake-secret-for-tests"
ANNA, BORIS, SVETA, STRANGER = 1001, 1002, 1003, 5000
TEAM_CHAT = -1001234567890
# the owner's buttons on a lead in work
WORKING = [
    "📞 Call back",
    "📝 Qualify",
    "✅ Convert",
    "🚫 Refuse",
    "🗑 Junk",
    "✏️ Note",
    "📜 History",
]

# fast retries so a storm of errors is survived in a fraction of a second
TEST_CONFIG: dict[str, Any] = {"telegram": {"retry_base": "0.05s", "retry_max": "0.3s"}}


# the connectors' and telephony's secrets, set for the HTTP routes' tests
VK_SECRET = "vk-secret-for-tests"
ZADARMA_SECRET = "zd-secret-for-tests"
MANGO_KEY = "8v7lygho7jb61aa7e7gwlqz6horeuqe2"
MANGO_SALT = "sux7mpqilsripo5gbjok484gxb10h6ua"
SECRETS = {
    "vk_secret": VK_SECRET,
    "vk_confirmation_code": "5d7e2f1a",
    "zadarma_api_secret": ZADARMA_SECRET,
    "mango_api_key": MANGO_KEY,
    "mango_api_salt": MANGO_SALT,
}
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"


def fast_config(**overrides: Any) -> AppConfig:
    merged = {**TEST_CONFIG, **overrides}
    return load_app_config(overrides=merged)


def unpaced_config(**overrides: Any) -> AppConfig:
    """Telegram's sending pace lifted, for tests where many messages go to one chat and the
    pace is not what they test (test_e2e_delivery tests it)."""
    unpaced = {"per_chat_per_second": 1000, "per_chat_burst": 1000, "global_per_second": 1000}
    return fast_config(telegram={**TEST_CONFIG["telegram"], **unpaced}, **overrides)


def make_settings(emulator: TelegramEmulator, database_url: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "bot_token": TOKEN,
        "telegram_api_base": emulator.base_url,
        "database_url": database_url,
        "http_host": "127.0.0.1",
        "http_port": 0,
        "intake_token": INTAKE_TOKEN,
    }
    return Settings(_env_file=None, **(values | extra))  # type: ignore[call-arg]


@asynccontextmanager
async def running_app(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    config: AppConfig | None = None,
    **settings: Any,
) -> AsyncIterator[Application]:
    app = build_application(
        make_settings(emulator, database_url, **settings), config or fast_config(), clock
    )
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


async def outbox_sent(sessions: SessionFactory, within: float = 20.0) -> None:
    """Return once no outbox row is pending: everything the application has decided to send
    so far is in Telegram (the emulator), or given up. Then what the rows record (cards,
    events, sent rows) says what came, and that nothing more is on its way: no pause needed."""
    await none_pending(sessions, OutboxMessage, "outbox", within)


async def none_pending(
    sessions: SessionFactory,
    rows: type[OutboxMessage] | type[HookDelivery],
    what: str,
    within: float,
) -> None:
    """Return once no row of `rows` (a queue with a `state`) is pending; fail after `within`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        async with sessions() as session:
            pending = await session.scalar(
                select(func.count()).select_from(rows).where(rows.state == OutboxState.PENDING)
            )
        if not pending:
            return
        if loop.time() > deadline:
            raise AssertionError(f"{pending} {what} row(s) still pending after {within} s")
        await asyncio.sleep(0.02)


async def updates_handled(app: Application, within: float = 10.0) -> None:
    """Return once the application is handling no update: what a press or a message set off
    (a dialogue's state, set once its question is in the chat) is done."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while app.dispatcher._handle_update_tasks:
        if loop.time() > deadline:
            raise AssertionError(f"updates still being handled after {within} s")
        await asyncio.sleep(0.02)


class Intake:
    """A web form posting to the real HTTP intake."""

    def __init__(self, app: Application, http: aiohttp.ClientSession) -> None:
        self.url = f"http://127.0.0.1:{app.http_port}"
        self.http = http

    async def post(
        self, fields: dict[str, Any], token: str | None = INTAKE_TOKEN, **kwargs: Any
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.post(
            f"{self.url}/api/v1/leads", json=fields, headers=headers, **kwargs
        ) as response:
            return response.status, await response.json()


def card_buttons(message: Any) -> list[tuple[str, str]]:
    """(text, callback_data) of every inline button on a message the bot sent."""
    markup = message.reply_markup or {}
    return [
        (button["text"], button.get("callback_data", ""))
        for row in markup.get("inline_keyboard", [])
        for button in row
    ]


def button_data(message: Any, starts_with: str) -> str:
    for _text, data in card_buttons(message):
        if data.startswith(starts_with):
            return data
    raise AssertionError(f"no button {starts_with!r} on {card_buttons(message)}")


class Phone:
    """One person's Telegram as a test drives it: press a button, type, read what came."""

    def __init__(self, emulator: TelegramEmulator, user_id: int) -> None:
        self.emulator = emulator
        self.user_id = user_id

    def messages(self) -> list[BotMessage]:
        return self.emulator.chat_messages(self.user_id)

    def last(self) -> BotMessage:
        return self.messages()[-1]

    def now(self, message: BotMessage) -> BotMessage:
        """The message as it is on the screen now (after edits)."""
        current = self.emulator.message(self.user_id, message.message_id)
        assert current is not None, f"message {message.message_id} is gone"
        return current

    async def press(self, message: BotMessage, starts_with: str) -> dict[str, Any]:
        """Press the button whose data starts with `starts_with` (once it is on the screen: a
        press is answered before its picker is drawn); the answer (alert) shown."""

        def shown() -> bool:
            return any(d.startswith(starts_with) for _, d in card_buttons(self.now(message)))

        with contextlib.suppress(TimeoutError):  # not there: button_data says what is
            await self.emulator.wait_for(shown)
        data = button_data(self.now(message), starts_with)
        return await self.press_data(message, data)

    async def shows_buttons(self, message: BotMessage, texts: list[str]) -> bool:
        """Wait until `message` shows exactly these buttons (a picker drawn after the press
        was answered); fails naming the buttons it shows instead."""
        with contextlib.suppress(TimeoutError):  # not drawn: the assert below shows what is
            await self.emulator.wait_for(lambda: self.button_texts(message) == texts)
        shown = self.button_texts(message)
        assert shown == texts, f"the message shows {shown}, not {texts}"
        return True

    def button_texts(self, message: BotMessage) -> list[str]:
        return [text for text, _ in card_buttons(self.now(message))]

    async def press_data(self, message: BotMessage, data: str) -> dict[str, Any]:
        """Send any callback data, as a modified client could; the answer shown."""
        query = self.emulator.press_button(self.user_id, self.user_id, message.message_id, data)
        await self.emulator.wait_for(lambda: self.emulator.callback_answer(query) is not None)
        answer = self.emulator.callback_answer(query)
        assert answer is not None
        return answer

    async def press_for_reply(
        self, message: BotMessage, starts_with: str, contains: str = ""
    ) -> BotMessage:
        """Press a button that makes the bot write (a question, a page); that new message."""
        before = len(self.messages())
        await self.press(message, starts_with)
        return await self.next_message(before, contains)

    async def write(self, text: str, contains: str = "") -> BotMessage:
        """Type `text`; the bot's next new message in this chat (that contains `contains`:
        cards may arrive in between)."""
        before = len(self.messages())
        self.emulator.send_text(self.user_id, text)
        return await self.next_message(before, contains)

    async def until(self, message: BotMessage, contains: str) -> BotMessage:
        """Wait until `message` (edited in place) shows `contains`."""
        await self.emulator.wait_for(lambda: contains in (self.now(message).text or ""))
        return self.now(message)

    async def next_message(self, after: int, contains: str = "") -> BotMessage:
        """The first new message after `after` messages that contains `contains`."""

        def found() -> BotMessage | None:
            return next((m for m in self.messages()[after:] if contains in (m.text or "")), None)

        await self.emulator.wait_for(found)
        message = found()
        assert message is not None
        return message
