"""The sandbox: the real application, an emulated Telegram on loopback, and the page's hands.

One process serves the Bot API emulator and the page on one port; `leadbot`'s own HTTP server
(the intake) runs beside it exactly as under `leadbot run`. Nothing inside leadbot is mocked:
the page acts as the people in the chats through the emulator, and a web form posts to the
real intake.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from pydantic import SecretStr

from bot.app import Application, build_application
from bot.common.clock import JumpingClock, next_morning
from bot.config import AppConfig, Settings
from bot.devtools.emulator import TelegramEmulator
from bot.devtools.sandbox.errors import SandboxError
from bot.devtools.sandbox.people import DemoPerson, demo_people, seed_demo_staff
from bot.devtools.sandbox.view import chat_view, page_events, reply_target
from bot.devtools.sandbox.web import add_sandbox_routes

BOT_TOKEN = "1000000001:sandbox-token-of-the-emulated-telegram"
BOT_USERNAME = "leadbot_sandbox_bot"
INTAKE_TOKEN = "sandbox"
TEXT_LIMIT = 4096  # what a Telegram client lets a person send in one message
CAPTION_LIMIT = 1024  # and under a photo
JUMPS = {"10m": timedelta(minutes=10), "1h": timedelta(hours=1)}


@dataclass(frozen=True)
class SandboxOptions:
    port: int = 8081
    http_port: int = 0  # leadbot's own HTTP server (the intake); 0: any free port
    database_url: str | None = None  # None: a fresh SQLite file, deleted on stop
    language: str = "en"


class PageStreams:
    """Every open page's queue of events; None tells a page's stream to end."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any] | None]] = set()

    def open(self) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._queues.add(queue)
        return queue

    def close(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        self._queues.discard(queue)

    def publish(self, event: dict[str, Any]) -> None:
        for queue in self._queues:
            queue.put_nowait(event)

    def end_all(self) -> None:
        for queue in self._queues:
            queue.put_nowait(None)


class Sandbox:
    def __init__(
        self,
        settings: Settings,
        config: AppConfig,
        options: SandboxOptions,
        clock: JumpingClock | None = None,
    ) -> None:
        self.options = options
        self.config = config
        self.clock = clock or JumpingClock()
        self.zone = ZoneInfo(config.timezone)
        self.people = demo_people(options.language)
        self.streams = PageStreams()
        self.emulator = TelegramEmulator(
            BOT_TOKEN, BOT_USERNAME, bot_first_name="leadbot", clock=self.clock.timestamp
        )
        for person in self.people:
            self.emulator.add_user(person.telegram_id, person.name, person.language)
        self._settings = settings
        self._temp_dir: Path | None = None
        self._app: Application | None = None
        self._http: aiohttp.ClientSession | None = None
        self._forwarder: asyncio.Task[None] | None = None
        self._ready = False  # the page may ask before the application has started

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        database_url = self.options.database_url
        if database_url is None:
            self._temp_dir = Path(tempfile.mkdtemp(prefix="leadbot-sandbox-"))
            database_url = f"sqlite+aiosqlite:///{self._temp_dir / 'sandbox.db'}"
        self._forwarder = asyncio.create_task(self._forward_emulator_events())
        await self.emulator.start(
            "127.0.0.1", self.options.port, extend=lambda web_app: add_sandbox_routes(web_app, self)
        )
        settings = self._settings.model_copy(
            update={
                "bot_token": SecretStr(BOT_TOKEN),
                "telegram_api_base": self.emulator.base_url,
                "telegram_webhook_url": None,
                "database_url": database_url,
                "http_host": "127.0.0.1",
                "http_port": self.options.http_port,
                "intake_token": SecretStr(INTAKE_TOKEN),
                "admin_ids": [],
                "leads_chat_id": None,
            }
        )
        self._app = build_application(settings, self.config, self.clock)
        await self._app.start()
        async with self._app.sessions() as session:
            await seed_demo_staff(session, self.people, self.clock.now())
        self._http = aiohttp.ClientSession()
        self._ready = True
        # everyone opens the bot, as each person must in Telegram before it may write to them
        for person in self.people:
            self.emulator.send_text(person.telegram_id, "/start")

    async def stop(self) -> None:
        self._ready = False
        self.streams.end_all()
        if self._app is not None:
            await self._app.stop()
        if self._http is not None:
            await self._http.close()
        await self.emulator.stop()
        if self._forwarder is not None:
            self._forwarder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._forwarder
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)

    @property
    def page_url(self) -> str:
        return f"{self.emulator.base_url}/"

    @property
    def intake_url(self) -> str:
        return f"http://127.0.0.1:{self.app.http_port}/api/v1/leads"

    @property
    def app(self) -> Application:
        if self._app is None or not self._ready:
            raise SandboxError(503, "the sandbox is starting")
        return self._app

    async def _forward_emulator_events(self) -> None:
        changes = self.emulator.subscribe()
        try:
            while True:
                change = await changes.get()
                for event in page_events(self.emulator.state, change):
                    self.streams.publish(event)
        finally:
            self.emulator.unsubscribe(changes)

    # --- what the page shows -----------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        state = self.emulator.state
        return {
            "people": [_person_view(person) for person in self.people],
            "chats": {str(p.telegram_id): chat_view(state, p.telegram_id) for p in self.people},
            "clock": self.clock_view(),
            "bot": {"username": BOT_USERNAME},
            "intake": {"url": self.intake_url if self._ready else None},
        }

    def clock_view(self) -> dict[str, Any]:
        return {"now": self.clock.now().isoformat(), "zone": self.config.timezone}

    # --- what the people do ------------------------------------------------------------

    def _person(self, chat_id: int) -> DemoPerson:
        person = next((p for p in self.people if p.telegram_id == chat_id), None)
        if person is None:
            raise SandboxError(404, f"no one on the page has chat {chat_id}")
        return person

    def write(self, chat_id: int, text: str, reply_to: int | None = None) -> dict[str, Any]:
        """The person types `text` in their chat with the bot (a reply if `reply_to`)."""
        person = self._person(chat_id)
        if not text.strip():
            raise SandboxError(400, "a message needs some text")
        if len(text.encode("utf-16-le")) // 2 > TEXT_LIMIT:
            raise SandboxError(400, f"a message holds at most {TEXT_LIMIT} characters")
        return self.emulator.send_text(person.telegram_id, text, **self._reply(chat_id, reply_to))

    def send_photo(
        self, chat_id: int, caption: str | None, reply_to: int | None = None
    ) -> dict[str, Any]:
        """The person sends a photo (a sample picture; the emulator keeps no file contents)."""
        person = self._person(chat_id)
        if caption is not None and len(caption.encode("utf-16-le")) // 2 > CAPTION_LIMIT:
            raise SandboxError(400, f"a caption holds at most {CAPTION_LIMIT} characters")
        return self.emulator.send_media(
            person.telegram_id, "photo", caption, **self._reply(chat_id, reply_to)
        )

    def _reply(self, chat_id: int, reply_to: int | None) -> dict[str, Any]:
        if reply_to is None:
            return {}
        target = reply_target(self.emulator.state, chat_id, reply_to)
        if target is None:
            raise SandboxError(404, f"no message {reply_to} in this chat to reply to")
        return {"reply_to_message": target}

    def share_contact(self, chat_id: int) -> dict[str, Any]:
        person = self._person(chat_id)
        return self.emulator.send_contact(person.telegram_id, person.phone)

    def press(self, chat_id: int, message_id: int, data: str) -> str:
        """The person presses an inline button; the answer (an alert, maybe) comes as an event."""
        person = self._person(chat_id)
        if self.emulator.message(chat_id, message_id) is None:
            raise SandboxError(404, f"no message {message_id} from the bot in this chat")
        return self.emulator.press_button(person.telegram_id, chat_id, message_id, data)

    async def submit_web_form(self, fields: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A website posts its form to leadbot's real intake, as a site's backend would."""
        url = self.intake_url  # refuses while the application is starting
        assert self._http is not None
        headers = {"Authorization": f"Bearer {INTAKE_TOKEN}"}
        try:
            async with self._http.post(url, json=fields, headers=headers) as response:
                text = await response.text()
                status = response.status
        except aiohttp.ClientError as exc:
            raise SandboxError(502, f"leadbot's intake did not answer: {exc}") from exc
        try:
            answer = json.loads(text)
        except ValueError:
            answer = {"error": text[:500]}
        return status, answer if isinstance(answer, dict) else {"answer": answer}

    def jump(self, step: str) -> datetime:
        """Move the application's time forward: "10m", "1h" or "morning" (the next 09:00)."""
        if step == "morning":
            moment = self.clock.jump_to(
                next_morning(self.clock.now(), self.zone, self.config.working_hours.opens)
            )
        elif step in JUMPS:
            moment = self.clock.jump(JUMPS[step])
        else:
            raise SandboxError(400, f"unknown jump {step!r}: use one of 10m, 1h, morning")
        self.app.clock_moved()
        self.streams.publish({"type": "clock", **self.clock_view()})
        return moment


def _person_view(person: DemoPerson) -> dict[str, Any]:
    return {
        "id": person.telegram_id,
        "name": person.name,
        "role": person.role.value if person.role else "client",
        "phone": person.phone,
    }
