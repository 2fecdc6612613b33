"""What the sandbox page shows of the emulated Telegram: chats, messages, keyboards, alerts.

Plain data for the page's script, built from the emulator's own records, so the page shows
exactly what the bot made Telegram hold. Text stays text (with Telegram's entities): the page
never turns anything here into HTML.
"""

from __future__ import annotations

from typing import Any

from bot.devtools.emulator.state import BotMessage, EmulatorState

MessageView = dict[str, Any]
_QUOTE = 120  # characters of a replied-to message shown above a reply
# what a user's message may hold besides text, in the order a client would show them
_USER_MEDIA = ("photo", "document", "video", "voice", "video_note", "audio", "sticker", "contact")


def chat_view(state: EmulatorState, chat_id: int) -> dict[str, Any]:
    log = state.chats.get(chat_id)
    merged: dict[int, BotMessage | dict[str, Any]] = (
        {**log.user_messages, **log.bot_messages} if log else {}
    )
    return {
        "messages": [message_view(state, merged[key]) for key in sorted(merged)],
        "keyboard": reply_keyboard(state, chat_id),
        "commands": menu_commands(state, chat_id),
    }


def menu_commands(state: EmulatorState, user_id: int) -> list[dict[str, str]]:
    """The bot's command menu in a user's private chat, as Telegram picks it: the narrowest
    scope with commands set, in the user's language before the language-less list."""
    user = state.users.get(user_id)
    language = (user.language_code or "") if user else ""
    scopes = (f"chat_id={user_id},type=chat", "type=all_private_chats", "type=default")
    for scope in scopes:
        for code in dict.fromkeys((language, "")):
            if commands := state.commands.get((scope, code)):
                return commands
    return []


def message_view(state: EmulatorState, message: BotMessage | dict[str, Any]) -> MessageView:
    if isinstance(message, BotMessage):
        return _bot_message(message)
    return _user_message(message)


def _bot_message(message: BotMessage) -> MessageView:
    inline = (message.reply_markup or {}).get("inline_keyboard", [])
    return {
        "id": message.message_id,
        "out": False,
        "kind": _kind(message.kind),
        "text": message.text,
        "entities": list(message.entities),
        "date": message.date,
        "edited": message.edit_count > 0,
        "buttons": [[_inline_button(button) for button in row] for row in inline],
        "reply_to": None,
    }


def _kind(sent_by: str) -> str:
    """sendPhoto -> photo; a text message (or a copy of one) -> text."""
    if sent_by.startswith("send"):
        return sent_by.removeprefix("send").lower()
    return sent_by


def _inline_button(button: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {"text": button["text"]}
    if "callback_data" in button:
        view["data"] = button["callback_data"]
    elif "url" in button:
        view["url"] = button["url"]
    return view


def _user_message(message: dict[str, Any]) -> MessageView:
    kind = next((key for key in _USER_MEDIA if key in message), "text")
    view: MessageView = {
        "id": message["message_id"],
        "out": True,
        "kind": kind,
        "text": message.get("text", message.get("caption", "")),
        "entities": message.get("entities", message.get("caption_entities", [])),
        "date": message["date"],
        "edited": "edit_date" in message,
        "buttons": [],
        "reply_to": None,
    }
    if kind == "contact":
        view["contact"] = message["contact"]
    if replied := message.get("reply_to_message"):
        quoted = replied.get("text", replied.get("caption", ""))
        view["reply_to"] = {"id": replied["message_id"], "text": quoted[:_QUOTE]}
    return view


def reply_keyboard(state: EmulatorState, chat_id: int) -> dict[str, Any] | None:
    """The keyboard under the chat's input field: set by the bot's latest message that set or
    removed one (a reply keyboard belongs to the chat, not to the message)."""
    log = state.chats.get(chat_id)
    if log is None:
        return None
    for key in sorted(log.bot_messages, reverse=True):
        markup = log.bot_messages[key].reply_markup or {}
        if markup.get("remove_keyboard"):
            return None
        if "keyboard" in markup:
            rows = markup["keyboard"]
            return {
                "rows": [[_keyboard_button(button) for button in row] for row in rows],
                "one_time": bool(markup.get("one_time_keyboard")),
                "placeholder": markup.get("input_field_placeholder"),
            }
    return None


def _keyboard_button(button: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(button, str):
        return {"text": button, "request_contact": False}
    return {"text": button["text"], "request_contact": bool(button.get("request_contact"))}


def reply_target(state: EmulatorState, chat_id: int, message_id: int) -> dict[str, Any] | None:
    """The Message a user's reply quotes, as Telegram puts it in `reply_to_message`."""
    log = state.chats.get(chat_id)
    if log is None:
        return None
    if message_id in log.bot_messages:
        return state.message_json(log.bot_messages[message_id])
    replied = log.user_messages.get(message_id)
    if replied is None:
        return None
    # Telegram does not nest replies inside replies
    return {key: value for key, value in replied.items() if key != "reply_to_message"}


def page_events(state: EmulatorState, event: dict[str, Any]) -> list[dict[str, Any]]:
    """An emulator state change, as the events the page applies (none for what it ignores)."""
    kind = event.get("event")
    chat_id = event.get("chat_id")
    if kind in ("message_sent", "message_edited", "user_message") and chat_id is not None:
        message_id = event["message"]["message_id"]
        log = state.chats.get(chat_id)
        current = None
        if log is not None:
            current = log.bot_messages.get(message_id) or log.user_messages.get(message_id)
        if current is None:  # deleted since
            return []
        return [
            {
                "type": "message",
                "chat_id": chat_id,
                "message": message_view(state, current),
                "keyboard": reply_keyboard(state, chat_id),
            }
        ]
    if kind == "commands_changed":
        return [
            {"type": "commands", "chat_id": user_id, "commands": menu_commands(state, user_id)}
            for user_id in state.users
        ]
    if kind == "message_deleted":
        return [{"type": "deleted", "chat_id": chat_id, "message_id": event["message_id"]}]
    if kind == "callback_answered":
        query = state.callback_queries.get(event["callback_query_id"], {})
        answer = event["answer"]
        return [
            {
                "type": "answer",
                "chat_id": query.get("message", {}).get("chat", {}).get("id"),
                "query_id": event["callback_query_id"],
                "text": answer.get("text", ""),
                "show_alert": bool(answer.get("show_alert")),
            }
        ]
    return []
