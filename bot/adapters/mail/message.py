"""An outgoing letter as the mail server receives it: text/plain in UTF-8, in the client's
thread (In-Reply-To, References), with the Message-ID made when it was queued and the Date
it was written; a photo or file the manager answered with as an attachment, under a boundary
made from the Message-ID. So a letter sent again after a crash is the same letter.

Built with the standard `email` package under its SMTP policy, which refuses a header value
holding CR or LF (bot/email/threads.py has taken them out already: two locks on one door)
and encodes non-ASCII subjects, names and file names (RFC 2047 / RFC 2231) and the body
(quoted-printable or base64, lines within 998 bytes)."""

from __future__ import annotations

import hashlib
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from bot.email.threads import bracketed, one_line
from storage.models import EmailLetter


def letter_message(letter: EmailLetter, content: bytes | None = None) -> EmailMessage:
    """The letter; `content` is its attachment's bytes (fetched from Telegram), if it has one."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = letter.from_address or ""
    message["To"] = letter.to_address or ""
    message["Subject"] = letter.subject or "Re:"
    message["Date"] = format_datetime(letter.created_at)
    message["Message-ID"] = bracketed(letter.message_id)
    if letter.in_reply_to:
        message["In-Reply-To"] = bracketed(letter.in_reply_to)
    if letter.thread_refs:
        message["References"] = letter.thread_refs
    message.set_content(letter.body or "", charset="utf-8")
    if letter.attachment and content is not None:
        kind = str(letter.attachment.get("type") or "application/octet-stream")
        maintype, _, subtype = kind.partition("/")
        if not maintype or not subtype or "\n" in kind or "\r" in kind:
            maintype, subtype = "application", "octet-stream"
        name = one_line(str(letter.attachment.get("name") or "file"), 200) or "file"
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
        digest = hashlib.sha256(letter.message_id.encode()).hexdigest()[:32]
        message.set_boundary(f"=_leadbot_{digest}")
    return message
