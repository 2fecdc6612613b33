"""The webhook sender: drains webhook_deliveries into HTTP, in order per lead, at least once.

Woken when a transaction that wrote delivery rows commits (as the notifier is), it claims due
rows (bot/common/deliveries.py: only the first pending row of each lead and target, so a lead's
events arrive in order), sends each (a signed POST, or the Bitrix24 hand-off) and settles it:
delivered, or retried after the back-off, or failed past `give_up_after` with the admins told.
A target that answers again after failing has its rows backing off made due at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

import aiohttp

from bot.adapters.webhooks.attempt import Attempt
from bot.adapters.webhooks.bitrix24 import Bitrix24Client, Bitrix24HandOff
from bot.adapters.webhooks.post import post_event
from bot.common.clock import Clock
from bot.common.deliveries import (
    attempt_failed,
    claim_deliveries,
    delivered,
    due_again_now,
    forget_delivered,
    next_delivery_at,
    release_deliveries,
)
from bot.config import BITRIX24_TARGET, AppConfig, OutboundSecrets
from storage.db import SessionFactory
from storage.models import HookDelivery

log = logging.getLogger("leadbot.webhooks")

IDLE_WAKE = timedelta(seconds=5)  # rows another instance let go of are looked for this often
PRUNE_EVERY = timedelta(hours=1)


class WebhookSender:
    def __init__(
        self,
        sessions: SessionFactory,
        config: AppConfig,
        secrets: OutboundSecrets,
        clock: Clock,
        *,
        max_in_flight: int = 32,
    ) -> None:
        self._sessions = sessions
        self._config = config
        self._rules = config.webhook_delivery
        self._clock = clock
        self._hooks = {
            hook.name: (hook.url, secrets.webhooks[hook.name]) for hook in config.webhooks
        }
        self._hand_off: Bitrix24HandOff | None = None
        if config.crm.bitrix24 is not None and secrets.bitrix24_url is not None:
            client = Bitrix24Client(secrets.bitrix24_url.get_secret_value(), self._rules.timeout)
            self._hand_off = Bitrix24HandOff(client, config.crm.bitrix24, sessions, clock)
        # only configured targets are claimed: a removed webhook's rows wait for it
        self.targets = [*self._hooks, *([BITRIX24_TARGET] if self._hand_off else [])]
        self._max_in_flight = max_in_flight
        self._in_flight: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._failing: set[str] = set()  # targets whose last attempt here failed
        self._wake = asyncio.Event()
        self._stopping = False
        self._http: aiohttp.ClientSession | None = None
        self._pruned_at: datetime | None = None

    def wake(self) -> None:
        self._wake.set()

    @property
    def busy(self) -> bool:
        return bool(self._in_flight)

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        return self._http

    async def deliver_due(self, limit: int = 500) -> int:
        """One round: claim what is due now, send it all, settle each; how many were sent.
        Tests drive the sender with this and a moved clock (never sleeping for a back-off)."""
        rows = await self._claim(limit)
        await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    async def run(self) -> None:
        """Deliver until stopped or cancelled: rows go out as soon as they are due, up to
        `max_in_flight` at once, each settled on its own."""
        if not self.targets:
            return
        try:
            while not self._stopping:
                self._wake.clear()
                try:
                    await self._prune()
                    room = self._max_in_flight - len(self._in_flight)
                    rows = await self._claim(room) if room > 0 else []
                    for row in rows:
                        task = asyncio.create_task(self._deliver(row), name=f"webhook-{row.id}")
                        self._tasks.add(task)
                        task.add_done_callback(self._tasks.discard)
                    if rows:
                        continue
                    await self._sleep_until_due()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("webhook claim failed; retrying in 1s")
                    await asyncio.sleep(1)
        finally:
            if not self._stopping:
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def stop(self, grace: float = 2.0) -> None:
        """Let attempts in flight finish (for up to `grace` seconds), hand back the rest."""
        self._stopping = True
        self.wake()
        if self._tasks:
            _, waiting = await asyncio.wait(list(self._tasks), timeout=grace)
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)
        if self._in_flight:  # their leases would hold them for another instance till they end
            with contextlib.suppress(Exception):
                async with self._sessions() as session:
                    await release_deliveries(session, list(self._in_flight))
                    await session.commit()
        await self.close()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _claim(self, limit: int) -> list[HookDelivery]:
        async with self._sessions() as session:
            rows = await claim_deliveries(
                session,
                self.targets,
                self._clock.now(),
                limit,
                self._rules.claim_lease,
                held=self._in_flight,
            )
        fresh = [row for row in rows if row.id not in self._in_flight]
        self._in_flight.update(row.id for row in fresh)
        return fresh

    async def _sleep_until_due(self) -> None:
        async with self._sessions() as session:
            due = await next_delivery_at(session, self.targets)
        wait = IDLE_WAKE
        if due is not None:
            wait = min(wait, max(due - self._clock.now(), timedelta(milliseconds=10)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), wait.total_seconds())

    async def _deliver(self, row: HookDelivery) -> None:
        try:
            attempt = await self._attempt(row)
        except Exception as exc:  # a bug or the database: the row is tried again, never lost
            log.exception("webhook attempt crashed delivery=%s target=%s", row.id, row.target)
            attempt = Attempt.failed(f"{type(exc).__name__}: {exc}")
        try:
            await self._settle(row, attempt)
        except Exception:
            log.exception("webhook settle failed delivery=%s: tried again after its lease", row.id)
        finally:
            self._in_flight.discard(row.id)
            self.wake()

    async def _attempt(self, row: HookDelivery) -> Attempt:
        if row.target == BITRIX24_TARGET:
            assert self._hand_off is not None
            return await self._hand_off(self._client(), row)
        url, secret = self._hooks[row.target]
        return await post_event(
            self._client(),
            url,
            secret.get_secret_value(),
            row.event,
            row.event_id,
            row.payload,
            self._clock.now(),
            self._rules.timeout,
        )

    async def _settle(self, row: HookDelivery, attempt: Attempt) -> None:
        async with self._sessions() as session:
            now = self._clock.now()
            if attempt.ok:
                if not attempt.settled:
                    await delivered(session, row.id, now)
                if row.target in self._failing:  # answering again: its back-offs end now
                    self._failing.discard(row.target)
                    await due_again_now(session, row.target, now)
                await session.commit()
                log.info(
                    "webhook delivered target=%s event=%s lead=%s attempts=%s",
                    row.target,
                    row.event,
                    row.lead_id,
                    row.attempts + 1,
                )
                return
            self._failing.add(row.target)
            gave_up = await attempt_failed(
                session, row, attempt.error, now, self._config, attempt.permanent
            )
            await session.commit()
        log.warning(
            "webhook %s target=%s event=%s lead=%s attempts=%s error=%s",
            "failed" if gave_up else "postponed",
            row.target,
            row.event,
            row.lead_id,
            row.attempts + 1,
            attempt.error,
        )

    async def _prune(self) -> None:
        now = self._clock.now()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        async with self._sessions() as session:
            gone = await forget_delivered(session, now - self._rules.keep_delivered)
            await session.commit()
        if gone:
            log.info("webhook deliveries delivered long ago deleted: %d", gone)
