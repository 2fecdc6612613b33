"""The webhook sender: drains webhook_deliveries into HTTP, in order per lead, at least once.

Woken when a transaction that wrote delivery rows commits (as the notifier is), it claims due
rows (bot/common/deliveries.py: only the first pending row of each lead and target, so a lead's
events arrive in order), sends each (a signed POST, or the Bitrix24 hand-off) and settles it:
delivered, or retried after the back-off, or failed past `give_up_after` with the admins told.
A target that answers again after failing has its rows backing off made due at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.queue_worker import QueueWorker
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

PRUNE_EVERY = timedelta(hours=1)


class WebhookSender(QueueWorker[HookDelivery]):
    name = "webhook"
    round_limit = 500

    def __init__(
        self,
        sessions: SessionFactory,
        config: AppConfig,
        secrets: OutboundSecrets,
        clock: Clock,
        *,
        max_in_flight: int = 32,
    ) -> None:
        super().__init__(sessions, clock, max_in_flight, log)
        self._config = config
        self._rules = config.webhook_delivery
        self._hooks = {
            hook.name: (hook.url, secrets.webhooks[hook.name]) for hook in config.webhooks
        }
        self._hand_off: Bitrix24HandOff | None = None
        if config.crm.bitrix24 is not None and secrets.bitrix24_url is not None:
            client = Bitrix24Client(secrets.bitrix24_url.get_secret_value(), self._rules.timeout)
            self._hand_off = Bitrix24HandOff(client, config.crm.bitrix24, sessions, clock)
        # only configured targets are claimed: a removed webhook's rows wait for it
        self.targets = [*self._hooks, *([BITRIX24_TARGET] if self._hand_off else [])]
        self._failing: set[str] = set()  # targets whose last attempt here failed
        self._http: aiohttp.ClientSession | None = None
        self._pruned_at: datetime | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.targets)

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _closed(self) -> None:
        await self.close()

    async def _claim_rows(
        self, session: AsyncSession, now: datetime, limit: int, held: set[int]
    ) -> Sequence[HookDelivery]:
        return await claim_deliveries(
            session, self.targets, now, limit, self._rules.claim_lease, held=held
        )

    async def _next_due(self, session: AsyncSession) -> datetime | None:
        return await next_delivery_at(session, self.targets)

    async def _release(self, session: AsyncSession, ids: list[int]) -> None:
        await release_deliveries(session, ids)

    async def _round_start(self) -> None:
        await self._prune()

    async def _deliver_one(self, row: HookDelivery) -> None:
        try:
            attempt = await self._attempt(row)
        except Exception as exc:  # a bug or the database: the row is tried again, never lost
            log.exception("webhook attempt crashed delivery=%s target=%s", row.id, row.target)
            attempt = Attempt.failed(f"{type(exc).__name__}: {exc}")
        await self._settle(row, attempt)

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
