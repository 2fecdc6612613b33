"""One attempt at handing a letter to the team's SMTP server, and what its answer means.

Sent with aiosmtplib (https://aiosmtplib.readthedocs.io: `aiosmtplib.send(message, hostname,
port, username, password, use_tls, start_tls, timeout)`; SMTP_TLS `ssl` is `use_tls`,
implicit TLS on 465; `starttls` is `start_tls=True` on 587; `none` is plain SMTP, never
upgraded). What the server answers decides (RFC 5321 section 4.2.1):

- it took the letter (250): sent;
- no connection, a timeout, a 4xx answer (a "try again later"): a failure for now;
- a 5xx refusal of the address or of the letter (550 no such user, 554 refused): permanent,
  a bounce;
- a 5xx to our own login or sender address (535, 553): the team's set-up is wrong, not the
  client's address; a failure for now, so the letters go once an admin fixes it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal

import aiosmtplib

from bot.config import Settings
from bot.email.threads import address_of

DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}


@dataclass(frozen=True)
class SmtpServer:
    """The team's outgoing mail server, from SMTP_* in the environment."""

    host: str
    port: int
    tls: Literal["none", "starttls", "ssl"]
    sender: str  # SMTP_FROM, as the From header has it ("Sales <sales@example.com>")
    user: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a log line

    @classmethod
    def of(cls, settings: Settings) -> SmtpServer | None:
        """None when e-mail replies are off (SMTP_HOST or SMTP_FROM unset)."""
        if not settings.smtp_host or not settings.smtp_from:
            return None
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port or DEFAULT_PORTS[settings.smtp_tls],
            tls=settings.smtp_tls,
            sender=settings.smtp_from,
            user=settings.smtp_user or None,
            password=password,
        )


@dataclass(frozen=True)
class Attempt:
    ok: bool
    error: str = ""
    permanent: bool = False  # a 5xx refusal of the address or letter: a bounce
    gave_up: bool = False  # it cannot be sent at all (its attachment is gone): failed


SendLetter = Callable[[SmtpServer, EmailMessage, float], Awaitable[Attempt]]


def _answer(code: int, message: str) -> str:
    return f"{code} {' '.join(message.split())}"[:500]


async def send_letter(server: SmtpServer, message: EmailMessage, within: float) -> Attempt:
    """One attempt at handing `message` to the server; what came of it."""
    sender = address_of(message["From"]) or ""
    recipient = address_of(message["To"]) or ""
    try:
        await aiosmtplib.send(
            message,
            sender=sender,
            recipients=[recipient],
            hostname=server.host,
            port=server.port,
            username=server.user,
            password=server.password,
            use_tls=server.tls == "ssl",
            start_tls=server.tls == "starttls",
            timeout=within,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refused = exc.recipients[0] if exc.recipients else None
        if refused is None:
            return Attempt(False, "the mail server refused the address")
        return Attempt(False, _answer(refused.code, refused.message), refused.code >= 500)
    except aiosmtplib.SMTPRecipientRefused as exc:
        return Attempt(False, _answer(exc.code, exc.message), exc.code >= 500)
    except aiosmtplib.SMTPDataError as exc:  # the letter itself refused
        return Attempt(False, _answer(exc.code, exc.message), exc.code >= 500)
    except aiosmtplib.SMTPAuthenticationError as exc:
        return Attempt(
            False, f"login refused (SMTP_USER / SMTP_PASSWORD): {_answer(exc.code, exc.message)}"
        )
    except aiosmtplib.SMTPResponseException as exc:  # sender refused, HELO refused...
        return Attempt(False, _answer(exc.code, exc.message))
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return Attempt(False, f"the mail server did not answer ({type(exc).__name__}: {exc})"[:500])
    return Attempt(True)
