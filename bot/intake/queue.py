"""Group commit for intake: requests that arrive together are stored in one transaction.

A commit (and its thread hops) costs far more than the rows it writes, so one writer takes
whatever has queued up while the previous batch was committing and stores it all at once.
No request waits for a timer: an idle queue commits a single lead straight away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from bot.common.clock import Clock
from bot.common.metrics import CREATED, DUPLICATE, FAILED, REPEATED, Metrics
from bot.config import AppConfig
from bot.intake.input import IntakeResult, LeadInput
from bot.intake.store import intake_leads
from storage.db import SessionFactory

log = logging.getLogger("leadbot.intake")


@dataclass
class _Pending:
    item: LeadInput
    done: asyncio.Future[IntakeResult]


class IntakeQueue:
    def __init__(
        self,
        sessions: SessionFactory,
        clock: Clock,
        leads_chat_id: int | None,
        max_batch: int = 256,
        config: AppConfig | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._sessions = sessions
        self._metrics = metrics
        self._config = config
        self._clock = clock
        self._leads_chat_id = leads_chat_id
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_forever(), name="intake-writer")

    async def stop(self) -> None:
        """Finish what was accepted, then stop."""
        if self._writer is None:
            return
        await self._queue.join()
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        self._writer = None

    async def submit(self, item: LeadInput) -> IntakeResult:
        """Store one request; returns once it is committed."""
        if self._writer is None:
            raise RuntimeError("intake queue is not running")
        done: asyncio.Future[IntakeResult] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(item, done))
        return await done

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._write(batch)
            for _ in batch:
                self._queue.task_done()

    async def _write(self, batch: list[_Pending]) -> None:
        try:
            results = await self._store([pending.item for pending in batch])
        except Exception:
            if len(batch) == 1:
                log.exception("lead not stored source=%s", batch[0].item.source)
                self._count(batch[0].item, FAILED)
                _settle(batch[0], error=RuntimeError("the lead could not be stored"))
                return
            # one bad request (or a race with another instance) must not sink the others
            log.warning("batch of %d failed; storing one by one", len(batch))
            for pending in batch:
                await self._write([pending])
            return
        for pending, result in zip(batch, results, strict=True):
            _settle(pending, result=result)
            self._count(pending.item, _answer(result))
            if result.created:
                log.info("lead created lead=%s source=%s", result.lead_id, pending.item.source)
            elif result.duplicate_of:
                log.info("lead appended lead=%s source=%s", result.lead_id, pending.item.source)

    def _count(self, item: LeadInput, answer: str) -> None:
        if self._metrics is not None:
            self._metrics.lead_received(item.source, answer)

    async def _store(self, items: list[LeadInput]) -> list[IntakeResult]:
        async with self._sessions() as session:
            return await intake_leads(
                session, items, self._clock.now(), self._leads_chat_id, self._config
            )


def _answer(result: IntakeResult) -> str:
    if result.created:
        return CREATED
    return DUPLICATE if result.duplicate_of else REPEATED


def _settle(
    pending: _Pending, result: IntakeResult | None = None, error: Exception | None = None
) -> None:
    if pending.done.done():  # the client went away; the lead is stored all the same
        return
    if error is not None:
        pending.done.set_exception(error)
    else:
        assert result is not None
        pending.done.set_result(result)
