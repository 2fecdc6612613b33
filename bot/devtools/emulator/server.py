"""TelegramEmulator: an in-process Bot API server (aiohttp) plus the hands of its users.

The bot talks to it over HTTP exactly as to api.telegram.org; tests (and the sandbox) act
as the people in the chats and inspect what the bot made them see.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.devtools.emulator.content import command_entities
from bot.devtools.emulator.errors import ApiError
from bot.devtools.emulator.faults import Fault, FaultPlan, FloodLimits, is_flood_limited
from bot.devtools.emulator.methods import BotApi
from bot.devtools.emulator.spec import BotApiSpec, MethodSpec, check_params, load_spec
from bot.devtools.emulator.state import (
    BotMessage,
    EmulatedGroup,
    EmulatedUser,
    EmulatorState,
    RecordedRequest,
    UserFile,
)

EMULATOR_KEY: web.AppKey[TelegramEmulator] = web.AppKey("telegram_emulator")
MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # Telegram's limit for files a bot uploads
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


class TelegramEmulator:
    def __init__(
        self,
        token: str,
        bot_username: str = "leadbot_test_bot",
        *,
        bot_first_name: str = "Leadbot",
        strict_ampersand: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`strict_ampersand`: reject an unescaped "&" in HTML (Telegram itself lets it pass).
        `clock`: Unix time for message dates (the sandbox jumps it with the application's)."""
        bot_id, _, _ = token.partition(":")
        if not bot_id.isdigit():
            raise ValueError("a bot token starts with the bot's numeric id: '<id>:<secret>'")
        self.token = token
        self.spec: BotApiSpec = load_spec()
        self.state = EmulatorState(int(bot_id), bot_first_name, bot_username, clock=clock)
        self.api = BotApi(self.state, self.spec, strict_ampersand=strict_ampersand)
        self.faults = FaultPlan()
        self.flood: FloodLimits | None = None
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._next_query = 0
        self._next_file = 0

    # --- lifecycle ---------------------------------------------------------------------

    def build_app(self) -> web.Application:
        """The Bot API routes as an aiohttp app, for a server that embeds the emulator."""
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES)
        app[EMULATOR_KEY] = self
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        return app

    async def start(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        extend: Callable[[web.Application], None] | None = None,
    ) -> None:
        """Serve the Bot API; `extend` adds more routes to the same server (the sandbox page)."""
        self.api.closing = False
        app = self.build_app()
        if extend is not None:
            extend(app)
        # no long-poll may hold the shutdown: stop() wakes them, this bounds the rest
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        self._base_url = f"http://{bound_host}:{bound_port}"

    async def stop(self) -> None:
        self.api.closing = True
        self.state.update_arrived.fire()
        await self.api.webhook.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def serving(self) -> bool:
        return self._runner is not None

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the emulator is not started: await emulator.start() first")
        return self._base_url

    @property
    def bot_id(self) -> int:
        return self.state.bot_id

    # --- people and chats --------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        first_name: str,
        language_code: str | None = "en",
        username: str | None = None,
        last_name: str | None = None,
    ) -> EmulatedUser:
        """A Telegram user who has opened the bot; their private chat id is their user id."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user = EmulatedUser(user_id, first_name, language_code, username, last_name)
        self.state.users[user_id] = user
        self.state.log(user_id)
        return user

    def add_group(self, chat_id: int, title: str, chat_type: str | None = None) -> EmulatedGroup:
        """A group the bot is a member of; -100... ids are supergroups, as in Telegram."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        kind = chat_type or ("supergroup" if str(chat_id).startswith("-100") else "group")
        group = EmulatedGroup(chat_id, title, kind)
        self.state.groups[chat_id] = group
        self.state.log(chat_id)
        return group

    def block_bot(self, chat_id: int, blocked: bool = True) -> None:
        """The user blocks the bot (or the group removes it): sends get 403 from now on."""
        if chat_id in self.state.users:
            self.state.users[chat_id].blocked_bot = blocked
        elif chat_id in self.state.groups:
            self.state.groups[chat_id].bot_removed = blocked
        else:
            raise KeyError(f"unknown chat {chat_id}")
        event = "bot_blocked" if blocked else "bot_unblocked"
        self.state.state_changed({"event": event, "chat_id": chat_id})

    def unblock_bot(self, chat_id: int) -> None:
        self.block_bot(chat_id, blocked=False)

    def _user(self, user_id: int) -> EmulatedUser:
        user = self.state.users.get(user_id)
        if user is None:
            raise KeyError(f"unknown user {user_id}: add_user() first")
        return user

    def send_text(
        self, user_id: int, text: str, chat_id: int | None = None, **extra: Any
    ) -> dict[str, Any]:
        """The user writes `text` in a chat (their private chat by default); returns the Message.

        `extra` adds Message fields as given (e.g. reply_to_message). Writing to a blocked
        bot unblocks it, as pressing Start/Restart does in Telegram.
        """
        body: dict[str, Any] = {"text": text}
        if entities := command_entities(text):
            body["entities"] = entities
        return self._user_message(user_id, chat_id, body | extra)

    def send_contact(
        self, user_id: int, phone_number: str, chat_id: int | None = None, **extra: Any
    ) -> dict[str, Any]:
        """The user shares their own contact (the `request_contact` button, or the clip menu)."""
        user = self._user(user_id)
        contact: dict[str, Any] = {
            "phone_number": phone_number,
            "first_name": user.first_name,
            "user_id": user_id,
        }
        if user.last_name:
            contact["last_name"] = user.last_name
        return self._user_message(user_id, chat_id, {"contact": contact} | extra)

    def send_media(
        self,
        user_id: int,
        kind: str,
        caption: str | None = None,
        chat_id: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """The user sends a photo, document, voice message, video note... (`kind` is the
        Message field: photo, document, voice, video, video_note, audio, sticker, animation)."""
        self._next_file += 1
        file = {"file_id": f"{kind}-{self._next_file}", "file_unique_id": f"u{self._next_file}"}
        content: Any = {
            "photo": [file | {"width": 1280, "height": 960}],
            "document": file | {"file_name": "price.pdf", "mime_type": "application/pdf"},
            "voice": file | {"duration": 7, "mime_type": "audio/ogg"},
            "video_note": file | {"length": 240, "duration": 9},
            "video": file | {"width": 640, "height": 480, "duration": 12},
            "audio": file | {"duration": 180},
            "sticker": file
            | {
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            },
            "animation": file | {"width": 320, "height": 240, "duration": 3},
        }.get(kind)
        if content is None:
            raise KeyError(f"unknown media kind {kind!r}")
        body: dict[str, Any] = {kind: content}
        if caption is not None:
            body["caption"] = caption
        return self._user_message(user_id, chat_id, body | extra)

    def send_document(
        self,
        user_id: int,
        file_name: str,
        content: bytes,
        mime_type: str | None = "text/csv",
        caption: str | None = None,
        chat_id: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """The user sends a file with these bytes; the bot can getFile it and download it."""
        self._next_file += 1
        number = self._next_file
        suffix = file_name.rpartition(".")[2] if "." in file_name else "bin"
        stored = UserFile(
            f"document-{number}", f"u{number}", f"documents/file_{number}.{suffix}", content
        )
        self.state.files[stored.file_id] = stored
        document: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": file_name,
            "file_size": len(content),
        }
        if mime_type:
            document["mime_type"] = mime_type
        body: dict[str, Any] = {"document": document}
        if caption is not None:
            body["caption"] = caption
        return self._user_message(user_id, chat_id, body | extra)

    def _user_message(
        self, user_id: int, chat_id: int | None, body: dict[str, Any]
    ) -> dict[str, Any]:
        user = self._user(user_id)
        chat = user_id if chat_id is None else chat_id
        chat_json = self.state.chat_json(chat)
        if chat_json is None:
            raise KeyError(f"unknown chat {chat}")
        if chat == user_id:
            user.blocked_bot = False
        message: dict[str, Any] = {
            "message_id": self.state.log(chat).next_id(),
            "from": user.as_user(),
            "chat": chat_json,
            "date": self.state.timestamp(),
            **body,
        }
        self.state.log(chat).user_messages[message["message_id"]] = message
        self.state.enqueue_update("message", message)
        self.state.state_changed({"event": "user_message", "chat_id": chat, "message": message})
        return message

    def press_button(self, user_id: int, chat_id: int, message_id: int, callback_data: str) -> str:
        """The user presses an inline button; returns the callback query id.

        The data is not matched against the keyboard: a modified client can send anything,
        and the bot must cope with stale or forged data.
        """
        user = self._user(user_id)
        message = self.message(chat_id, message_id)
        if message is None:
            raise KeyError(f"no message {message_id} from the bot in chat {chat_id}")
        self._next_query += 1
        query_id = f"{self.bot_id}{self._next_query:08d}"
        query = {
            "id": query_id,
            "from": user.as_user(),
            "message": self.state.message_json(message),
            "chat_instance": str(abs(chat_id * 7919 + self.bot_id)),
            "data": callback_data,
        }
        self.state.callback_queries[query_id] = query
        self.state.enqueue_update("callback_query", query)
        self.state.state_changed(
            {"event": "callback_query", "chat_id": chat_id, "callback_query": query}
        )
        return query_id

    @property
    def updates_pending(self) -> int:
        return len(self.state.updates)

    @property
    def long_polls_waiting(self) -> int:
        """getUpdates calls parked waiting for an update (a test can wait for one)."""
        return self.api.polls_waiting

    # --- inspection --------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.state.requests

    def calls(self, method: str) -> list[RecordedRequest]:
        return [r for r in self.state.requests if r.method == method and r.status == 200]

    def chat_messages(self, chat_id: int) -> list[BotMessage]:
        """What the bot has in the chat now, oldest first: edits applied, deletions gone."""
        log = self.state.chats.get(chat_id)
        if log is None:
            return []
        return [log.bot_messages[k] for k in sorted(log.bot_messages)]

    def chat_history(self, chat_id: int) -> list[dict[str, Any]]:
        """The whole conversation as Bot API Message objects, both sides, oldest first."""
        log = self.state.chats.get(chat_id)
        if log is None:
            return []
        bot = {k: self.state.message_json(m) for k, m in log.bot_messages.items()}
        merged = {**log.user_messages, **bot}
        return [merged[k] for k in sorted(merged)]

    def message(self, chat_id: int, message_id: int) -> BotMessage | None:
        log = self.state.chats.get(chat_id)
        return log.bot_messages.get(message_id) if log else None

    def callback_answer(self, callback_query_id: str) -> dict[str, Any] | None:
        return self.state.callback_answers.get(callback_query_id)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        """A queue of {"event": ...} dicts, one per state change, for a live view."""
        return self.state.observers.subscribe()

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self.state.observers.unsubscribe(queue)

    # the name `timeout` is the public API the tests were written against
    async def wait_for(self, condition: Callable[[], Any], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Return once `condition()` is true, re-checking after every request and change.

        A condition that raises LookupError/AttributeError/TypeError (e.g. indexing a list
        still empty) counts as not yet true.
        """
        last_error: Exception | None = None

        def holds() -> bool:
            nonlocal last_error
            try:
                return bool(condition())
            except (LookupError, AttributeError, TypeError) as error:
                last_error = error
                return False

        try:
            async with asyncio.timeout(timeout):
                while not holds():
                    await self.state.changed.wait()
        except TimeoutError:
            raise TimeoutError(self._timeout_report(timeout, last_error)) from None

    def _timeout_report(self, timeout: float, last_error: Exception | None) -> str:
        recent = [r for r in self.state.requests if r.method != "getUpdates"][-10:]
        lines = [f"condition not met within {timeout} s"]
        if last_error is not None:
            lines.append(f"the condition last raised {last_error!r}")
        lines.append(f"updates not yet fetched by the bot: {self.updates_pending}")
        lines.append("last requests (getUpdates left out):" if recent else "no requests yet")
        lines.extend(f"  {r.summary()}" for r in recent)
        return "\n".join(lines)

    # --- faults ------------------------------------------------------------------------

    def fail_next(
        self,
        method: str | None,
        status: int,
        count: int = 1,
        retry_after: int | None = None,
        description: str | None = None,
        chat_id: int | None = None,
    ) -> None:
        """The next `count` calls of `method` (None: any but getUpdates) get this error; with
        `chat_id`, only the calls addressed to that chat."""
        if method is not None and self.spec.method(method) is None:
            raise ValueError(f"{method} is not a Bot API method")
        self.faults.add(Fault(method, status, count, retry_after, description, chat_id))

    def set_down(self, down: bool, include_updates: bool = False) -> None:
        """While down, calls answer 502 Bad Gateway (getUpdates too if `include_updates`)."""
        self.faults.down = down
        self.faults.down_includes_updates = include_updates

    def enforce_flood_limits(
        self,
        per_chat_per_second: float = 1.0,
        per_chat_burst: int = 3,
        per_group_per_minute: float = 20,
        global_per_second: float = 30,
        tolerance: float = 0.1,
    ) -> None:
        """From now on, sends and edits faster than these limits answer 429."""
        self.flood = FloodLimits(
            per_chat_per_second,
            per_chat_burst,
            per_group_per_minute,
            global_per_second,
            tolerance=tolerance,
        )

    @property
    def flood_errors(self) -> int:
        return self.flood.errors if self.flood else 0

    # --- HTTP --------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        name = request.match_info["method"]
        raw: dict[str, Any] = {}
        unreadable: ApiError | None = None
        try:
            raw = await _read_params(request, self.state.uploads)
        except ApiError as error:
            unreadable = error  # answered after the outage and token checks, as Telegram does
        checked: dict[str, Any] | None = None
        method: MethodSpec | None = None
        try:
            method = self._admit(request.match_info["token"], name, raw.get("chat_id"))
            if unreadable is not None:
                raise unreadable
            checked = check_params(method, raw)
            result = await self._call(method, checked)
            status, body = 200, {"ok": True, "result": result}
        except ApiError as error:
            status, body = error.status, error.payload()
        recorded = checked if checked is not None else decoded_for_record(raw)
        self.state.requests.append(
            RecordedRequest(method.name if method else name, recorded, status, body, arrived)
        )
        self.state.state_changed()
        return web.json_response(body, status=status)

    async def _download(self, request: web.Request) -> web.Response:
        """GET /file/bot<token>/<file_path>: a file's bytes, as api.telegram.org serves them
        (a wrong token or an unknown path: 404; during an outage, its status)."""
        arrived = time.monotonic()
        path = request.match_info["path"]
        found = next((f for f in self.state.files.values() if f.file_path == path), None)
        status, body = 200, {"ok": True}
        if outage := self.faults.outage("download"):
            status, body = outage.status, outage.payload()
        elif request.match_info["token"] != self.token or found is None:
            status, body = 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        self.state.requests.append(
            RecordedRequest("download", {"path": path}, status, body, arrived)
        )
        if status != 200 or found is None:
            return web.json_response(body, status=status)
        return web.Response(body=found.content, content_type="application/octet-stream")

    def _admit(self, token: str, name: str, chat_id: object = None) -> MethodSpec:
        """Telegram's order: outage, token, method name, then injected faults."""
        method = self.spec.method(name)
        if outage := self.faults.outage(method.name if method else name):
            raise outage
        if token != self.token:
            raise ApiError(401, "Unauthorized")
        if method is None:
            raise ApiError(404, "Not Found")
        if fault := self.faults.take(method.name, chat_id):
            raise fault
        return method

    async def _call(self, method: MethodSpec, params: dict[str, Any]) -> Any:
        if self.flood is not None and is_flood_limited(method.name):
            chat_id = params.get("chat_id")
            self.flood.check(
                chat_id if isinstance(chat_id, int) else None,
                self.api.is_group(chat_id),
                time.monotonic(),
            )
        handler = self.api.handlers.get(method.name)
        if handler is None:
            return await self.api.unmodelled(method, params)
        return await handler(params)


async def _read_params(
    request: web.Request, uploads: list[tuple[str, bytes]] | None = None
) -> dict[str, Any]:
    """Query string, then the body: multipart/urlencoded form or JSON, as Telegram accepts.
    Uploaded files' bytes go to `uploads` (a test reads what a photo was)."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type in FORM_TYPES:
        form = await request.post()
        if uploads is not None:
            for value in form.values():
                if not isinstance(value, str):
                    value.file.seek(0)
                    uploads.append((value.filename, value.file.read()))
        files = {k: f"attach:{v.filename}" for k, v in form.items() if not isinstance(v, str)}
        params.update((k, v) for k, v in form.items() if isinstance(v, str))
        text = " ".join(params.values())
        for key, marker in files.items():
            # aiogram sends a file as its own part and names it in a parameter: attach://key
            reference = f"attach://{key}"
            for name, value in params.items():
                if value == reference:
                    params[name] = marker
            if reference not in text:
                params[key] = marker  # the file itself is the parameter (e.g. photo)
    elif request.content_type == "application/json" and request.can_read_body:
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON body") from None
        if not isinstance(body, dict):
            raise ApiError(400, "Bad Request: JSON body must be an object")
        params.update(body)
    return params


def decoded_for_record(params: dict[str, Any]) -> dict[str, Any]:
    """Best-effort JSON decoding of form values, for requests that failed validation."""
    decoded: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, str) and value[:1] in "[{":
            try:
                decoded[key] = json.loads(value)
                continue
            except ValueError:
                pass
        decoded[key] = value
    return decoded
