"""Assembly: one process runs Telegram updates, the HTTP server, the notifier and the scheduler."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.adapters.telegram.notifier import Notifier
from bot.adapters.telegram.session import BotApiSession
from bot.common.clock import Clock, SystemClock
from bot.config import AppConfig, Settings
from bot.intake.queue import IntakeQueue
from bot.reports.daily import DailyRun, run_daily
from bot.routing.rules import deliver_waiting, pass_expired_offers
from bot.sla.sweep import FiredAlert, fire_due_alerts
from bot.team.staff import active_staff, ensure_admins, list_staff
from handlers import build_dispatcher
from handlers.dialogues import close_abandoned
from handlers.menu import publish_all
from handlers.web.connectors import add_connector_routes
from handlers.web.intake import IntakeSettings, add_intake_routes
from handlers.web.telephony import add_call_routes
from scheduler import build_scheduler
from storage.db import SessionFactory, create_engine, session_factory
from storage.migrate import upgrade

log = logging.getLogger("leadbot.app")

DIALOGUE_SWEEP_SECONDS = 60
OFFER_SWEEP_SECONDS = 20
DAILY_CHECK_SECONDS = 60
ALERT_SWEEP_SECONDS = 15  # reminders and escalations are at most this late
UPDATE_DRAIN_SECONDS = 10
ALERT_BATCH = 500


@dataclass
class Application:
    settings: Settings
    config: AppConfig
    clock: Clock
    engine: AsyncEngine
    sessions: SessionFactory
    bot: Bot
    dispatcher: Dispatcher
    notifier: Notifier
    intake: IntakeQueue
    web_app: web.Application
    scheduler: AsyncIOScheduler
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # one daily run at a time in this process (instances are kept apart by the database)
    _daily_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _runner: web.AppRunner | None = None

    @property
    def http_port(self) -> int:
        """The bound port (useful when HTTP_PORT is 0 in tests)."""
        assert self._runner is not None
        return int(self._runner.addresses[0][1])

    async def start(self) -> None:
        await upgrade(self.engine)
        async with self.sessions() as session:
            await ensure_admins(session, self.settings.admin_ids, self.clock.now())
        self.intake.start()
        self._tasks.append(asyncio.create_task(self.notifier.run(), name="notifier"))
        self._runner = web.AppRunner(self.web_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.http_host, self.settings.http_port)
        await site.start()
        self.scheduler.start()
        await self._check_dialogue_storage()
        # Telegram being down must not stop intake: updates are connected in the background
        self._tasks.append(asyncio.create_task(self._connect_updates(), name="updates"))
        # Startup leaves ~1M long-lived objects (aiogram's types, SQLAlchemy's mappers); keeping
        # them out of the collector's sweeps keeps full collections from stalling requests.
        gc.freeze()
        log.info("leadbot started http=%s:%s mode=%s", self.settings.http_host, self.http_port,
                 "webhook" if self.settings.telegram_webhook_url else "polling")  # fmt: skip

    async def _connect_updates(self) -> None:
        """Register the webhook, or start long polling; retried until Telegram answers."""
        delay = 1.0
        while True:
            try:
                await self._publish_menus()
                if self.settings.telegram_webhook_url:
                    secret = self.settings.telegram_webhook_secret
                    await self.bot.set_webhook(
                        self.settings.telegram_webhook_url,
                        secret_token=secret.get_secret_value() if secret else None,
                        allowed_updates=self.dispatcher.resolve_used_update_types(),
                    )
                    return
                await self.bot.delete_webhook()
                await self.dispatcher.start_polling(
                    self.bot, handle_signals=False, close_bot_session=False,
                    allowed_updates=self.dispatcher.resolve_used_update_types(),
                )  # fmt: skip
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Telegram unreachable (%s); retrying in %.0fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60)

    async def _publish_menus(self) -> None:
        async with self.sessions() as session:
            people = [s for s in await list_staff(session) if s.is_active]
        await publish_all(self.bot, people, self.config.locale)

    async def _check_dialogue_storage(self) -> None:
        """A wrong REDIS_URL shows at start, not at the first dialogue; it does not stop the
        intake (the URL may hold a password: it is not logged)."""
        storage = self.dispatcher.storage
        if isinstance(storage, RedisStorage):
            try:
                await asyncio.wait_for(storage.redis.ping(), timeout=5)
            except Exception as exc:
                log.warning("Redis (REDIS_URL) does not answer: %r; dialogues fail until it does",
                            exc)  # fmt: skip

    async def close_abandoned_dialogues(self) -> int:
        """Close dialogues left without an answer for `[dialogues] abandon_after` (the
        scheduler runs this every minute); the number closed."""
        return await close_abandoned(
            self.dispatcher.storage, self.bot, self.clock.now(),
            self.config.dialogues.abandon_after, self._locale_of,
            self.dispatcher.fsm.events_isolation,
        )  # fmt: skip

    async def _locale_of(self, telegram_id: int) -> str:
        async with self.sessions() as session:
            staff = await active_staff(session, telegram_id)
        return (staff.language if staff else None) or self.config.locale

    async def stop(self) -> None:
        """Stop taking work, finish what was accepted, then let go of connections."""
        # updates being handled finish first: polling's shutdown closes the dialogue storage
        in_flight = set(self.dispatcher._handle_update_tasks)
        if in_flight:
            await asyncio.wait(in_flight, timeout=UPDATE_DRAIN_SECONDS)
        if self.dispatcher._running_lock.locked():
            # stop_polling cancels the long poll in flight; cancelling our task would orphan it
            await self.dispatcher.stop_polling()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.intake.stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.notifier.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.bot.session.close()
        # the dialogue storage (Redis connections); polling's shutdown may have closed it already
        await self.dispatcher.fsm.close()
        await self.engine.dispose()
        log.info("leadbot stopped")

    def clock_moved(self) -> None:
        """The clock jumped forward (the sandbox's control): look at due work now, not at the
        next periodic sweep."""
        self.notifier.wake()
        if self.scheduler.running:  # abandoned dialogues, offers, reminders, the daily run too
            for job in ("dialogue_sweep", "offer_sweep", "alert_sweep", "daily_job"):
                self.scheduler.modify_job(job, next_run_time=datetime.now(UTC))

    async def pass_expired_offers(self) -> list[int]:
        """Offers to one manager not taken within `[routing] offer_timeout` pass to the next
        (the scheduler runs this every OFFER_SWEEP_SECONDS); the leads passed on."""
        async with self.sessions() as session:
            return await pass_expired_offers(session, self.clock.now(), self.config)

    async def run_daily(self) -> DailyRun | None:
        """Today's auto-close and digest, once `[sla] daily_at` has passed and unless done
        already (the scheduler asks every DAILY_CHECK_SECONDS); None when nothing was due."""
        async with self._daily_lock, self.sessions() as session:
            ran = await run_daily(session, self.clock.now(), self.config)
        if ran is not None:
            log.info("daily run %s: stale closed=%s owners told=%s digests=%s",
                     ran.run_key, ran.stale_closed, ran.owners_told, ran.digests)  # fmt: skip
        return ran

    async def fire_due_alerts(self) -> list[FiredAlert]:
        """Reminders and escalations whose time has come ([sla]; the scheduler runs this every
        ALERT_SWEEP_SECONDS); every step once, however many instances sweep."""
        fired: list[FiredAlert] = []
        while True:  # a backlog (after downtime) is drained in batches, each its own commit
            async with self.sessions() as session:
                batch = await fire_due_alerts(session, self.clock.now(), self.config,
                                              self.settings.leads_chat_id, ALERT_BATCH)  # fmt: skip
            fired += batch
            if len(batch) < ALERT_BATCH:
                return fired

    async def deliver_waiting_leads(self) -> list[int]:
        """Leads that waited for somebody on duty go out now (someone came on duty)."""
        async with self.sessions() as session:
            return await deliver_waiting(session, self.clock.now(), self.config,
                                         self.settings.leads_chat_id)  # fmt: skip

    async def run_until_signalled(self) -> None:
        await self.start()
        try:
            await until_signalled()
        finally:
            await self.stop()


async def until_signalled() -> None:
    """Return at SIGINT (Ctrl+C) or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def build_application(
    settings: Settings, config: AppConfig, clock: Clock | None = None
) -> Application:
    clock = clock or SystemClock()
    token = settings.require_bot_token()
    engine = create_engine(settings.database_url)
    notifier_ref: list[Notifier] = []
    sessions = session_factory(engine, on_outbox_commit=lambda: notifier_ref[0].wake())
    bot = Bot(
        token,
        session=BotApiSession(settings.telegram_api_base),
        default=DefaultBotProperties(parse_mode="HTML", link_preview_is_disabled=True),
    )
    notifier = Notifier(bot, sessions, config, clock)
    notifier_ref.append(notifier)
    storage, isolation = dialogue_storage(settings.redis_url)
    dispatcher = build_dispatcher(sessions, config, clock, storage, isolation,
                                  leads_chat_id=settings.leads_chat_id)  # fmt: skip
    intake = IntakeQueue(sessions, clock, settings.leads_chat_id, config.intake.max_batch, config)
    web_app = web.Application(client_max_size=config.intake.max_body_bytes)
    add_intake_routes(
        web_app, intake, sessions,
        IntakeSettings(
            token=settings.intake_token.get_secret_value() if settings.intake_token else None,
            phone_region=config.phone_region, max_body_bytes=config.intake.max_body_bytes,
        ),
    )  # fmt: skip
    add_connector_routes(web_app, settings, config)
    add_call_routes(web_app, settings, config, sessions, clock, settings.leads_chat_id)
    if settings.telegram_webhook_url:
        secret = settings.telegram_webhook_secret
        SimpleRequestHandler(
            dispatcher, bot, secret_token=secret.get_secret_value() if secret else None
        ).register(web_app, path=urlsplit(settings.telegram_webhook_url).path or "/")
    app = Application(
        settings=settings, config=config, clock=clock, engine=engine, sessions=sessions,
        bot=bot, dispatcher=dispatcher, notifier=notifier, intake=intake, web_app=web_app,
        scheduler=build_scheduler(notifier),
    )  # fmt: skip
    app.scheduler.add_job(
        app.close_abandoned_dialogues, "interval", seconds=DIALOGUE_SWEEP_SECONDS,
        id="dialogue_sweep", coalesce=True, max_instances=1,
    )  # fmt: skip
    app.scheduler.add_job(
        app.pass_expired_offers, "interval", seconds=OFFER_SWEEP_SECONDS, id="offer_sweep",
        coalesce=True, max_instances=1,
    )  # fmt: skip
    # Two runs of these may overlap: a clock_moved run must not be skipped (until the next
    # interval) because the last one is still finishing; claims keep each step and each day once
    app.scheduler.add_job(
        app.fire_due_alerts, "interval", seconds=ALERT_SWEEP_SECONDS, id="alert_sweep",
        coalesce=True, max_instances=2, misfire_grace_time=None,  # a busy loop delays, never skips
    )  # fmt: skip
    # an interval, not a cron trigger: an instance that was down at `daily_at` still runs it
    app.scheduler.add_job(
        app.run_daily, "interval", seconds=DAILY_CHECK_SECONDS, id="daily_job", coalesce=True,
        max_instances=2,
    )  # fmt: skip
    return app


def dialogue_storage(redis_url: str | None) -> tuple[BaseStorage, BaseEventIsolation]:
    """Where dialogue (FSM) state lives: Redis when REDIS_URL is set (open dialogues survive
    a restart), else this process's memory. Redis keys are
    `leadbot:<bot id>:<chat>:<user>:state|data|lock`, so two bots on one Redis never mix. The
    isolation serialises one person's updates with each other and with the sweep of
    abandoned dialogues."""
    if redis_url:
        keys = DefaultKeyBuilder(prefix="leadbot", with_bot_id=True, with_destiny=False)
        redis = RedisStorage.from_url(redis_url, key_builder=keys)
        return redis, redis.create_isolation()
    return MemoryStorage(), SimpleEventIsolation()
