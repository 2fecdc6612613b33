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

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.adapters.mail.message import letter_message
from bot.adapters.mail.smtp import Attempt, SendLetter, SmtpServer, send_letter
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

IDLE_WAKE = timedelta(seconds=5)  # letters another instance let go of are looked for this often

# a Telegram file's bytes by its file_id (bot/adapters/telegram/files.py): getFile and the
# download, through the one Bot API path. Raises FileGone when Telegram no longer has it;
# anything else it raises is a failure for now (the letter is tried again).
FetchFile = Callable[[str], Awaitable[bytes]]


class FileGone(Exception):
    """The attachment's file cannot be fetched, ever (Telegram refused its file_id)."""


class NotFetched(Exception):
    """The attachment's file could not be fetched now: the letter is tried again."""


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
