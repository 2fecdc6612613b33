"""An outgoing letter as the mail server receives it: text/plain in UTF-8, in the client's
thread (In-Reply-To, References), with the Message-ID made when it was queued and the Date
it was written, so a letter sent again after a crash is the same letter.

Built with the standard `email` package under its SMTP policy, which refuses a header value
holding CR or LF (bot/email/threads.py has taken them out already: two locks on one door)
and encodes non-ASCII subjects and names (RFC 2047) and the body (quoted-printable or
base64, lines within 998 bytes)."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from storage.models import EmailLetter


def letter_message(letter: EmailLetter) -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = letter.from_address or ""
    message["To"] = letter.to_address or ""
    message["Subject"] = letter.subject or "Re:"
    message["Date"] = format_datetime(letter.created_at)
    message["Message-ID"] = f"<{letter.message_id}>"
    if letter.in_reply_to:
        message["In-Reply-To"] = f"<{letter.in_reply_to}>"
    if letter.thread_refs:
        message["References"] = letter.thread_refs
    message.set_content(letter.body or "", charset="utf-8")
    return message
