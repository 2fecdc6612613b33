"""An emulated Telegram Bot API server (aiohttp) for tests and the sandbox.

It serves `/bot<token>/<method>` as Telegram does, validates every request against the
official spec (api.json), keeps each chat's messages (with edits), long-polls getUpdates or
posts to a webhook, records every request, and lets a test play the users: write a message,
press a button. Faults (429, 5xx, Telegram down, a user who blocked the bot) and Telegram's
flood limits can be switched on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from bot.emulator.api_spec import SpecError, validate
from bot.emulator.html_rules import EntityParseError, parse_html, utf16_len

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
ALERT_LIMIT = 200
SENDING_METHODS = {
    "sendMessage", "editMessageText", "editMessageReplyMarkup", "editMessageCaption",
    "copyMessage", "forwardMessage", "sendPhoto", "sendDocument", "sendVoice", "sendVideo",
    "sendVideoNote", "sendAudio", "sendContact", "sendLocation",
}  # fmt: skip
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


class TelegramError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.status,
                                "description": self.description}  # fmt: skip
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(description: str) -> TelegramError:
    return TelegramError(400, f"Bad Request: {description}")


@dataclass
class EmulatedUser:
    id: int
    first_name: str
    language_code: str | None = None
    username: str | None = None
    blocked_bot: bool = False

    def as_user(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.language_code:
            user["language_code"] = self.language_code
        if self.username:
            user["username"] = self.username
        return user


@dataclass
class BotMessage:
    """A message in a chat as it stands now (after edits)."""

    message_id: int
    chat_id: int
    text: str | None
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    from_bot: bool = True
    sender_id: int | None = None
    edit_count: int = 0
    date: int = 0
    raw_text: str | None = None  # what the bot sent, before entity parsing
    kind: str = "text"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class RecordedRequest:
    method: str
    params: dict[str, Any]
    status: int
    response: dict[str, Any]
    at: float  # time.monotonic() when answered


@dataclass
class _Fault:
    method: str | None
    status: int
    remaining: int
    retry_after: int | None
    description: str | None


class _Bucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.capacity, self.tokens, self.at = rate, burst, burst, time.monotonic()

    def take(self) -> float:
        """0 if a send may go now, else seconds until it may."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class TelegramEmulator:
    def __init__(self, token: str, bot_username: str = "leadbot_test_bot") -> None:
        self.token = token
        self.bot_user = {"id": int(token.split(":", 1)[0]), "is_bot": True,
                         "first_name": "leadbot", "username": bot_username,
                         "can_join_groups": True, "can_read_all_group_messages": False,
                         "supports_inline_queries": False}  # fmt: skip
        self.users: dict[int, EmulatedUser] = {}
        self.chats: dict[int, dict[str, Any]] = {}
        self.requests: list[RecordedRequest] = []
        self.flood_errors = 0
        self.webhook: dict[str, Any] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self._messages: dict[int, dict[int, BotMessage]] = {}
        self._next_message_id: dict[int, int] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._open_queries: set[str] = set()
        self._answers: dict[str, dict[str, Any]] = {}
        self._faults: list[_Fault] = []
        self._down = False
        self._down_updates = False
        self._flood: dict[str, float] | None = None
        self._buckets: dict[Any, _Bucket] = {}
        self._changed = asyncio.Event()
        self._subscribers: list[asyncio.Queue[dict[str, Any]]] = []
        self._runner: web.AppRunner | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self.base_url = ""
        self._closing = False

    # ---- lifecycle -------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound = self._runner.addresses[0]
        self.base_url = f"http://{bound[0]}:{bound[1]}"

    async def stop(self) -> None:
        self._closing = True
        self._notify({"event": "closing"})  # long polls in flight return now
        if self._webhook_task:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    # ---- people and chats --------------------------------------------------------------------

    def add_user(
        self, user_id: int, first_name: str, language_code: str | None = "ru",
        username: str | None = None,
    ) -> EmulatedUser:  # fmt: skip
        user = EmulatedUser(user_id, first_name, language_code, username)
        self.users[user_id] = user
        chat = {"id": user_id, "type": "private", "first_name": first_name}
        if username:
            chat["username"] = username
        self.chats[user_id] = chat
        return user

    def add_group(self, chat_id: int, title: str) -> dict[str, Any]:
        self.chats[chat_id] = {"id": chat_id, "type": "supergroup", "title": title}
        return self.chats[chat_id]

    def block_bot(self, user_id: int, blocked: bool = True) -> None:
        self.users[user_id].blocked_bot = blocked

    # ---- what users do -----------------------------------------------------------------------

    def _new_message_id(self, chat_id: int) -> int:
        self._next_message_id[chat_id] = self._next_message_id.get(chat_id, 0) + 1
        return self._next_message_id[chat_id]

    def send_text(
        self, user_id: int, text: str, chat_id: int | None = None, **extra: Any
    ) -> dict[str, Any]:
        """The user writes `text` (to the bot, or in `chat_id`); returns the Message sent."""
        chat_id = user_id if chat_id is None else chat_id
        message = self._user_message(user_id, chat_id, text=text, **extra)
        self._push_update({"message": message})
        return message

    def _user_message(self, user_id: int, chat_id: int, **content: Any) -> dict[str, Any]:
        message_id = self._new_message_id(chat_id)
        message: dict[str, Any] = {
            "message_id": message_id, "from": self.users[user_id].as_user(),
            "chat": self.chats[chat_id], "date": int(time.time()), **content,
        }  # fmt: skip
        text = content.get("text")
        if isinstance(text, str) and text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0,
                                    "length": utf16_len(command)}]  # fmt: skip
        stored = BotMessage(
            message_id, chat_id, text if isinstance(text, str) else content.get("caption"),
            from_bot=False, sender_id=user_id, date=message["date"],
            kind="text" if "text" in content else next(iter(content), "text"), extra=content,
        )  # fmt: skip
        self._messages.setdefault(chat_id, {})[message_id] = stored
        self._notify({"event": "user_message", "chat_id": chat_id, "message_id": message_id})
        return message

    def press_button(self, user_id: int, chat_id: int, message_id: int, data: str) -> str:
        """The user presses an inline button carrying `data`; returns the callback query id."""
        query_id = str(next(self._query_ids))
        query: dict[str, Any] = {"id": query_id, "from": self.users[user_id].as_user(),
                                 "chat_instance": str(chat_id), "data": data}  # fmt: skip
        stored = self._messages.get(chat_id, {}).get(message_id)
        if stored is not None:
            query["message"] = self._message_object(stored)
        self._open_queries.add(query_id)
        self._push_update({"callback_query": query})
        return query_id

    def _push_update(self, content: dict[str, Any]) -> None:
        update = {"update_id": next(self._update_ids), **content}
        self._updates.append(update)
        self._notify({"event": "update", "update_id": update["update_id"]})
        if self.webhook.get("url") and (self._webhook_task is None or self._webhook_task.done()):
            self._webhook_task = asyncio.get_running_loop().create_task(self._deliver_webhook())

    # ---- inspection --------------------------------------------------------------------------

    @property
    def updates_pending(self) -> int:
        return len(self._updates)

    def calls(self, method: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.status == 200]

    def chat_messages(self, chat_id: int) -> list[BotMessage]:
        """What the bot has sent to the chat, as it stands now, oldest first."""
        return [m for m in self._messages.get(chat_id, {}).values() if m.from_bot]

    def chat_history(self, chat_id: int) -> list[BotMessage]:
        """Everything in the chat, the users' messages included."""
        return list(self._messages.get(chat_id, {}).values())

    def message(self, chat_id: int, message_id: int) -> BotMessage | None:
        return self._messages.get(chat_id, {}).get(message_id)

    def callback_answer(self, query_id: str) -> dict[str, Any] | None:
        return self._answers.get(query_id)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    async def wait_for(
        self, condition: Callable[[], Any], timeout: float = 5.0
    ) -> None:
        """Return as soon as `condition()` is true; re-checked on every change, no polling."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            if condition():
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = "\n".join(f"  {r.method} {r.status} {json.dumps(r.params)[:200]}"
                                   for r in self.requests[-10:])  # fmt: skip
                raise TimeoutError(f"condition not met in {timeout}s; last requests:\n{recent}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    def _notify(self, event: dict[str, Any]) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
        for queue in self._subscribers:
            queue.put_nowait(event)

    # ---- faults ------------------------------------------------------------------------------

    def fail_next(
        self, method: str | None, status: int, count: int = 1, retry_after: int | None = None,
        description: str | None = None,
    ) -> None:  # fmt: skip
        self._faults.append(_Fault(method, status, count, retry_after, description))

    def set_down(self, down: bool, include_updates: bool = False) -> None:
        self._down, self._down_updates = down, down and include_updates

    def enforce_flood_limits(
        self, per_chat_per_second: float = 1.0, per_chat_burst: int = 3,
        per_group_per_minute: float = 20, global_per_second: float = 30,
    ) -> None:  # fmt: skip
        self._flood = {"chat": per_chat_per_second, "burst": per_chat_burst,
                       "group": per_group_per_minute / 60, "global": global_per_second}  # fmt: skip
        self._buckets.clear()

    def _injected_fault(self, method: str) -> TelegramError | None:
        if self._down and (method != "getUpdates" or self._down_updates):
            return TelegramError(502, "Bad Gateway")
        for fault in self._faults:
            if (
                fault.remaining > 0
                and fault.method in (None, method)
                and (fault.method is not None or method != "getUpdates")
            ):
                fault.remaining -= 1
                if fault.status == 429:
                    retry = fault.retry_after or 1
                    text = fault.description or f"Too Many Requests: retry after {retry}"
                    return TelegramError(429, text, retry)
                return TelegramError(fault.status, fault.description or {
                    500: "Internal Server Error", 502: "Bad Gateway",
                    503: "Service Unavailable", 504: "Gateway Timeout",
                }.get(fault.status, "Error"))  # fmt: skip
        return None

    def _flood_check(self, method: str, chat_id: Any) -> None:
        if self._flood is None or method not in SENDING_METHODS or not isinstance(chat_id, int):
            return
        group = chat_id < 0
        key = ("chat", chat_id)
        if key not in self._buckets:
            rate = self._flood["group"] if group else self._flood["chat"]
            self._buckets[key] = _Bucket(rate, self._flood["burst"])
        if "global" not in self._buckets:
            self._buckets["global"] = _Bucket(self._flood["global"], self._flood["global"])
        wait = max(self._buckets[key].take(), self._buckets["global"].take())
        if wait > 0:
            self.flood_errors += 1
            retry = max(1, math.ceil(wait))
            raise TelegramError(429, f"Too Many Requests: retry after {retry}", retry)

    # ---- HTTP --------------------------------------------------------------------------------

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                params.update(body if isinstance(body, dict) else {})
            else:
                form = await request.post()
                for key, value in form.items():
                    params[key] = (
                        value
                        if isinstance(value, str)
                        else {"file": getattr(value, "filename", key)}
                    )
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = {}
        try:
            if request.match_info["token"] != self.token:
                raise TelegramError(401, "Unauthorized")
            params = await self._read_params(request)
            handler = getattr(self, f"_m_{method}", None)
            try:
                decoded = validate(method, params)
            except KeyError:
                raise TelegramError(404, "Not Found") from None
            except SpecError as exc:
                raise bad_request(str(exc)) from None
            fault = self._injected_fault(method)
            if fault is not None:
                raise fault
            self._flood_check(method, decoded.get("chat_id"))
            result = await handler(decoded) if handler else True
            body: dict[str, Any] = {"ok": True, "result": result}
            status = 200
        except TelegramError as exc:
            body, status = exc.body(), exc.status
        if method != "getUpdates" or status != 200 or body.get("result"):
            self.requests.append(RecordedRequest(method, params, status, body, time.monotonic()))
            self._notify({"event": "request", "method": method, "status": status})
        return web.json_response(body, status=status)

    # ---- checks shared by methods ------------------------------------------------------------

    def _chat(self, chat_id: Any) -> dict[str, Any]:
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise bad_request("chat not found")
        user = self.users.get(chat_id)
        if user is not None and user.blocked_bot:
            raise TelegramError(403, "Forbidden: bot was blocked by the user")
        return chat

    @staticmethod
    def _parse_text(
        text: str, parse_mode: str | None, limit: int, empty: str, too_long: str
    ) -> tuple[str, list[dict[str, Any]]]:
        if parse_mode and parse_mode.upper() == "HTML":
            try:
                plain, entities = parse_html(text)
            except EntityParseError as exc:
                raise bad_request(f"can't parse entities: {exc}") from None
        elif parse_mode:
            raise bad_request(f"unsupported parse_mode {parse_mode!r} in this emulator")
        else:
            plain, entities = text, []
        if not plain.strip():
            raise bad_request(empty)
        if utf16_len(plain) > limit:
            raise bad_request(too_long)
        return plain, entities

    @staticmethod
    def _check_markup(markup: Any) -> dict[str, Any] | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return markup  # reply keyboards, removal, force reply
        actions = ("url", "callback_data", "switch_inline_query", "login_url", "pay",
                   "web_app", "copy_text", "switch_inline_query_current_chat",
                   "switch_inline_query_chosen_chat", "callback_game")  # fmt: skip
        for row in rows:
            for button in row:
                if not button.get("text"):
                    raise bad_request("BUTTON_TEXT_INVALID")
                if sum(1 for a in actions if a in button) != 1:
                    raise bad_request("can't parse inline keyboard button: exactly one of the "
                                      "optional fields must be used")  # fmt: skip
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_LIMIT:
                    raise bad_request("BUTTON_DATA_INVALID")
        return markup

    def _message_object(self, message: BotMessage) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "message_id": message.message_id, "chat": self.chats[message.chat_id],
            "date": message.date,
            "from": self.bot_user if message.from_bot
            else self.users[message.sender_id or 0].as_user(),
        }  # fmt: skip
        if message.kind == "text" and message.text is not None:
            obj["text"] = message.text
            if message.entities:
                obj["entities"] = message.entities
        else:
            obj.update({k: v for k, v in message.extra.items() if k != "text"})
        if message.edit_count:
            obj["edit_date"] = int(time.time())
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            obj["reply_markup"] = message.reply_markup
        return obj

    def _bot_message(self, chat_id: Any, message_id: Any) -> BotMessage:
        message = self._messages.get(chat_id, {}).get(message_id) if isinstance(
            chat_id, int) else None  # fmt: skip
        if message is None or not message.from_bot:
            raise bad_request("message to edit not found")
        return message

    # ---- methods -----------------------------------------------------------------------------

    async def _m_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.bot_user

    async def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]] | bool:
        if self.webhook.get("url"):
            raise TelegramError(
                409, "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while not self._updates and loop.time() < deadline and not self._closing:
                changed = self._changed
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), deadline - loop.time())
        return self._updates[:limit]

    async def _m_setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = {"url": params["url"], "secret_token": params.get("secret_token")}
        if self._updates:
            self._webhook_task = asyncio.get_running_loop().create_task(self._deliver_webhook())
        return True

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = {}
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _m_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                "pending_update_count": len(self._updates)}  # fmt: skip

    async def _deliver_webhook(self) -> None:
        """Post pending updates to the webhook one by one, as Telegram does."""
        async with aiohttp.ClientSession() as http:
            while self._updates and self.webhook.get("url"):
                update = self._updates[0]
                headers = {}
                if self.webhook.get("secret_token"):
                    headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
                try:
                    async with http.post(self.webhook["url"], json=update,
                                         headers=headers) as response:  # fmt: skip
                        delivered = response.status == 200
                except aiohttp.ClientError:
                    delivered = False
                if delivered:
                    self._updates.pop(0)
                else:
                    await asyncio.sleep(0.2)

    async def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params["chat_id"])
        text, entities = self._parse_text(
            str(params["text"]), params.get("parse_mode"), TEXT_LIMIT,
            "message text is empty", "message is too long",
        )  # fmt: skip
        markup = self._check_markup(params.get("reply_markup"))
        message = BotMessage(
            self._new_message_id(chat["id"]), chat["id"], text, params.get("parse_mode"),
            markup, entities, date=int(time.time()), raw_text=str(params["text"]),
        )  # fmt: skip
        self._messages.setdefault(chat["id"], {})[message.message_id] = message
        self._notify({"event": "sent", "chat_id": chat["id"], "message_id": message.message_id})
        return self._message_object(message)

    async def _m_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        self._chat(params.get("chat_id"))
        message = self._bot_message(params.get("chat_id"), params.get("message_id"))
        text, entities = self._parse_text(
            str(params["text"]), params.get("parse_mode"), TEXT_LIMIT,
            "message text is empty", "MESSAGE_TOO_LONG",
        )  # fmt: skip
        markup = self._check_markup(params.get("reply_markup"))
        if (text, entities, markup) == (message.text, message.entities, message.reply_markup):
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        message.text, message.entities, message.reply_markup = text, entities, markup
        message.raw_text, message.parse_mode = str(params["text"]), params.get("parse_mode")
        message.edit_count += 1
        self._notify({"event": "edited", "chat_id": message.chat_id,
                      "message_id": message.message_id})  # fmt: skip
        return self._message_object(message)

    async def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        self._chat(params.get("chat_id"))
        message = self._bot_message(params.get("chat_id"), params.get("message_id"))
        markup = self._check_markup(params.get("reply_markup"))
        if markup == message.reply_markup:
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        message.reply_markup = markup
        message.edit_count += 1
        self._notify({"event": "edited", "chat_id": message.chat_id,
                      "message_id": message.message_id})  # fmt: skip
        return self._message_object(message)

    async def _m_deleteMessage(self, params: dict[str, Any]) -> bool:
        chat_id, message_id = params["chat_id"], params["message_id"]
        if self._messages.get(chat_id, {}).pop(message_id, None) is None:
            raise bad_request("message to delete not found")
        self._notify({"event": "deleted", "chat_id": chat_id, "message_id": message_id})
        return True

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        query_id = str(params["callback_query_id"])
        if query_id not in self._open_queries:
            raise bad_request("query is too old and response timeout expired or query ID is "
                              "invalid")  # fmt: skip
        if len(str(params.get("text") or "")) > ALERT_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        self._open_queries.discard(query_id)
        self._answers[query_id] = {"text": params.get("text"),
                                   "show_alert": bool(params.get("show_alert", False))}  # fmt: skip
        self._notify({"event": "answered", "query_id": query_id})
        return True

    async def _m_copyMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params["chat_id"])
        source = self._messages.get(params["from_chat_id"], {}).get(params["message_id"])
        if source is None:
            raise bad_request("message to copy not found")
        copy = BotMessage(
            self._new_message_id(chat["id"]), chat["id"], source.text, kind=source.kind,
            extra=dict(source.extra), date=int(time.time()),
            reply_markup=self._check_markup(params.get("reply_markup")),
        )  # fmt: skip
        self._messages.setdefault(chat["id"], {})[copy.message_id] = copy
        self._notify({"event": "sent", "chat_id": chat["id"], "message_id": copy.message_id})
        return {"message_id": copy.message_id}

    async def _m_setMyCommands(self, params: dict[str, Any]) -> bool:
        scope = json.dumps(params.get("scope") or {"type": "default"}, sort_keys=True)
        self.commands[f"{scope}|{params.get('language_code') or ''}"] = params["commands"]
        return True

    async def _m_getMyCommands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        scope = json.dumps(params.get("scope") or {"type": "default"}, sort_keys=True)
        return self.commands.get(f"{scope}|{params.get('language_code') or ''}", [])

    async def _m_getChat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self.chats.get(params["chat_id"])
        if chat is None:
            raise bad_request("chat not found")
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11}
