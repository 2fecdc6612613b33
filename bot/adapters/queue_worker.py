"""What the senders of a database queue share (the webhook sender, the mail sender): claim the
rows due, deliver each in its own task (up to `max_in_flight` at once), settle it, sleep until
the next is due or a commit wakes the sender, and on stop hand back the rows still held.

A subclass says how rows are claimed, delivered and released, and when the next one is due;
the rows' leases (bot/common/deliveries.py, bot/email/outgoing.py) make a row another
instance's once this one stops holding it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.clock import Clock
from storage.db import SessionFactory

IDLE_WAKE = timedelta(seconds=5)  # rows another instance let go of are looked for this often


class QueueRow(Protocol):
    @property
    def id(self) -> int: ...


Row = TypeVar("Row", bound=QueueRow)


class QueueWorker(ABC, Generic[Row]):
    """A sender of one queue's rows, at least once, each settled on its own."""

    name = "queue"  # the tasks' names and the log's words
    round_limit = 100  # rows a test's round claims at most

    def __init__(
        self, sessions: SessionFactory, clock: Clock, max_in_flight: int, log: logging.Logger
    ) -> None:
        self._sessions = sessions
        self._clock = clock  # the application's: a test or sandbox jump makes back-offs due
        self._max_in_flight = max_in_flight
        self._log = log
        self._in_flight: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    @property
    def busy(self) -> bool:
        return bool(self._in_flight)

    @property
    @abstractmethod
    def enabled(self) -> bool:
        """Whether there is anywhere to deliver to (nothing is claimed otherwise)."""

    @abstractmethod
    async def _claim_rows(
        self, session: AsyncSession, now: datetime, limit: int, held: set[int]
    ) -> Sequence[Row]: ...

    @abstractmethod
    async def _next_due(self, session: AsyncSession) -> datetime | None: ...

    @abstractmethod
    async def _release(self, session: AsyncSession, ids: list[int]) -> None: ...

    @abstractmethod
    async def _deliver_one(self, row: Row) -> None:
        """Send the row and settle it; an exception leaves it to its lease (tried again)."""

    async def _round_start(self) -> None:
        """Housekeeping before each claim (e.g. pruning delivered rows)."""

    async def _closed(self) -> None:
        """Let go of connections once stopped."""

    async def deliver_due(self, limit: int | None = None) -> int:
        """One round: claim what is due now, send it all, settle each; how many were tried.
        Tests drive the sender with this and a moved clock (never sleeping for a back-off)."""
        rows = await self._claim(self.round_limit if limit is None else limit)
        await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    async def run(self) -> None:
        """Deliver until stopped or cancelled: rows go out as soon as they are due, up to
        `max_in_flight` at once, each settled on its own."""
        if not self.enabled:
            return
        try:
            while not self._stopping:
                self._wake.clear()
                try:
                    await self._round_start()
                    room = self._max_in_flight - len(self._in_flight)
                    rows = await self._claim(room) if room > 0 else []
                    for row in rows:
                        task = asyncio.create_task(self._deliver(row), name=f"{self.name}-{row.id}")
                        self._tasks.add(task)
                        task.add_done_callback(self._tasks.discard)
                    if rows:
                        continue
                    await self._sleep_until_due()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    self._log.exception("%s claim failed; retrying in 1s", self.name)
                    await asyncio.sleep(1)
        finally:
            if not self._stopping:
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def stop(self, grace: float = 2.0) -> None:
        """Let deliveries in flight finish (for up to `grace` seconds), hand back the rest."""
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
                    await self._release(session, list(self._in_flight))
                    await session.commit()
        await self._closed()

    async def _claim(self, limit: int) -> list[Row]:
        if not self.enabled:
            return []
        async with self._sessions() as session:
            rows = await self._claim_rows(session, self._clock.now(), limit, self._in_flight)
        fresh = [row for row in rows if row.id not in self._in_flight]
        self._in_flight.update(row.id for row in fresh)
        return fresh

    async def _sleep_until_due(self) -> None:
        async with self._sessions() as session:
            due = await self._next_due(session)
        wait = IDLE_WAKE
        if due is not None:
            wait = min(wait, max(due - self._clock.now(), timedelta(milliseconds=10)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), wait.total_seconds())

    async def _deliver(self, row: Row) -> None:
        try:
            await self._deliver_one(row)
        except Exception:
            self._log.exception(
                "%s settle failed row=%s: tried again after its lease", self.name, row.id
            )
        finally:
            self._in_flight.discard(row.id)
            self.wake()
