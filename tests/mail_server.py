"""A real SMTP server for the e-mail tests: aiosmtpd (https://aiosmtpd.readthedocs.io), in
the test's own event loop on a free port of 127.0.0.1. It keeps every letter it took (the
envelope and the parsed message) and answers as a test tells it: refuse the next recipient
for good ("550 5.1.1 ..."), defer the next letter ("451 4.3.0 ..."), or be down (nothing
listens: connection refused), and come back on the same port. With `login`, it asks for
AUTH (PLAIN / LOGIN, allowed without TLS here) and takes only that user and password."""

from __future__ import annotations

import asyncio
import warnings
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


class MailServer:
    def __init__(self, login: tuple[str, str] | None = None) -> None:
        self.received: list[Received] = []
        self.attempts = 0  # connections that got as far as a recipient
        self._login = login
        self._rcpt_answers: list[str] = []
        self._data_answers: list[str] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    # --- what the test tells it ------------------------------------------------------------

    def refuse_next(self, answer: str = "550 5.1.1 <kate@example.com>: no such user") -> None:
        """The next recipient is refused with `answer` (a 5xx: for good; a 4xx: for now)."""
        self._rcpt_answers.append(answer)

    def defer_next(self, answer: str = "451 4.3.0 Try again later", count: int = 1) -> None:
        """The next `count` letters are answered `answer` after their DATA."""
        self._data_answers += [answer] * count

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        """Nothing listens on the port any more: a connection is refused."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def up(self) -> None:
        """Listening again, on the same port."""
        await self.start()

    async def stop(self) -> None:
        await self.down()

    # --- the server side -------------------------------------------------------------------

    def _protocol(self) -> SMTP:
        options: dict[str, Any] = {}
        if self._login is not None:
            options = {
                "auth_required": True,
                "auth_require_tls": False,
                "authenticator": self._authenticate,
            }
        with warnings.catch_warnings():  # AUTH without TLS: on purpose, on 127.0.0.1
            warnings.simplefilter("ignore", UserWarning)
            return SMTP(self, hostname="mail.test", **options)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and self._login == (
            data.login.decode(),
            data.password.decode(),
        )
        # handled=False: aiosmtpd answers a failure itself (535)
        return AuthResult(success=ok, handled=False)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        self.attempts += 1
        if self._rcpt_answers:
            return self._rcpt_answers.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self._data_answers:
            return self._data_answers.pop(0)
        raw = envelope.original_content or b""
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(
            Received(str(envelope.mail_from), list(envelope.rcpt_tos), message, raw)
        )
        return "250 2.0.0 OK: queued"
