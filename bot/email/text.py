"""A letter's words as a manager wants them: HTML turned into plain text, the quoted letter
it replies to and the sender's signature cut off. Pure functions, no I/O."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# what closes a line of text in HTML (a new line is started before and after it)
_BLOCKS = {
    "p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "hr", "section", "article", "header", "footer", "dd", "dt",
}  # fmt: skip
_HIDDEN = {"script", "style", "head", "title", "template", "noscript"}
# a text part longer than this is not read further: a letter of many megabytes of HTML is cut
# before the parser walks it (the manager reads a few thousand characters anyway)
MAX_SOURCE_CHARS = 200_000


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.quoted = 0  # inside <blockquote>: the letter replied to

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag == "blockquote":
            self.quoted += 1
        if tag in _BLOCKS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("• ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag == "blockquote":
            self.quoted = max(0, self.quoted - 1)
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden and not self.quoted:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Readable text of an HTML letter: paragraphs and line breaks kept, scripts, styles and
    quoted blocks (<blockquote>) dropped, entities decoded."""
    parser = _TextOf()
    try:
        parser.feed(html[:MAX_SOURCE_CHARS])
        parser.close()
    except Exception:  # HTMLParser is lenient; whatever it still trips on, keep what it read
        pass
    # blocks in mail HTML stand for lines more often than for paragraphs: no empty lines
    lines = [line.strip() for line in "".join(parser.parts).splitlines()]
    return "\n".join(line for line in lines if line)


# where the letter being replied to begins (everything from that line on is cut)
_QUOTE_HEADS = [
    re.compile(r"^\s*On\b.{0,400}\bwrote:\s*$", re.IGNORECASE),
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}", re.IGNORECASE),
    re.compile(r"^\s*-{2,}\s*Исходное сообщение\s*-{2,}", re.IGNORECASE),
    re.compile(r"^\s*-{2,}\s*Forwarded message\s*-{2,}", re.IGNORECASE),
    re.compile(r"^.{0,400}\b(пишет|написал|написала|написал\(а\)):\s*$", re.IGNORECASE),
    re.compile(r"^\s*_{20,}\s*$"),  # Outlook on the web: a rule, then From: / Sent: lines
]
# a signature's first line: the "-- " separator, or a phone's tag line
_SIGNATURE_HEADS = [
    re.compile(r"^--\s?$"),
    re.compile(r"^\s*Sent from my \w+", re.IGNORECASE),
    re.compile(r"^\s*Sent from (Mail|Outlook|Yahoo Mail)\b", re.IGNORECASE),
    re.compile(r"^\s*Get Outlook for \w+", re.IGNORECASE),
    re.compile(r"^\s*Отправлено (с|со|из) ", re.IGNORECASE),
]


def trim_reply(text: str) -> str:
    """The new words of a letter: from the quoted letter's head ("On ... wrote:", Outlook's
    "-----Original Message-----", "... пишет:") or a signature ("-- ", "Sent from my iPhone")
    on, the rest is cut, and "> " lines are dropped. A letter that is nothing but a quote keeps
    its whole text (better too much than nothing)."""
    lines = text.splitlines()
    kept: list[str] = []
    for index, line in enumerate(lines):
        # Gmail wraps a long "On <date>, <name> <address> wrote:" over two lines
        joined = f"{line} {lines[index + 1]}" if index + 1 < len(lines) else line
        if any(head.match(line) for head in _QUOTE_HEADS):
            break
        if _QUOTE_HEADS[0].match(joined) and not line.rstrip().endswith((".", "!", "?")):
            break
        if any(head.match(line) for head in _SIGNATURE_HEADS):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    trimmed = _squeeze("\n".join(kept))
    return trimmed or _squeeze(text)


def _squeeze(text: str) -> str:
    """At most one empty line in a row, none at either end."""
    return re.sub(r"\n{3,}", "\n\n", text).strip()
