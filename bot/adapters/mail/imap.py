"""The mailbox watcher: reads IMAP_FOLDER with aioimaplib and hands each new letter to the
core (bot/email/intake.py take_letter), which records and processes it in one transaction;
only after that commit is the letter flagged (the `[email] flag` keyword, $Leadbot by
default, so people reading the mailbox keep their own \\Seen). A crash between the commit and
the flag does no harm: the letter's UID is recorded, so it is only flagged next time.

How it waits: IMAP IDLE (RFC 2177) where CAPABILITY lists it, re-issued every `idle_renew`
(servers drop an IDLE after 30 minutes, NAT boxes a silent connection sooner); a dropped
connection ends the wait at once; else SEARCH every `poll_every`. On every (re)connect
it catches up: the UIDs above the highest recorded for this mailbox and UIDVALIDITY (RFC 3501
2.3.1.1: a new UIDVALIDITY means the old UIDs mean nothing), and every letter still without
the flag. A mailbox that is down or refuses the login is tried again after `retry_first`,
doubling up to `retry_max`; the admins are told once after `tell_admins_after` failures in
a row, and told again when it answers.

aioimaplib (https://github.com/bamthomas/aioimaplib, README "IDLE" example): IMAP4 /
IMAP4_SSL, wait_hello_from_server, login, select, uid("search"/"fetch"/"store"),
uid_search, idle_start / wait_server_push / idle_done.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import aioimaplib
from sqlalchemy.exc import SQLAlchemyError

from bot.common.clock import Clock
from bot.config import AppConfig, Settings
from bot.email.intake import (
    MailboxPlace,
    last_uid,
    mailbox_known,
    record_unprocessable,
    recorded_uids,
    set_aside,
    take_letter,
)
from bot.email.mailbox import tell_admins
from storage.db import SessionFactory

log = logging.getLogger("leadbot.mail")

_LOST = [b"connection lost"]  # put in the IDLE queue when the connection drops
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
_UID = re.compile(rb"UID (\d+)")


class MailboxError(Exception):
    """The server said no (a refused login, a folder that is not there, a failed command)."""


@dataclass(frozen=True)
class ImapAccount:
    host: str
    port: int
    user: str
    password: str
    folder: str
    tls: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> ImapAccount | None:
        """The mailbox IMAP_* name; None when IMAP_HOST is not set (e-mail intake is off)."""
        if not settings.imap_host:
            return None
        port = settings.imap_port or (993 if settings.imap_tls else 143)
        password = settings.imap_password.get_secret_value() if settings.imap_password else ""
        return cls(
            settings.imap_host,
            port,
            settings.imap_user or "",
            password,
            settings.imap_folder or "INBOX",
            settings.imap_tls,
        )

    @property
    def mailbox(self) -> str:
        """How email_letters names this mailbox (no password)."""
        return f"{self.user}@{self.host}/{self.folder}"[:255]


class MailboxWatcher:
    def __init__(
        self,
        account: ImapAccount,
        sessions: SessionFactory,
        config: AppConfig,
        clock: Clock,
        leads_chat_id: int | None,
    ) -> None:
        self._account = account
        self._sessions = sessions
        self._config = config
        self._clock = clock
        self._leads_chat_id = leads_chat_id
        self._client: aioimaplib.IMAP4 | None = None
        self._task: asyncio.Task[None] | None = None
        self.failures = 0  # failed attempts in a row
        self.told_down = False
        self.uses_idle: bool | None = None  # known once connected
        self.passes = 0  # catch-ups done (tests wait on it)
        self._lost = False
        self._known = False  # the mailbox was read before (first_start_back is done with)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="mailbox")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def run(self) -> None:
        settings = self._config.email
        while True:
            try:
                client = await self._connect()
                await self._watch(client)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                error = _error_text(exc, self._account.password)
                if self.failures >= settings.tell_admins_after and not self.told_down:
                    try:
                        await self._tell("email_mailbox_down", error)
                        self.told_down = True
                    except Exception:
                        log.exception("could not tell the admins the mailbox is down")
                delay = min(
                    settings.retry_max, settings.retry_first * (2 ** min(self.failures - 1, 20))
                )
                log.warning(
                    "mailbox %s: %s; trying again in %.1fs (failure %d)",
                    self._account.mailbox,
                    error,
                    delay.total_seconds(),
                    self.failures,
                )
                self._close()
                await asyncio.sleep(delay.total_seconds())
            finally:
                self._close()

    async def _healthy(self) -> None:
        """Connected, logged in, the folder selected and read once: the mailbox works."""
        self.failures = 0
        if self.told_down:
            await self._tell("email_mailbox_back", None)
            self.told_down = False

    async def _tell(self, template: str, error: str | None) -> None:
        async with self._sessions() as session:
            await tell_admins(session, template, self._account.mailbox, error, self._clock.now())

    async def _connect(self) -> aioimaplib.IMAP4:
        account = self._account
        timeout = self._config.email.timeout.total_seconds()
        kind = aioimaplib.IMAP4_SSL if account.tls else aioimaplib.IMAP4
        client = kind(host=account.host, port=account.port, timeout=timeout)
        self._client = client
        self._lost = False
        # aioimaplib leaves a command waiting when the connection drops (an IDLE for minutes):
        # a dropped connection ends the wait, and the watcher reconnects
        client.protocol.conn_lost_cb = self._connection_lost
        await client.wait_hello_from_server()
        _ok(await client.login(account.user, account.password), "LOGIN")
        return client

    async def _watch(self, client: aioimaplib.IMAP4) -> None:
        settings = self._config.email
        selected = _ok(await client.select(_quoted(self._account.folder)), "SELECT")
        uidvalidity = _uidvalidity(selected.lines)
        self.uses_idle = settings.idle and client.has_capability("IDLE")
        log.info(
            "mailbox %s watched (%s)", self._account.mailbox, "IDLE" if self.uses_idle else "poll"
        )
        while True:
            self._alive()
            await self._catch_up(client, uidvalidity)
            await self._healthy()
            self._alive()
            if self.uses_idle:
                await self._idle(client, settings.idle_renew)
            else:
                await asyncio.sleep(settings.poll_every.total_seconds())

    async def _idle(self, client: aioimaplib.IMAP4, renew: timedelta) -> None:
        """Wait for the server's word of a new letter (or `renew`: IDLE is re-issued)."""
        # the server's "+ idling" within the command timeout: a connection lost just as IDLE
        # was sent would otherwise leave this waiting for an answer that never comes
        timeout = self._config.email.timeout.total_seconds()
        idle = await asyncio.wait_for(client.idle_start(timeout=renew.total_seconds()), timeout)
        try:
            await client.wait_server_push(timeout=renew.total_seconds() + 5)
        except TimeoutError:
            pass
        self._alive()
        client.idle_done()
        await asyncio.wait_for(idle, timeout)

    async def _catch_up(self, client: aioimaplib.IMAP4, uidvalidity: int) -> None:
        """Every letter not done yet, oldest first: above the highest recorded UID, or still
        without the flag."""
        mailbox = self._account.mailbox
        flag = self._config.email.flag
        if not self._known:
            await self._set_aside_old_mail(client, uidvalidity)
        async with self._sessions() as session:
            highest = await last_uid(session, mailbox, uidvalidity)
        unflagged = await client.uid_search("UNKEYWORD", flag, charset=None)
        found = set(_uids(_ok(unflagged, "SEARCH").lines))
        newer = _ok(await client.uid_search(f"UID {highest + 1}:*", charset=None), "SEARCH")
        # "n:*" names the last letter even when its UID is below n (RFC 3501 6.4.8)
        found.update(uid for uid in _uids(newer.lines) if uid > highest)
        uids = sorted(found)
        if uids:
            async with self._sessions() as session:
                done = await recorded_uids(session, mailbox, uidvalidity, uids)
            for uid in uids:
                if uid not in done:
                    fetched = await self._fetch(client, uid)
                    if fetched is None:
                        continue  # gone meanwhile (expunged)
                    await self._take(
                        fetched[0], MailboxPlace(mailbox, uidvalidity, uid), fetched[1]
                    )
                # only now, after the commit: a crash before this leaves the UID recorded
                _ok(await client.uid("store", str(uid), "+FLAGS.SILENT", f"({flag})"), "STORE")
        self.passes += 1

    async def _set_aside_old_mail(self, client: aioimaplib.IMAP4, uidvalidity: int) -> None:
        """The first read of a mailbox ever: what arrived before `first_start_back` is set
        aside and flagged, never read (an inbox of years must not become a thousand leads)."""
        back = self._config.email.first_start_back
        async with self._sessions() as session:
            known = await mailbox_known(session, self._account.mailbox)
        if not known and back is not None:
            flag = self._config.email.flag
            before = _imap_date(self._clock.now() - back)
            found = await client.uid_search("UNKEYWORD", flag, "BEFORE", before, charset=None)
            uids = _uids(_ok(found, "SEARCH").lines)
            if uids:
                places = [MailboxPlace(self._account.mailbox, uidvalidity, uid) for uid in uids]
                async with self._sessions() as session:
                    await set_aside(session, places, self._clock.now())
                for start in range(0, len(uids), 500):
                    chunk = ",".join(str(uid) for uid in uids[start : start + 500])
                    _ok(await client.uid("store", chunk, "+FLAGS.SILENT", f"({flag})"), "STORE")
        self._known = True

    async def _take(self, raw: bytes, place: MailboxPlace, complete: bool) -> None:
        """The core processes the letter. A database error goes up (the letter is read again
        after the back-off); any other error is the letter's own: it is recorded as ignored,
        so one letter never stops the ones after it."""
        async with self._sessions() as session:
            try:
                await take_letter(
                    session,
                    raw,
                    place,
                    self._clock.now(),
                    self._config,
                    self._leads_chat_id,
                    complete=complete,
                )
            except (asyncio.CancelledError, SQLAlchemyError):
                raise
            except Exception as exc:
                log.exception("letter uid=%s could not be processed", place.uid)
                error = f"{type(exc).__name__}: {exc}"
                await record_unprocessable(session, raw, place, self._clock.now(), error)

    async def _fetch(self, client: aioimaplib.IMAP4, uid: int) -> tuple[bytes, bool] | None:
        """The letter's bytes and whether they are all of it: a letter above max_letter_bytes
        is read in part (its headers and the first max_text_bytes of its body); what could be
        read still becomes a lead."""
        settings = self._config.email
        sized = _ok(await client.uid("fetch", str(uid), "(RFC822.SIZE)"), "FETCH")
        size = next((int(m.group(1)) for line in sized.lines if (m := _SIZE.search(line))), None)
        if size is None:
            return None
        parts = "(BODY.PEEK[])"
        complete = size <= settings.max_letter_bytes
        if not complete:
            parts = f"(BODY.PEEK[HEADER] BODY.PEEK[TEXT]<0.{settings.max_text_bytes}>)"
            log.warning("letter uid=%s is %d bytes: read in part", uid, size)
        fetched = _ok(await client.uid("fetch", str(uid), parts), "FETCH")
        # the literals (headers, then the body) come as bytearrays between the response lines
        chunks = [bytes(line) for line in fetched.lines if isinstance(line, bytearray)]
        return (b"".join(chunks), complete) if chunks else None

    def _connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        client = self._client
        if client is not None:
            client.protocol.idle_queue.put_nowait(_LOST)

    def _alive(self) -> None:
        if self._lost:
            raise MailboxError("the connection was lost")

    def _close(self) -> None:
        """Drop the connection at once (a stop or a failure: no LOGOUT round trip)."""
        client, self._client = self._client, None
        if client is None:
            return
        for task in list(client.tasks):
            task.cancel()
        client._client_task.cancel()
        transport = getattr(client.protocol, "transport", None)
        if transport is not None:
            transport.close()


def _ok(response: aioimaplib.Response, command: str) -> aioimaplib.Response:
    if response.result != "OK":
        said = b" ".join(bytes(line) for line in response.lines[-1:]).decode("utf-8", "replace")
        raise MailboxError(f"{command} refused: {said[:200]}")
    return response


def _uidvalidity(lines: list[bytes]) -> int:
    for line in lines:
        found = _UIDVALIDITY.search(bytes(line))
        if found:
            return int(found.group(1))
    raise MailboxError("SELECT gave no UIDVALIDITY")


def _uids(lines: list[bytes]) -> list[int]:
    """The numbers of a SEARCH answer (its first line; the last one is "Search completed")."""
    for line in lines[:-1]:
        text = bytes(line).decode("ascii", "replace")
        if text.startswith("SEARCH"):
            text = text.removeprefix("SEARCH")
        return [int(word) for word in text.split() if word.isdigit()]
    return []


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _imap_date(moment: datetime) -> str:
    """RFC 3501's date for SEARCH: 5-Dec-2026 (English months, whatever the locale)."""
    return f"{moment.day}-{_MONTHS[moment.month - 1]}-{moment.year}"


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _error_text(exc: BaseException, password: str) -> str:
    """Why, for the log and the admins: never the password (a timed-out LOGIN's command is
    in its exception's text)."""
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "no answer (timeout)"
    text = str(exc) or type(exc).__name__
    if password:
        text = text.replace(password, "***")
    return text[:200]
