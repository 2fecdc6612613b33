"""Reading a letter: raw bytes as the mailbox holds them -> an IncomingLetter (the standard
`email` package, policy.default). Built for hostile input: broken MIME, wrong or unknown
charsets, unpaired surrogates, huge headers, HTML in the subject. Nothing here raises: what
cannot be read is left out and named in `problems`, and the rest is kept."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from typing import Any

from bot.email.text import MAX_SOURCE_CHARS, html_to_text, trim_reply
from bot.intake.input import storable_text

NAME_LIMIT = 200
SUBJECT_LIMIT = 300
FILENAME_LIMIT = 120
TEXT_LIMIT = 4000  # what a lead's message keeps (the card and the history show it)
MESSAGE_ID_LIMIT = 998  # the email_letters column, RFC 5322's longest line
REFERENCES_KEPT = 50  # the newest ids of a thread: enough to find its lead
# charsets tried, in order, after the declared one fails: most letters we get are one of these
_FALLBACK_CHARSETS = ("utf-8", "cp1251", "koi8-r")
_MESSAGE_ID = re.compile(r"<([^<>\s]{1,2000})>")


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class IncomingLetter:
    message_id: str | None  # without the angle brackets
    in_reply_to: str | None
    references: tuple[str, ...]
    sender_name: str | None
    sender_address: str | None  # as written (not checked)
    subject: str | None
    text: str  # the new words: HTML made text, quotes and signature trimmed
    attachments: tuple[Attachment, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names, the filters' ones
    content_type: str = "text/plain"
    report_type: str | None = None  # multipart/report's report-type (delivery-status: a DSN)
    original_message_id: str | None = None  # the letter a DSN reports on
    diagnostic: str | None = None  # why, as the DSN says (Diagnostic-Code, else Status)
    problems: tuple[str, ...] = ()  # what could not be read

    def thread_ids(self) -> list[str]:
        """The letters this one answers, nearest first: In-Reply-To, then References from
        the newest."""
        found = [self.in_reply_to] if self.in_reply_to else []
        found += [ref for ref in reversed(self.references) if ref not in found]
        return found


# headers the filters read (bot/email/kinds.py)
FILTER_HEADERS = (
    "auto-submitted",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
    "return-path",
)


def parse_letter(raw: bytes) -> IncomingLetter:
    """An incoming letter from its bytes; never raises."""
    problems: list[str] = []
    try:
        message: Message = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception as exc:  # the parser registers defects rather than raising; just in case
        problems.append(f"unreadable letter: {exc!r}"[:200])
        message = EmailMessage()
    sender_name, sender_address = _sender(message, problems)
    text, attachments = _content(message, problems)
    report_type = original = diagnostic = None
    if _safe(lambda: message.get_content_type(), "text/plain") == "multipart/report":
        report_type = _safe(lambda: str(message.get_param("report-type") or ""), "").lower()
        original = _original_message_id(message)
        diagnostic = _cut(_diagnostic(message), 500)
    return IncomingLetter(
        message_id=_first_id(_header(message, "message-id", problems)),
        in_reply_to=_first_id(_header(message, "in-reply-to", problems)),
        references=tuple(_all_ids(_header(message, "references", problems))[-REFERENCES_KEPT:]),
        sender_name=_cut(sender_name, NAME_LIMIT),
        sender_address=_cut(sender_address, 320),
        subject=_cut(_one_line(_header(message, "subject", problems)), SUBJECT_LIMIT),
        text=_cut(text, TEXT_LIMIT) or "",
        attachments=tuple(attachments),
        headers={
            name: value
            for name in FILTER_HEADERS
            if (value := _header(message, name, problems)) is not None
        },
        content_type=_safe(lambda: message.get_content_type(), "text/plain"),
        report_type=report_type or None,
        original_message_id=original,
        diagnostic=diagnostic,
        problems=tuple(problems),
    )


def storable_id(message_id: str) -> str:
    """A Message-ID as email_letters keeps it: within its column (a longer one is cut and
    told apart by a hash of the whole)."""
    message_id = storable_text(message_id)
    if len(message_id) <= MESSAGE_ID_LIMIT:
        return message_id
    digest = hashlib.sha256(message_id.encode("utf-8", "replace")).hexdigest()
    return f"{message_id[: MESSAGE_ID_LIMIT - 65]}#{digest}"


def _safe(read: Callable[[], Any], default: Any) -> Any:
    """What `read` gives, or `default` when it raises (a malformed part, a bad parameter)."""
    try:
        return read()
    except Exception:
        return default


def _cut(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    value = storable_text(value).strip()
    if len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    return value or None


def _one_line(value: str | None) -> str | None:
    return re.sub(r"\s+", " ", value) if value else value


def _header(message: Message, name: str, problems: list[str]) -> str | None:
    """A header's value as text: parsed by the policy, else decoded by hand from the raw
    value (a header the policy cannot parse is still read), else None."""
    try:
        value = message.get(name)
        return None if value is None else str(value)
    except Exception as exc:
        problems.append(f"{name}: {exc!r}"[:200])
    raw = next((v for k, v in _raw_items(message) if k.lower() == name), None)
    if raw is None:
        return None
    try:
        return str(make_header(decode_header(raw)))
    except Exception:
        return str(raw)


def _raw_items(message: Message) -> list[tuple[str, str]]:
    try:
        return [(str(k), str(v)) for k, v in message.raw_items()]  # type: ignore[attr-defined]
    except Exception:
        return []


def _sender(message: Message, problems: list[str]) -> tuple[str | None, str | None]:
    """The name and address in From (Reply-To's address wins: that is where an answer goes)."""
    name = address = None
    try:
        header = message.get("from")
        found = list(getattr(header, "addresses", ()) or ())
        if found:
            name, address = found[0].display_name or None, found[0].addr_spec or None
    except Exception as exc:
        problems.append(f"from: {exc!r}"[:200])
    if address is None:
        raw = _header(message, "from", problems) or ""
        parsed_name, parsed_address = parseaddr(raw)
        name = name or parsed_name or None
        address = parsed_address or None
    reply_to = _header(message, "reply-to", problems)
    if reply_to:
        pairs = _safe(lambda: getaddresses([reply_to]), [])
        if pairs and "@" in pairs[0][1]:
            address = pairs[0][1]
    return name, address


def _first_id(value: str | None) -> str | None:
    ids = _all_ids(value)
    if ids:
        return ids[0]
    value = (value or "").strip().strip("<>").strip()
    return storable_id(value) if value and " " not in value else None


def _all_ids(value: str | None) -> list[str]:
    return [storable_id(found) for found in _MESSAGE_ID.findall(value or "")]


def _decoded(part: Message, problems: list[str]) -> str:
    """A text part's characters: its declared charset, else the usual ones, else UTF-8 with
    the unreadable bytes replaced."""
    data = _safe(lambda: part.get_payload(decode=True), b"")
    if not isinstance(data, bytes):
        data = str(data).encode("utf-8", "replace")
    data = data[: MAX_SOURCE_CHARS * 4]
    declared = _safe(lambda: part.get_content_charset(), None)
    for charset in ([declared] if declared else []) + list(_FALLBACK_CHARSETS):
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    problems.append(f"charset {declared!r} could not be read")
    return data.decode("utf-8", "replace")


def _content(message: Message, problems: list[str]) -> tuple[str, list[Attachment]]:
    """The letter's text (its plain part, else its HTML made text) and its attachments."""
    plain: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    _walk(message, plain, html, attachments, problems, depth=0)
    if plain and any(p.strip() for p in plain):
        text = "\n\n".join(p for p in plain if p.strip())
    elif html:
        text = "\n\n".join(html_to_text(h) for h in html)
    else:
        text = ""
    return trim_reply(text.replace("\r\n", "\n").replace("\r", "\n")), attachments


_MAX_DEPTH = 20  # multiparts inside one another; real letters have 3 or 4


def _walk(
    part: Message,
    plain: list[str],
    html: list[str],
    attachments: list[Attachment],
    problems: list[str],
    depth: int,
) -> None:
    if depth > _MAX_DEPTH:
        problems.append("parts nested too deep")
        return
    content_type = _safe(lambda: part.get_content_type(), "application/octet-stream")
    if content_type.startswith("multipart/"):
        children = _safe(lambda: part.get_payload(), [])
        if not isinstance(children, list):  # a multipart without its boundary: read as text
            plain.append(str(children)[:MAX_SOURCE_CHARS])
            return
        if content_type == "multipart/alternative":  # one of them: plain wins, else the last
            kinds = [_safe(lambda c=c: c.get_content_type(), "") for c in children]
            if "text/plain" in kinds:
                children = [children[kinds.index("text/plain")]]
            elif children:
                children = [children[-1]]
        for child in children:
            _walk(child, plain, html, attachments, problems, depth + 1)
        return
    filename = _filename(part, problems)
    disposition = _safe(lambda: part.get_content_disposition(), None)
    if content_type in ("text/plain", "text/html") and disposition != "attachment" and not filename:
        (plain if content_type == "text/plain" else html).append(_decoded(part, problems))
        return
    if content_type in ("message/delivery-status", "text/rfc822-headers"):
        return  # a DSN's machine part: read by _original_message_id
    if content_type == "message/rfc822":
        data = _safe(lambda: bytes(part.get_payload(0)), b"")  # type: ignore[call-overload]
        name = filename or "message.eml"
    else:
        data = _safe(lambda: part.get_payload(decode=True), b"") or b""
        name = filename or f"attachment-{len(attachments) + 1}"
    attachments.append(Attachment(name, content_type, data if isinstance(data, bytes) else b""))


def _filename(part: Message, problems: list[str]) -> str | None:
    try:
        name = part.get_filename()
    except Exception as exc:
        problems.append(f"filename: {exc!r}"[:200])
        return None
    if not name:
        return None
    # a name is shown and sent as a file's name: no folders, no control characters
    name = re.sub(r"[\x00-\x1f\x7f/\\]", "_", storable_text(str(name))).strip(" .")
    if len(name) > FILENAME_LIMIT:
        _stem, dot, ext = name.rpartition(".")
        ext = ext[:10] if dot and len(ext) <= 10 else ""
        name = name[: FILENAME_LIMIT - len(ext) - 2] + "…" + (f".{ext}" if ext else "")
    return name or None


def _original_message_id(report: Message) -> str | None:
    """The Message-ID of the letter a delivery report (RFC 3464) returns: in its third part,
    the original letter or its headers."""
    for part in _safe(lambda: list(report.walk()), []):
        content_type = _safe(lambda p=part: p.get_content_type(), "")
        if content_type == "message/rfc822":
            inner = _safe(lambda p=part: p.get_payload(0), None)
            found = _first_id(_safe(lambda i=inner: str(i.get("message-id") or ""), ""))
            if found:
                return found
        if content_type == "text/rfc822-headers":
            body = _safe(lambda p=part: p.get_payload(decode=True), b"") or b""
            headers = BytesParser(policy=policy.default).parsebytes(bytes(body), headersonly=True)
            found = _first_id(_safe(lambda h=headers: str(h.get("message-id") or ""), ""))
            if found:
                return found
    return None


def _diagnostic(report: Message) -> str | None:
    """Why the letter did not arrive, from the report's per-recipient fields."""
    for part in _safe(lambda: list(report.walk()), []):
        if _safe(lambda p=part: p.get_content_type(), "") != "message/delivery-status":
            continue
        blocks = _safe(lambda p=part: p.get_payload(), [])
        for block in blocks if isinstance(blocks, list) else []:
            for name in ("diagnostic-code", "status"):
                value = _safe(lambda b=block, n=name: b.get(n), None)
                if value:
                    return _one_line(str(value))
    return None
