"""The mail sender: sends the outgoing letters (bot/email/outgoing.py) to the team's SMTP
server, at least once, each settled on its own.

Woken when a transaction that queued a letter commits (as the notifier and the webhook
sender are), it claims the letters due and sends each with aiosmtplib
(https://aiosmtplib.readthedocs.io: `aiosmtplib.send(message, hostname, port, username,
password, use_tls, start_tls, timeout)`; SMTP_TLS `ssl` is `use_tls`, implicit TLS on 465;
`starttls` is `start_tls=True` on 587; `none` is plain SMTP, never upgraded). What the
server answers decides (RFC 5321 section 4.2.1):

- it took the letter (250): sent; the manager is told "✉️ sent to <address>";
- no connection, a timeout, a 4xx answer (a "try again later"): tried again after a growing
  back-off, until `[email_delivery] give_up_after`, then failed and the manager told;
- a 5xx refusal of the address or of the letter (550 no such user, 554 refused): a bounce,
  recorded on the lead at once (bot/email/bounces.py), the manager told, never retried;
- a 5xx to our own login or sender address (535, 553): the team's set-up is wrong, not the
  client's address; retried like a 4xx, so the letters go once an admin fixes it.

A letter with an attachment has its file fetched from Telegram (`files`, getFile) just before
it is sent: Telegram not answering is a failure for now (retried), a file Telegram refuses
fails the letter (the manager told). A crash between the server taking a letter and its
being recorded sends it again with the same Message-ID (made when it was queued), which the
client's mail program shows once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from typing import Literal

import aiosmtplib

from bot.adapters.mail.message import letter_message
from bot.common.clock import Clock
from bot.config import AppConfig, Settings
from bot.email.bounces import record_bounce
from bot.email.outgoing import (
    claim_letters,
    due_again_now,
    letter_given_up,
    letter_postponed,
    letter_sent,
    next_letter_at,
    release_letters,
)
from bot.email.threads import address_of
from storage.db import SessionFactory
from storage.models import EmailLetter

log = logging.getLogger("leadbot.mail")

IDLE_WAKE = timedelta(seconds=5)  # letters another instance let go of are looked for this often
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
# a Telegram file's bytes by its file_id (bot/adapters/telegram/files.py): getFile and the
# download, through the one Bot API path. Raises FileGone when Telegram no longer has it;
# anything else it raises is a failure for now (the letter is tried again).
FetchFile = Callable[[str], Awaitable[bytes]]


class FileGone(Exception):
    """The attachment's file cannot be fetched, ever (Telegram refused its file_id)."""


class NotFetched(Exception):
    """The attachment's file could not be fetched now: the letter is tried again."""


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


class MailSender:
    def __init__(
        self,
        sessions: SessionFactory,
        config: AppConfig,
        server: SmtpServer | None,
        clock: Clock,
        *,
        max_in_flight: int = 8,
        send: SendLetter = send_letter,
        files: FetchFile | None = None,
    ) -> None:
        self._sessions = sessions
        self._config = config
        self._rules = config.email_delivery
        self._server = server
        self._clock = clock  # the application's: a test or sandbox jump makes back-offs due
        self._send = send
        self._files = files
        self._max_in_flight = max_in_flight
        self._in_flight: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._failing = False  # the last attempt here failed for want of the server
        self._wake = asyncio.Event()
        self._stopping = False

    @property
    def enabled(self) -> bool:
        return self._server is not None

    @property
    def busy(self) -> bool:
        return bool(self._in_flight)

    def wake(self) -> None:
        self._wake.set()

    async def deliver_due(self, limit: int = 100) -> int:
        """One round: claim what is due now, send it all, settle each; how many were tried.
        Tests drive the sender with this and a moved clock (never sleeping for a back-off)."""
        letters = await self._claim(limit)
        await asyncio.gather(*(self._deliver(letter) for letter in letters))
        return len(letters)

    async def run(self) -> None:
        """Send until stopped or cancelled; nothing to do while SMTP is not configured."""
        if self._server is None:
            return
        try:
            while not self._stopping:
                self._wake.clear()
                try:
                    room = self._max_in_flight - len(self._in_flight)
                    letters = await self._claim(room) if room > 0 else []
                    for letter in letters:
                        task = asyncio.create_task(self._deliver(letter), name=f"mail-{letter.id}")
                        self._tasks.add(task)
                        task.add_done_callback(self._tasks.discard)
                    if letters:
                        continue
                    await self._sleep_until_due()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("mail claim failed; retrying in 1s")
                    await asyncio.sleep(1)
        finally:
            if not self._stopping:
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def stop(self, grace: float = 2.0) -> None:
        """Let letters in flight finish (for up to `grace` seconds), hand back the rest."""
        self._stopping = True
        self.wake()
        if self._tasks:
            _, waiting = await asyncio.wait(list(self._tasks), timeout=grace)
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)
        if self._in_flight:  # their leases would hold them from another instance till they end
            with contextlib.suppress(Exception):
                async with self._sessions() as session:
                    await release_letters(session, list(self._in_flight))
                    await session.commit()

    async def _claim(self, limit: int) -> list[EmailLetter]:
        if self._server is None:
            return []
        async with self._sessions() as session:
            letters = await claim_letters(
                session, self._clock.now(), limit, self._rules.claim_lease, held=self._in_flight
            )
        fresh = [letter for letter in letters if letter.id not in self._in_flight]
        self._in_flight.update(letter.id for letter in fresh)
        return fresh

    async def _sleep_until_due(self) -> None:
        async with self._sessions() as session:
            due = await next_letter_at(session)
        wait = IDLE_WAKE
        if due is not None:
            wait = min(wait, max(due - self._clock.now(), timedelta(milliseconds=10)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), wait.total_seconds())

    async def _deliver(self, letter: EmailLetter) -> None:
        assert self._server is not None
        try:
            content = await self._attachment(letter)
            attempt = await self._send(
                self._server, letter_message(letter, content), self._rules.timeout.total_seconds()
            )
        except FileGone as gone:
            attempt = Attempt(False, str(gone), gave_up=True)
        except NotFetched as failed:
            attempt = Attempt(False, str(failed))
        except Exception as exc:  # a bug: the letter is tried again, never lost
            log.exception("mail attempt crashed letter=%s", letter.id)
            attempt = Attempt(False, f"{type(exc).__name__}: {exc}"[:500])
        try:
            await self._settle(letter, attempt)
        except Exception:
            # sent but not recorded: it goes again (same Message-ID) once its claim ends
            log.exception("mail settle failed letter=%s: tried again after its lease", letter.id)
        finally:
            self._in_flight.discard(letter.id)
            self.wake()

    async def _attachment(self, letter: EmailLetter) -> bytes | None:
        """The attachment's bytes, fetched from Telegram now (never stored by leadbot)."""
        if not letter.attachment:
            return None
        if self._files is None:
            raise FileGone("attachments cannot be fetched here")
        try:
            return await self._files(str(letter.attachment["file_id"]))
        except FileGone:
            raise
        except Exception as exc:  # Telegram down, a 429: the letter waits like for a 4xx
            raise NotFetched(f"the file could not be fetched from Telegram ({exc})"[:500]) from exc

    async def _settle(self, letter: EmailLetter, attempt: Attempt) -> None:
        async with self._sessions() as session:
            now = self._clock.now()
            if attempt.ok:
                await letter_sent(session, letter, now, self._config)
                if self._failing:  # the server answers again: its back-offs end now
                    self._failing = False
                    await due_again_now(session, now)
                await session.commit()
                log.info("letter sent letter=%s lead=%s", letter.id, letter.lead_id)
                return
            if attempt.gave_up:
                await letter_given_up(session, letter, attempt.error, now)
                await session.commit()
                log.warning("letter given up letter=%s: %s", letter.id, attempt.error)
                return
            if attempt.permanent:
                await record_bounce(session, letter.message_id, attempt.error, now, self._config)
                await session.commit()
                log.warning(
                    "letter refused letter=%s lead=%s: %s", letter.id, letter.lead_id, attempt.error
                )
                return
            self._failing = True
            gave_up = await letter_postponed(session, letter, attempt.error, now, self._config)
            await session.commit()
        log.warning(
            "letter %s letter=%s lead=%s attempts=%s error=%s",
            "failed" if gave_up else "postponed",
            letter.id,
            letter.lead_id,
            letter.attempts + 1,
            attempt.error,
        )
