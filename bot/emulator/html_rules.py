"""Telegram's HTML parse mode, strictly: what parses, and the error Telegram gives otherwise."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ALLOWED_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "span": "spoiler", "a": "text_link", "code": "code", "pre": "pre",
    "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}  # fmt: skip
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ATTR = re.compile(r"""\s*([a-zA-Z_-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]+);")


class EntityParseError(ValueError):
    """Telegram answers 400 "Bad Request: can't parse entities: <this>"."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    tag: str
    offset: int  # UTF-16 offset in the plain text
    attrs: dict[str, str]


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _attributes(raw: str, text: str, index: int) -> dict[str, str]:
    attrs: dict[str, str] = {}
    pos = 0
    while pos < len(raw):
        match = _ATTR.match(raw, pos)
        if not match or match.end() == pos:
            if raw[pos:].strip():
                raise EntityParseError(
                    f"Expected equal sign in declaration of an attribute of the tag at byte "
                    f"offset {_byte_offset(text, index)}"
                )
            break
        attrs[match.group(1).lower()] = next((g for g in match.groups()[1:] if g is not None), "")
        pos = match.end()
    return attrs


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """The plain text and entities Telegram would make of `text`, or EntityParseError."""
    plain: list[str] = []
    length = 0  # UTF-16 length of `plain`
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "<":
            end = text.find(">", i)
            if end == -1:
                raise EntityParseError(
                    f"Can't find end of the tag at byte offset {_byte_offset(text, i)}"
                )
            body = text[i + 1 : end]
            if body.startswith("/"):
                name = body[1:].strip().lower()
                if not stack:
                    raise EntityParseError(
                        f"Unexpected end tag at byte offset {_byte_offset(text, i)}"
                    )
                opened = stack.pop()
                if name and name != opened.tag:
                    raise EntityParseError(
                        f"Unmatched end tag at byte offset {_byte_offset(text, i)}, expected "
                        f'"</{opened.tag}>", found "</{name}>"'
                    )
                entity: dict[str, Any] = {
                    "type": ALLOWED_TAGS[opened.tag], "offset": opened.offset,
                    "length": length - opened.offset,
                }  # fmt: skip
                if opened.tag == "a":
                    entity["url"] = opened.attrs.get("href", "")
                if entity["length"] > 0:
                    entities.append(entity)
            else:
                parts = body.split(None, 1)
                name = parts[0].lower() if parts else ""
                if name not in ALLOWED_TAGS:
                    raise EntityParseError(
                        f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, i)}'
                    )
                attrs = _attributes(parts[1] if len(parts) > 1 else "", text, i)
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise EntityParseError(
                        f'Tag "span" must have class "tg-spoiler" at byte offset '
                        f"{_byte_offset(text, i)}"
                    )
                stack.append(_Open(name, length, attrs))
            i = end + 1
            continue
        if char == "&":
            match = _ENTITY.match(text, i)
            decoded = None
            if match:
                name = match.group(1)
                if name.startswith("#x"):
                    decoded = chr(int(name[2:], 16)) if int(name[2:], 16) <= 0x10FFFF else None
                elif name.startswith("#"):
                    decoded = chr(int(name[1:])) if int(name[1:]) <= 0x10FFFF else None
                else:
                    decoded = NAMED_ENTITIES.get(name)
            if decoded is None or match is None:
                raise EntityParseError(
                    f"Unsupported HTML entity at byte offset {_byte_offset(text, i)}"
                )
            plain.append(decoded)
            length += utf16_len(decoded)
            i = match.end()
            continue
        plain.append(char)
        length += 2 if ord(char) > 0xFFFF else 1
        i += 1
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    return "".join(plain), sorted(entities, key=lambda e: (e["offset"], -e["length"]))
