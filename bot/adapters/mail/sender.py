"""The mail sender: sends the outgoing letters (bot/email/outgoing.py) to the team's SMTP
server (smtp.py), at least once, each settled on its own.

Woken when a transaction that queued a letter commits (as the notifier and the webhook
sender are), it claims the letters due, sends each and settles it: sent (the manager is told
"✉️ sent to <address>"); a failure for now tried again after a growing back-off, until
`[email_delivery] give_up_after`, then failed and the manager told; a permanent refusal a
bounce, recorded on the lead at once (bot/email/bounces.py), never retried.

A letter with an attachment has its file fetched from Telegram (`files`, getFile) just before
it is sent: Telegram not answering is a failure for now (retried), a file Telegram refuses
fails the letter (the manager told). A crash between the server taking a letter and its
being recorded sends it again with the same Message-ID (made when it was queued), which the
client's mail program shows once."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.mail.message import letter_message
from bot.adapters.mail.smtp import Attempt, SendLetter, SmtpServer, send_letter
from bot.adapters.queue_worker import QueueWorker
from bot.common.clock import Clock
from bot.config import AppConfig
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
from storage.db import SessionFactory
from storage.models import EmailLetter

log = logging.getLogger("leadbot.mail")

# a Telegram file's bytes by its file_id (bot/adapters/telegram/files.py): getFile and the
# download, through the one Bot API path. Raises FileGone when Telegram no longer has it;
# anything else it raises is a failure for now (the letter is tried again).
FetchFile = Callable[[str], Awaitable[bytes]]


class FileGone(Exception):
    """The attachment's file cannot be fetched, ever (Telegram refused its file_id)."""


class NotFetched(Exception):
    """The attachment's file could not be fetched now: the letter is tried again."""


class MailSender(QueueWorker[EmailLetter]):
    name = "mail"

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
        super().__init__(sessions, clock, max_in_flight, log)
        self._config = config
        self._rules = config.email_delivery
        self._server = server
        self._send = send
        self._files = files
        self._failing = False  # the last attempt here failed for want of the server

    @property
    def enabled(self) -> bool:
        return self._server is not None

    async def _claim_rows(
        self, session: AsyncSession, now: datetime, limit: int, held: set[int]
    ) -> Sequence[EmailLetter]:
        return await claim_letters(session, now, limit, self._rules.claim_lease, held=held)

    async def _next_due(self, session: AsyncSession) -> datetime | None:
        return await next_letter_at(session)

    async def _release(self, session: AsyncSession, ids: list[int]) -> None:
        await release_letters(session, ids)

    async def _deliver_one(self, letter: EmailLetter) -> None:
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
        # sent but not recorded (settling fails): it goes again, with the same Message-ID,
        # once its claim ends
        await self._settle(letter, attempt)

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
