"""A real IMAP server for the e-mail intake tests: Dovecot started by scripts/test-imap
(TEST_IMAP_URL), a user of its own for each test (so a clean mailbox), letters delivered by
IMAP APPEND, and a switchable forwarder in front of it to take the mailbox down and back."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aioimaplib

_users = itertools.count(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ImapMailbox:
    host: str
    port: int
    user: str
    password: str
    folder: str = "INBOX"
    _forwarder: asyncio.Server | None = field(default=None, repr=False)
    _piped: list[asyncio.StreamWriter] = field(default_factory=list, repr=False)

    def settings(self, port: int | None = None) -> dict[str, Any]:
        """The IMAP_* settings that point the application at this mailbox."""
        return {
            "imap_host": self.host,
            "imap_port": port or self.port,
            "imap_user": self.user,
            "imap_password": self.password,
            "imap_folder": self.folder,
            "imap_tls": False,
        }

    @contextlib.asynccontextmanager
    async def client(self) -> Any:
        client = aioimaplib.IMAP4(host=self.host, port=self.port, timeout=10)
        await client.wait_hello_from_server()
        response = await client.login(self.user, self.password)
        assert response.result == "OK", response
        try:
            yield client
        finally:
            await client.logout()

    async def deliver(self, *letters: bytes) -> None:
        """Put letters in the folder as a mail server's delivery would (IMAP APPEND)."""
        async with self.client() as client:
            for raw in letters:
                response = await client.append(raw, mailbox=self.folder)
                assert response.result == "OK", response

    async def flags(self) -> dict[int, set[str]]:
        """Each letter's UID and flags."""
        async with self.client() as client:
            await client.select(self.folder)
            response = await client.uid("fetch", "1:*", "(UID FLAGS)")
        found: dict[int, set[str]] = {}
        for line in response.lines:
            text = bytes(line).decode()
            if "FETCH" in text and "UID" in text:
                uid = int(text.split("UID ")[1].split()[0])
                flags = text.split("FLAGS (")[1].split(")")[0].split()
                found[uid] = set(flags)
        return found

    async def unflag(self, uid: int, flag: str = "$Leadbot") -> None:
        async with self.client() as client:
            await client.select(self.folder)
            response = await client.uid("store", str(uid), "-FLAGS.SILENT", f"({flag})")
            assert response.result == "OK", response

    async def open_forwarder(self, port: int) -> None:
        """Let the application reach the mailbox through `port` (until close_forwarder)."""

        async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            upstream_reader, upstream_writer = await asyncio.open_connection(self.host, self.port)
            self._piped += [writer, upstream_writer]

            async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
                with contextlib.suppress(Exception):
                    while data := await src.read(65536):
                        dst.write(data)
                        await dst.drain()
                dst.close()

            await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

        self._forwarder = await asyncio.start_server(forward, "127.0.0.1", port)

    async def close_forwarder(self) -> None:
        """The mailbox goes down: nothing answers on the port, open connections drop."""
        if self._forwarder is not None:
            self._forwarder.close()
            self._forwarder = None
        for writer in self._piped:
            writer.close()
        self._piped.clear()


def imap_server_url() -> str | None:
    return os.environ.get("TEST_IMAP_URL")


def new_mailbox(url: str, worker: int | None) -> ImapMailbox:
    """A user nobody else has used in this run: its mailbox is empty."""
    parsed = urlsplit(url)
    user = f"t{os.getpid()}w{worker or 0}n{next(_users)}"
    return ImapMailbox(
        parsed.hostname or "127.0.0.1", parsed.port or 143, user, parsed.password or ""
    )
