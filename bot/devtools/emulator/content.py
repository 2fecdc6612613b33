"""What Telegram checks in a message before it accepts it: text, entities, keyboards."""

from __future__ import annotations

import re
from typing import Any

from bot.devtools.emulator.errors import bad_request
from bot.devtools.emulator.telegram_html import (
    EntityParseError,
    FormattedText,
    parse_html,
    trim,
    utf16_len,
)

MAX_TEXT_UTF16 = 4096
MAX_CAPTION_UTF16 = 1024
MAX_CALLBACK_DATA_BYTES = 64
URL_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
BUTTON_URL_SCHEMES = frozenset({"http", "https", "tg", "ton"})
BOT_COMMAND = re.compile(r"(?<!\S)/[a-zA-Z0-9_]{1,32}(?:@[a-zA-Z0-9_]{3,32})?")


def format_text(
    text: str,
    parse_mode: str | None,
    entities: list[dict[str, Any]] | None,
    *,
    strict_ampersand: bool = True,
    caption: bool = False,
) -> FormattedText:
    """The text a user will see, or the 400 Telegram answers for it.

    A caption may be empty and is limited to 1024; a message text to 1..4096 (UTF-16 units).
    """
    mode = (parse_mode or "").lower()
    if mode == "html":
        try:
            formatted = parse_html(text, strict_ampersand=strict_ampersand)
        except EntityParseError as error:
            raise bad_request(f"can't parse entities: {error}") from None
    elif mode in ("", "markdown", "markdownv2"):
        # Markdown is not emulated: the text is kept as sent, without entities
        formatted = FormattedText(text, list(entities or []) if not mode else [])
    else:
        raise bad_request("unsupported parse_mode")
    formatted = trim(formatted)
    if caption:
        if utf16_len(formatted.text) > MAX_CAPTION_UTF16:
            raise bad_request("message caption is too long")
        return formatted
    if not formatted.text:
        raise bad_request("message text is empty")
    if utf16_len(formatted.text) > MAX_TEXT_UTF16:
        raise bad_request("message is too long")
    return formatted


def command_entities(text: str) -> list[dict[str, Any]]:
    """bot_command entities, as Telegram attaches them to what a user writes."""
    entities = []
    for match in BOT_COMMAND.finditer(text):
        entities.append(
            {
                "type": "bot_command",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group()),
            }
        )
    return entities


def check_reply_markup(
    markup: Any, *, inline_only: bool, button_actions: frozenset[str]
) -> dict[str, Any] | None:
    """The markup as stored, or the 400 Telegram answers for it.

    `button_actions`: the InlineKeyboardButton fields of which exactly one must be used.
    """
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        return _check_inline_keyboard(markup, button_actions)
    if inline_only:
        raise bad_request("can't parse inline keyboard markup JSON object")
    if "keyboard" in markup:
        _check_reply_keyboard(markup["keyboard"])
    elif markup.get("remove_keyboard") is not True and markup.get("force_reply") is not True:
        raise bad_request("can't parse reply keyboard markup JSON object")
    return markup


def _check_inline_keyboard(
    markup: dict[str, Any], button_actions: frozenset[str]
) -> dict[str, Any] | None:
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse inline keyboard markup JSON object")
    for row in rows:
        for button in row:
            _check_inline_button(button, button_actions)
    # Telegram keeps no keyboard at all when every row is empty
    return markup if any(rows) else None


def _check_inline_button(button: Any, button_actions: frozenset[str]) -> None:
    if not isinstance(button, dict):
        raise bad_request("can't parse inline keyboard button: object expected")
    text = button.get("text")
    if not isinstance(text, str) or not text.strip():
        raise bad_request("can't parse inline keyboard button: Text must be non-empty")
    actions = [key for key in button if key in button_actions]
    if not actions:
        raise bad_request("text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise bad_request(
            "can't parse inline keyboard button: exactly one of "
            f"{', '.join(sorted(actions))} must be used"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        size = len(data.encode("utf-8")) if isinstance(data, str) else 0
        if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        _check_button_url(button["url"])


def _check_button_url(url: Any) -> None:
    if not isinstance(url, str) or not url.strip() or any(ch.isspace() for ch in url):
        raise bad_request("BUTTON_URL_INVALID")
    scheme = URL_SCHEME.match(url)
    if scheme and scheme.group(1).lower() not in BUTTON_URL_SCHEMES:
        raise bad_request(
            f"inline keyboard button URL '{url}' is invalid: Unsupported URL protocol"
        )


def _check_reply_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse reply keyboard markup JSON object")
    for row in rows:
        for button in row:
            text = button if isinstance(button, str) else (button or {}).get("text")
            if not isinstance(text, str) or not text:
                raise bad_request("can't parse reply keyboard button: Text must be non-empty")


def same_markup(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    return (a or None) == (b or None)
