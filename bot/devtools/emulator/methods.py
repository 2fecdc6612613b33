"""Bot API methods with Telegram's semantics, over the emulator's state.

Every handler gets parameters already checked against api.json and converted to their
types; it returns the `result` or raises ApiError.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.devtools.emulator.content import check_reply_markup, format_text, same_markup
from bot.devtools.emulator.errors import ApiError, bad_request
from bot.devtools.emulator.spec import BotApiSpec, MethodSpec
from bot.devtools.emulator.state import BotMessage, EmulatedGroup, EmulatorState
from bot.devtools.emulator.telegram_html import FormattedText
from bot.devtools.emulator.webhook import WebhookSender, check_webhook_url

Handler = Callable[[dict[str, Any]], Awaitable[Any]]

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
BOT_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
MAX_CALLBACK_ANSWER = 200
MAX_ALBUM = 10  # items in one sendMediaGroup
MAX_DOWNLOAD = 20 * 1024 * 1024  # bytes: the largest file a bot may download (getFile)


# the Message fields that hold content other than text; a copy keeps the kind ("sendPhoto")
MEDIA_FIELDS = (
    "photo",
    "document",
    "voice",
    "video_note",
    "video",
    "audio",
    "sticker",
    "animation",
)


def _camel(field: str) -> str:
    return "".join(part.capitalize() for part in field.split("_"))


class BotApi:
    def __init__(
        self, state: EmulatorState, spec: BotApiSpec, *, strict_ampersand: bool = True
    ) -> None:
        self.state = state
        self.spec = spec
        self.strict_ampersand = strict_ampersand
        self._poll_generation = 0
        self.closing = False
        self.polls_waiting = 0  # getUpdates calls parked in a long poll right now
        self.webhook = WebhookSender(state)
        self.handlers: dict[str, Handler] = {
            "getMe": self.get_me,
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "sendMessage": self.send_message,
            "sendMediaGroup": self.send_media_group,
            "editMessageText": self.edit_message_text,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "copyMessage": self.copy_message,
            "forwardMessage": self.forward_message,
            "answerCallbackQuery": self.answer_callback_query,
            "setMyCommands": self.set_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "getMyCommands": self.get_my_commands,
            "sendChatAction": self.send_chat_action,
            "getChat": self.get_chat,
            "getFile": self.get_file,
        }

    # --- chats -------------------------------------------------------------------------

    def known_chat(self, chat_id: Any) -> int:
        if isinstance(chat_id, int) and self.state.chat_json(chat_id) is not None:
            return chat_id
        raise bad_request("chat not found")

    def writable_chat(self, chat_id: Any) -> int:
        """A chat the bot may post in now: known, and the bot not blocked or removed."""
        chat = self.known_chat(chat_id)
        user = self.state.users.get(chat)
        if user is not None and user.blocked_bot:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        group = self.state.groups.get(chat)
        if group is not None and group.bot_removed:
            kind = "supergroup chat" if group.type == "supergroup" else "group chat"
            raise ApiError(403, f"Forbidden: bot was kicked from the {kind}")
        return chat

    def is_group(self, chat_id: Any) -> bool:
        return isinstance(chat_id, int) and chat_id in self.state.groups

    # --- bot and updates ---------------------------------------------------------------

    async def get_me(self, params: dict[str, Any]) -> Any:
        return {
            **self.state.bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def get_updates(self, params: dict[str, Any]) -> Any:
        state = self.state
        if state.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        # a newer getUpdates ends an older one, as Telegram does with two bot instances
        self._poll_generation += 1
        generation = self._poll_generation
        state.update_arrived.fire()
        if "allowed_updates" in params:
            state.allowed_updates = list(params["allowed_updates"]) or None
        state.confirm_updates(params.get("offset", 0))
        limit = min(max(params.get("limit", 100), 1), 100)
        deadline = time.monotonic() + max(params.get("timeout", 0), 0)
        while True:
            if state.webhook_url:
                raise ApiError(409, "Conflict: terminated by setWebhook request")
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            updates = state.deliverable_updates(limit)
            remaining = deadline - time.monotonic()
            if updates or remaining <= 0 or self.closing:
                return updates
            self.polls_waiting += 1
            state.state_changed()
            try:
                async with asyncio.timeout(remaining):
                    await state.update_arrived.wait()
            except TimeoutError:
                pass
            finally:
                self.polls_waiting -= 1

    async def set_webhook(self, params: dict[str, Any]) -> Any:
        url = params["url"]
        if url:
            check_webhook_url(url)
        self.state.webhook_url = url
        self.webhook.secret_token = params.get("secret_token")
        if "allowed_updates" in params:
            self.state.allowed_updates = list(params["allowed_updates"]) or None
        if params.get("drop_pending_updates"):
            self.state.updates.clear()
        if url:
            self.webhook.ensure_running()
        self.state.update_arrived.fire()  # an open long poll learns it is now in conflict
        return True

    async def delete_webhook(self, params: dict[str, Any]) -> Any:
        self.state.webhook_url = ""
        if params.get("drop_pending_updates"):
            self.state.updates.clear()
        self.state.update_arrived.fire()  # the delivery loop sees the webhook is gone
        return True

    async def get_webhook_info(self, params: dict[str, Any]) -> Any:
        info: dict[str, Any] = {
            "url": self.state.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.state.updates),
        }
        if self.state.allowed_updates:
            info["allowed_updates"] = self.state.allowed_updates
        return info

    # --- messages ----------------------------------------------------------------------

    def _markup(self, params: dict[str, Any], *, inline_only: bool) -> dict[str, Any] | None:
        if "reply_markup" not in params:
            return None
        return check_reply_markup(
            params["reply_markup"], inline_only=inline_only, button_actions=self.spec.button_actions
        )

    def _check_reply_target(self, chat_id: int, params: dict[str, Any]) -> None:
        reply = params.get("reply_parameters") or {}
        target = reply.get("message_id", params.get("reply_to_message_id"))
        lenient = reply.get(
            "allow_sending_without_reply", params.get("allow_sending_without_reply", False)
        )
        if target is None or lenient:
            return
        log = self.state.log(reply.get("chat_id", chat_id))
        if target not in log.bot_messages and target not in log.user_messages:
            raise bad_request("message to be replied not found")

    def _store(self, chat_id: int, message: BotMessage) -> dict[str, Any]:
        self.state.log(chat_id).bot_messages[message.message_id] = message
        body = self.state.message_json(message)
        self.state.state_changed({"event": "message_sent", "chat_id": chat_id, "message": body})
        return body

    async def send_message(self, params: dict[str, Any]) -> Any:
        chat_id = self.writable_chat(params["chat_id"])
        formatted = format_text(
            params["text"],
            params.get("parse_mode"),
            params.get("entities"),
            strict_ampersand=self.strict_ampersand,
        )
        markup = self._markup(params, inline_only=False)
        self._check_reply_target(chat_id, params)
        return self._store_new(chat_id, params, formatted, markup, params["text"], "text")

    def _store_new(
        self,
        chat_id: int,
        params: dict[str, Any],
        formatted: FormattedText,
        markup: Any,
        source_text: str,
        kind: str,
    ) -> Any:
        """A message the bot sent (a text, or the caption of a photo/document), kept in the chat."""
        message = BotMessage(
            message_id=self.state.log(chat_id).next_id(),
            chat_id=chat_id,
            text=formatted.text,
            parse_mode=params.get("parse_mode"),
            reply_markup=markup,
            entities=tuple(formatted.entities),
            source_text=source_text,
            date=self.state.timestamp(),
            kind=kind,
        )
        return self._store(chat_id, message)

    def _editable(self, params: dict[str, Any]) -> BotMessage:
        if "inline_message_id" in params:
            raise bad_request("MESSAGE_ID_INVALID")  # inline messages are not emulated
        if "chat_id" not in params or "message_id" not in params:
            raise bad_request("message identifier is not specified")
        chat_id = self.writable_chat(params["chat_id"])
        log = self.state.log(chat_id)
        message_id = params["message_id"]
        if message_id in log.user_messages:
            raise bad_request("message can't be edited")
        message = log.bot_messages.get(message_id)
        if message is None:
            raise bad_request("message to edit not found")
        return message

    def _replace(self, old: BotMessage, new: BotMessage) -> dict[str, Any]:
        self.state.log(old.chat_id).bot_messages[old.message_id] = new
        body = self.state.message_json(new)
        self.state.state_changed(
            {"event": "message_edited", "chat_id": old.chat_id, "message": body}
        )
        return body

    async def edit_message_text(self, params: dict[str, Any]) -> Any:
        message = self._editable(params)
        formatted = format_text(
            params["text"],
            params.get("parse_mode"),
            params.get("entities"),
            strict_ampersand=self.strict_ampersand,
        )
        # an edit without reply_markup removes the inline keyboard, as in Telegram
        markup = self._markup(params, inline_only=True)
        unchanged = (
            formatted.text == message.text
            and tuple(formatted.entities) == message.entities
            and same_markup(markup, message.reply_markup)
        )
        if unchanged:
            raise bad_request(NOT_MODIFIED)
        edited = message.edited(
            self.state.timestamp(),
            text=formatted.text,
            entities=tuple(formatted.entities),
            parse_mode=params.get("parse_mode"),
            source_text=params["text"],
            reply_markup=markup,
        )
        return self._replace(message, edited)

    async def edit_message_reply_markup(self, params: dict[str, Any]) -> Any:
        message = self._editable(params)
        markup = self._markup(params, inline_only=True)
        if same_markup(markup, message.reply_markup):
            raise bad_request(NOT_MODIFIED)
        return self._replace(message, message.edited(self.state.timestamp(), reply_markup=markup))

    async def delete_message(self, params: dict[str, Any]) -> Any:
        chat_id = self.known_chat(params["chat_id"])
        log = self.state.log(chat_id)
        message_id = params["message_id"]
        removed = log.bot_messages.pop(message_id, None) or log.user_messages.pop(message_id, None)
        if removed is None:
            raise bad_request("message to delete not found")
        log.deleted[message_id] = removed
        self.state.state_changed(
            {"event": "message_deleted", "chat_id": chat_id, "message_id": message_id}
        )
        return True

    def _repost(self, params: dict[str, Any]) -> BotMessage:
        """copyMessage and forwardMessage: the source's text posted again by the bot."""
        source_chat = self.known_chat(params["from_chat_id"])
        log = self.state.log(source_chat)
        source_id = params["message_id"]
        kind = "text"
        if source_id in log.user_messages:
            original = log.user_messages[source_id]
            kind = next((f"send{_camel(key)}" for key in MEDIA_FIELDS if key in original), kind)
            text = original.get("text", original.get("caption", ""))
            entities = tuple(original.get("entities", original.get("caption_entities", ())))
        elif source_id in log.bot_messages:
            bot_message = log.bot_messages[source_id]
            text, entities, kind = bot_message.text, bot_message.entities, bot_message.kind
        else:
            raise bad_request("message to copy not found")
        if "caption" in params:  # copyMessage may give the copy a caption of its own
            text, entities = str(params["caption"]), ()
        chat_id = self.writable_chat(params["chat_id"])
        markup = self._markup(params, inline_only=False)
        self._check_reply_target(chat_id, params)
        message = BotMessage(
            message_id=self.state.log(chat_id).next_id(),
            chat_id=chat_id,
            text=text,
            parse_mode=None,
            reply_markup=markup,
            entities=entities,
            source_text=text,
            date=self.state.timestamp(),
            kind=kind,
        )
        self._store(chat_id, message)
        return message

    async def copy_message(self, params: dict[str, Any]) -> Any:
        return {"message_id": self._repost(params).message_id}

    async def forward_message(self, params: dict[str, Any]) -> Any:
        return self.state.message_json(self._repost(params))

    async def send_media_group(self, params: dict[str, Any]) -> Any:
        """An album: a message per item (its caption as the text), all sent at once."""
        chat_id = self.writable_chat(params["chat_id"])
        media = params["media"]
        if not 2 <= len(media) <= MAX_ALBUM:
            raise bad_request("wrong number of media in the album")  # Telegram: 2 to 10
        sent = []
        for item in media:
            source = str(item.get("caption", ""))
            caption = format_text(
                source,
                item.get("parse_mode"),
                item.get("caption_entities"),
                strict_ampersand=self.strict_ampersand,
                caption=True,
            )
            sent.append(self._store_new(chat_id, item, caption, None, source, "sendMediaGroup"))
        return sent

    async def unmodelled(self, method: MethodSpec, params: dict[str, Any]) -> Any:
        """A real method the emulator does not model: accepted, with a result aiogram can read.

        Senders of other content (photo, document...) leave a message holding their caption;
        anything else answers True.
        """
        if method.returns != ("Message",) or "chat_id" not in params:
            return True
        chat_id = self.writable_chat(params["chat_id"])
        caption = format_text(
            str(params.get("caption", "")),
            params.get("parse_mode"),
            params.get("caption_entities"),
            strict_ampersand=self.strict_ampersand,
            caption=True,
        )
        markup = self._markup(params, inline_only=False)
        source = str(params.get("caption", ""))
        return self._store_new(chat_id, params, caption, markup, source, method.name)

    # --- files ------------------------------------------------------------------------

    async def get_file(self, params: dict[str, Any]) -> Any:
        """A user's file, ready to download from /file/bot<token>/<file_path>; as Telegram,
        nothing over 20 MB (a bot downloads no more)."""
        found = self.state.files.get(params["file_id"])
        if found is None:
            raise bad_request("invalid file_id")
        if len(found.content) > MAX_DOWNLOAD:
            raise bad_request("file is too big")
        return found.as_file()

    # --- buttons, commands, chats ------------------------------------------------------

    async def answer_callback_query(self, params: dict[str, Any]) -> Any:
        query_id = params["callback_query_id"]
        if query_id not in self.state.callback_queries or query_id in self.state.callback_answers:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        if len(params.get("text", "")) > MAX_CALLBACK_ANSWER:
            raise bad_request("MESSAGE_TOO_LONG")
        self.state.callback_answers[query_id] = dict(params)
        self.state.state_changed(
            {"event": "callback_answered", "callback_query_id": query_id, "answer": params}
        )
        return True

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        scope_key = ",".join(f"{k}={scope[k]}" for k in sorted(scope))
        return scope_key, params.get("language_code", "")

    async def set_my_commands(self, params: dict[str, Any]) -> Any:
        commands = params["commands"]
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("can't parse BotCommand JSON object")
            if not BOT_COMMAND_NAME.match(str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params)
        self.state.commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        self.state.state_changed({"event": "commands_changed"})
        return True

    async def delete_my_commands(self, params: dict[str, Any]) -> Any:
        self.state.commands.pop(self._commands_key(params), None)
        self.state.state_changed({"event": "commands_changed"})
        return True

    async def get_my_commands(self, params: dict[str, Any]) -> Any:
        return self.state.commands.get(self._commands_key(params), [])

    async def send_chat_action(self, params: dict[str, Any]) -> Any:
        self.writable_chat(params["chat_id"])
        if params["action"] not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def get_chat(self, params: dict[str, Any]) -> Any:
        chat_id = self.known_chat(params["chat_id"])
        chat = self.state.chat_json(chat_id) or {}
        info: dict[str, Any] = {
            **chat,
            "accent_color_id": chat_id % 7 if chat_id > 0 else 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }
        group = self.state.groups.get(chat_id)
        if isinstance(group, EmulatedGroup):
            info["permissions"] = {"can_send_messages": True}
        return info
