"""Telegram's HTML parse mode, modelled on TDLib's parser, so bad markup fails as it would there.

The parser produces the plain text a user sees and its entities (offsets in UTF-16 code
units). Error reasons copy TDLib's wording; the server wraps them in
"Bad Request: can't parse entities: ...".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
SUPPORTED_TAGS = frozenset({*SIMPLE_TAGS, "a", "tg-emoji", "tg-time"})
SPACES = frozenset(" \t\n\r")
NAME_TOKEN_EXTRA = frozenset(".-")


class EntityParseError(ValueError):
    """The reason Telegram gives after "can't parse entities: "."""


@dataclass(frozen=True)
class FormattedText:
    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _OpenTag:
    name: str
    attributes: dict[str, str]
    utf16_start: int
    byte_offset: int


def utf16_len(text: str) -> int:
    """Telegram counts lengths and offsets in UTF-16 code units: an emoji counts 2."""
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def parse_html(text: str, *, strict_ampersand: bool = True) -> FormattedText:
    """Plain text and entities of `text` in Telegram's HTML; EntityParseError when it is invalid.

    TDLib keeps a "&" that starts no entity as a literal; with `strict_ampersand` it is an
    error instead, as the Bot API documentation demands, so unescaped text is caught early.
    """
    return _HtmlParser(text, strict_ampersand).parse()


def trim(formatted: FormattedText) -> FormattedText:
    """Telegram strips surrounding whitespace from a message; entities follow the text."""
    text = formatted.text
    body = text.strip("".join(SPACES))
    if body == text:
        return formatted
    lead = utf16_len(text[: len(text) - len(text.lstrip("".join(SPACES)))])
    end = lead + utf16_len(body)
    entities = []
    for entity in formatted.entities:
        start = max(entity["offset"], lead)
        stop = min(entity["offset"] + entity["length"], end)
        if stop > start:
            entities.append({**entity, "offset": start - lead, "length": stop - start})
    return FormattedText(body, entities)


class _HtmlParser:
    def __init__(self, source: str, strict_ampersand: bool) -> None:
        self.src = source
        self.strict_ampersand = strict_ampersand
        self.i = 0
        self.out: list[str] = []
        self.utf16 = 0
        self.open: list[_OpenTag] = []
        self.entities: list[dict[str, Any]] = []

    def byte_offset(self, index: int) -> int:
        return len(self.src[:index].encode("utf-8"))

    def fail(self, reason: str, index: int | None = None) -> EntityParseError:
        if index is None:
            return EntityParseError(reason)
        return EntityParseError(f"{reason} at byte offset {self.byte_offset(index)}")

    def peek(self) -> str:
        """The current character, or "" at the end (TDLib reads the terminating NUL)."""
        return self.src[self.i] if self.i < len(self.src) else ""

    def emit(self, chars: str) -> None:
        self.out.append(chars)
        self.utf16 += utf16_len(chars)

    def parse(self) -> FormattedText:
        while self.i < len(self.src):
            ch = self.src[self.i]
            if ch == "&":
                self.ampersand()
            elif ch == "<":
                if self.src.startswith("</", self.i):
                    self.end_tag()
                else:
                    self.start_tag()
            else:
                self.emit(ch)
                self.i += 1
        if self.open:
            tag = self.open[-1]
            raise self.fail(f'Can\'t find end tag corresponding to start tag "{tag.name}"')
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return FormattedText("".join(self.out), self.entities)

    def ampersand(self) -> None:
        decoded = decode_entity(self.src, self.i)
        if decoded is not None:
            char, size = decoded
            self.emit(char)
            self.i += size
            return
        if self.strict_ampersand:
            raise self.fail('Character "&" must be escaped as "&amp;"', self.i)
        self.emit("&")
        self.i += 1

    def skip_spaces(self) -> None:
        while self.peek() and self.peek() in SPACES:
            self.i += 1

    def start_tag(self) -> None:
        begin = self.i
        self.i += 1
        while self.peek() and self.peek() not in SPACES and self.peek() != ">":
            self.i += 1
        if not self.peek():
            raise self.fail("Unclosed start tag", begin)
        name = self.src[begin + 1 : self.i].lower()
        if name not in SUPPORTED_TAGS:
            raise self.fail(f'Unsupported start tag "{name}"', begin)
        attributes = self.attributes(name, begin)
        self.i += 1  # the closing ">"
        self.check_start_tag(name, attributes, begin)
        self.open.append(_OpenTag(name, attributes, self.utf16, self.byte_offset(begin)))

    def attributes(self, tag: str, begin: int) -> dict[str, str]:
        found: dict[str, str] = {}
        while True:
            self.skip_spaces()
            if not self.peek():
                raise self.fail("Unclosed start tag", begin)
            if self.peek() == ">":
                return found
            name_start = self.i
            while self.peek() and self.peek() not in SPACES and self.peek() not in "=>":
                self.i += 1
            name = self.src[name_start : self.i].lower()
            if not name:
                raise self.fail(f'Empty attribute name in the tag "{tag}"', begin)
            self.skip_spaces()
            if self.peek() != "=":
                found.setdefault(name, "")  # a bare attribute, e.g. <blockquote expandable>
                continue
            self.i += 1
            self.skip_spaces()
            if not self.peek():
                raise self.fail("Unclosed start tag", begin)
            found.setdefault(name, self.attribute_value(begin))

    def attribute_value(self, begin: int) -> str:
        quote = self.peek()
        if quote not in "\"'":
            # an unquoted HTML name token: letters, digits, periods, hyphens; case-insensitive
            token_start = self.i
            while self.peek() and (self.peek().isalnum() or self.peek() in NAME_TOKEN_EXTRA):
                self.i += 1
            if self.peek() not in SPACES and self.peek() != ">":
                raise self.fail("Unexpected end of name token", token_start)
            return self.src[token_start : self.i].lower()
        self.i += 1
        value: list[str] = []
        while self.peek() and self.peek() != quote:
            decoded = decode_entity(self.src, self.i) if self.peek() == "&" else None
            if decoded is not None:
                value.append(decoded[0])
                self.i += decoded[1]
            else:
                value.append(self.peek())
                self.i += 1
        if not self.peek():
            raise self.fail("Unclosed start tag", begin)
        self.i += 1
        return "".join(value)

    def check_start_tag(self, name: str, attributes: dict[str, str], begin: int) -> None:
        if name == "span" and attributes.get("class") != "tg-spoiler":
            raise self.fail('Tag "span" must have class "tg-spoiler"', begin)
        if name == "tg-emoji" and not _is_int(attributes.get("emoji-id", "")):
            raise self.fail("Invalid custom emoji identifier specified", begin)
        if name == "tg-time" and not _is_int(attributes.get("unix", "")):
            raise self.fail("Invalid Unix time specified", begin)

    def end_tag(self) -> None:
        begin = self.i
        self.i += 2
        name_start = self.i
        while self.peek() and self.peek() not in SPACES and self.peek() != ">":
            self.i += 1
        name = self.src[name_start : self.i].lower()
        self.skip_spaces()
        if self.peek() != ">":
            raise self.fail("Unclosed end tag", begin)
        self.i += 1
        if not self.open:
            raise self.fail("Unexpected end tag", begin)
        tag = self.open.pop()
        if name and name != tag.name:
            raise self.fail(
                f"Unmatched end tag at byte offset {self.byte_offset(begin)}, "
                f'expected "</{tag.name}>", found "</{name}>"'
            )
        self.close(tag)

    def close(self, tag: _OpenTag) -> None:
        length = self.utf16 - tag.utf16_start
        if length <= 0:
            return  # Telegram drops empty entities silently
        entity: dict[str, Any] = {"offset": tag.utf16_start, "length": length}
        attrs = tag.attributes
        if tag.name == "a":
            href = attrs.get("href", "")
            if not href:
                return
            entity.update(type="text_link", url=href)
        elif tag.name == "tg-emoji":
            entity.update(type="custom_emoji", custom_emoji_id=attrs["emoji-id"])
        elif tag.name == "tg-time":
            entity.update(type="date_time", unix_time=int(attrs["unix"]))
            if attrs.get("format"):
                entity["date_time_format"] = attrs["format"]
        elif tag.name == "blockquote":
            expandable = "expandable" in attrs
            entity["type"] = "expandable_blockquote" if expandable else "blockquote"
        elif tag.name == "pre":
            entity["type"] = "pre"
            self.merge_inner_code(entity)
        else:
            entity["type"] = SIMPLE_TAGS[tag.name]
            if tag.name == "code" and attrs.get("class", "").startswith("language-"):
                entity["language"] = attrs["class"].removeprefix("language-")
        self.entities.append(entity)

    def merge_inner_code(self, pre: dict[str, Any]) -> None:
        """<pre><code class="language-x">...</code></pre> is one pre entity with a language."""
        for index, inner in enumerate(self.entities):
            same_span = inner["offset"] == pre["offset"] and inner["length"] == pre["length"]
            if inner["type"] == "code" and same_span:
                del self.entities[index]
                if "language" in inner:
                    pre["language"] = inner["language"]
                return


def decode_entity(text: str, at: int) -> tuple[str, int] | None:
    """(character, characters consumed) for an HTML entity starting at `at`, else None."""
    end = text.find(";", at + 1, at + 12)
    if end == -1:
        return None
    body = text[at + 1 : end]
    if body in NAMED_ENTITIES:
        return NAMED_ENTITIES[body], end - at + 1
    code: int | None = None
    if body.startswith(("#x", "#X")) and _is_hex(body[2:]):
        code = int(body[2:], 16)
    elif body.startswith("#") and body[1:].isdigit() and body[1:].isascii():
        code = int(body[1:])
    if code is None or code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), end - at + 1


def _is_hex(digits: str) -> bool:
    return bool(digits) and all(c in "0123456789abcdefABCDEF" for c in digits)


def _is_int(value: str) -> bool:
    return value.lstrip("-").isdigit() and value.isascii()
