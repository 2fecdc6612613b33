"""Which letters are a person writing and which are machines: auto-replies (RFC 3834's
Auto-Submitted, Precedence, Microsoft's and others' X- headers), mailing lists (RFC 2369 /
2919 List-* headers) and bounces (RFC 3464 delivery reports, MAILER-DAEMON / postmaster
senders). Only a person's letter becomes a lead; the others are recorded and left."""

from __future__ import annotations

import enum
import re

from bot.email.letters import IncomingLetter


class LetterKind(enum.StrEnum):
    """What an incoming letter turned out to be; the value is email_letters.outcome."""

    PERSON = "lead"  # a person wrote: a lead, or a thread's lead joined ("joined")
    AUTO_REPLY = "auto_reply"
    LIST = "list"
    BOUNCE = "bounce"


_BULK = {"bulk", "list", "junk", "auto_reply"}
_DAEMONS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.IGNORECASE)


def letter_kind(letter: IncomingLetter) -> LetterKind:
    """Bounce first (a DSN often also says Auto-Submitted), then list, then auto-reply."""
    headers = letter.headers
    if letter.report_type == "delivery-status":
        return LetterKind.BOUNCE
    if _DAEMONS.match(letter.sender_address or ""):
        return LetterKind.BOUNCE
    if headers.get("return-path", "").strip() == "<>" and letter.content_type == "multipart/report":
        return LetterKind.BOUNCE
    if "list-id" in headers or "list-unsubscribe" in headers:
        return LetterKind.LIST
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in ("bulk", "list"):
        return LetterKind.LIST
    auto = headers.get("auto-submitted", "").strip().lower()
    if auto and auto.split(";")[0].strip() != "no":
        return LetterKind.AUTO_REPLY
    if precedence in _BULK:
        return LetterKind.AUTO_REPLY
    if "x-autoreply" in headers or "x-autorespond" in headers:
        return LetterKind.AUTO_REPLY
    return LetterKind.PERSON
