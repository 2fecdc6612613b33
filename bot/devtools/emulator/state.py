"""Everything one emulated Telegram remembers: users, chats, messages, updates, requests.

Objects here are shaped as the Bot API shapes them, so the JSON the bot receives is built
from the same records the tests inspect.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class EmulatedUser:
    id: int
    first_name: str
    language_code: str | None = "en"
    username: str | None = None
    last_name: str | None = None
    blocked_bot: bool = False

    def as_user(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def as_chat(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat


@dataclass
class EmulatedGroup:
    id: int
    title: str
    type: str = "supergroup"
    bot_removed: bool = False

    def as_chat(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "title": self.title}


@dataclass(frozen=True)
class BotMessage:
    """A message the bot sent, as it is now; every edit makes a new version."""

    message_id: int
    chat_id: int
    text: str  # what the user sees: entities parsed out
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    edit_count: int = 0
    entities: tuple[dict[str, Any], ...] = ()
    source_text: str = ""  # exactly as the bot sent it (e.g. with HTML tags)
    date: int = 0
    edit_date: int | None = None
    history: tuple[BotMessage, ...] = ()  # earlier versions, oldest first
    kind: str = "text"  # or the method that sent it, e.g. "sendPhoto"; `text` is its caption

    def edited(self, at: int, **changes: Any) -> BotMessage:
        previous = dataclasses.replace(self, history=())
        return dataclasses.replace(
            self,
            **changes,
            edit_count=self.edit_count + 1,
            edit_date=at,
            history=(*self.history, previous),
        )


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    params: dict[str, Any]
    status: int
    response: dict[str, Any]
    at: float  # time.monotonic() when the request arrived

    def summary(self) -> str:
        shown = {k: v for k, v in self.params.items() if k in ("chat_id", "message_id", "text")}
        text = str(shown)
        text = text if len(text) <= 120 else text[:117] + "..."
        outcome = "ok" if self.status == 200 else self.response.get("description", "")
        return f"{self.method} -> {self.status} {outcome} {text}"


@dataclass
class ChatLog:
    """Message ids are per chat and shared by both sides, as in a private chat with a bot."""

    last_message_id: int = 0
    bot_messages: dict[int, BotMessage] = field(default_factory=dict)
    user_messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    deleted: dict[int, BotMessage | dict[str, Any]] = field(default_factory=dict)

    def next_id(self) -> int:
        self.last_message_id += 1
        return self.last_message_id


class Signal:
    """Wakes everyone waiting at the moment it fires; no polling, no lost wake-ups."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self) -> None:
        await self._event.wait()


class Observers:
    """Queues of state-change events for a live view (the sandbox page)."""

    def __init__(self) -> None:
        self._queues: list[asyncio.Queue[dict[str, Any]]] = []

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._queues.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        if queue in self._queues:
            self._queues.remove(queue)

    def publish(self, event: dict[str, Any]) -> None:
        for queue in self._queues:
            queue.put_nowait(event)


def update_type(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


@dataclass(frozen=True)
class UserFile:
    """A file a user sent (a document): its bytes, and the path getFile hands out."""

    file_id: str
    file_unique_id: str
    file_path: str  # documents/file_3.csv, as Telegram names them
    content: bytes

    def as_file(self) -> dict[str, Any]:
        """The File object getFile answers."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
            "file_path": self.file_path,
        }


@dataclass
class EmulatorState:
    bot_id: int
    bot_first_name: str
    bot_username: str
    users: dict[int, EmulatedUser] = field(default_factory=dict)
    groups: dict[int, EmulatedGroup] = field(default_factory=dict)
    chats: dict[int, ChatLog] = field(default_factory=dict)
    updates: list[dict[str, Any]] = field(default_factory=list)
    last_update_id: int = 0
    allowed_updates: list[str] | None = None
    webhook_url: str = ""
    callback_queries: dict[str, dict[str, Any]] = field(default_factory=dict)
    callback_answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    commands: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    # the files the bot uploaded (multipart parts), in order: (file name, bytes)
    uploads: list[tuple[str, bytes]] = field(default_factory=list)
    # the files users sent, by file_id: what getFile describes and /file/bot<token>/ serves
    files: dict[str, UserFile] = field(default_factory=dict)
    changed: Signal = field(default_factory=Signal)
    update_arrived: Signal = field(default_factory=Signal)
    observers: Observers = field(default_factory=Observers)
    # Telegram's clock, for message dates: the sandbox moves it with the application's
    clock: Callable[[], float] = time.time

    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def timestamp(self) -> int:
        """Unix time as Telegram stamps messages."""
        return int(self.clock())

    def chat_json(self, chat_id: int) -> dict[str, Any] | None:
        if chat_id in self.users:
            return self.users[chat_id].as_chat()
        if chat_id in self.groups:
            return self.groups[chat_id].as_chat()
        return None

    def log(self, chat_id: int) -> ChatLog:
        return self.chats.setdefault(chat_id, ChatLog())

    def message_json(self, message: BotMessage) -> dict[str, Any]:
        """The Message object Telegram returns for a bot's message, as it is now."""
        body: dict[str, Any] = {
            "message_id": message.message_id,
            "from": self.bot_user(),
            "chat": self.chat_json(message.chat_id),
            "date": message.date,
        }
        if message.edit_date is not None:
            body["edit_date"] = message.edit_date
        if message.kind == "text":
            body["text"] = message.text
            if message.entities:
                body["entities"] = list(message.entities)
        elif message.text:
            body["caption"] = message.text
            if message.entities:
                body["caption_entities"] = list(message.entities)
        # only an inline keyboard belongs to the message; reply keyboards belong to the chat
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            body["reply_markup"] = message.reply_markup
        return body

    def state_changed(self, event: dict[str, Any] | None = None) -> None:
        if event is not None:
            self.observers.publish(event)
        self.changed.fire()

    def enqueue_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.last_update_id += 1
        update = {"update_id": self.last_update_id, kind: payload}
        self.updates.append(update)
        self.update_arrived.fire()
        return update

    def confirm_updates(self, offset: int) -> None:
        """getUpdates' offset confirms everything before it; a negative one keeps the last -N."""
        if offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]

    def deliverable_updates(self, limit: int) -> list[dict[str, Any]]:
        """Updates of types the bot did not ask for are dropped, as Telegram drops them."""
        if self.allowed_updates:
            allowed = set(self.allowed_updates)
            self.updates = [u for u in self.updates if update_type(u) in allowed]
        return self.updates[:limit]
