"""Assembly: one process runs Telegram updates, the HTTP server, the notifier and the scheduler."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from dataclasses import dataclass, field
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

from bot.adapters.mail.imap import ImapAccount, MailboxWatcher
from bot.adapters.mail.sender import MailSender
from bot.adapters.mail.smtp import SmtpServer
from bot.adapters.pbx.dialer import pbx_dialer
from bot.adapters.pbx.recordings import PbxAccess, RecordingFetcher
from bot.adapters.telegram.files import TelegramFiles
from bot.adapters.telegram.gate import TelegramGate
from bot.adapters.telegram.identity import BotUsername
from bot.adapters.telegram.limits import SendLimits
from bot.adapters.telegram.notifier import Notifier
from bot.adapters.telegram.session import BotApiSession
from bot.adapters.webhooks.sender import WebhookSender
from bot.common.clock import Clock, SystemClock
from bot.common.metrics import Metrics
from bot.common.webhooks import delivery_targets
from bot.config import AppConfig, Settings, outbound_secrets
from bot.intake.queue import IntakeQueue
from bot.leads.milestones import fill_work_waits
from bot.team.staff import ensure_admins, list_staff
from handlers import build_dispatcher
from handlers.menu import publish_all
from handlers.web.connectors import add_connector_routes
from handlers.web.intake import IntakeSettings, add_intake_routes
from handlers.web.leads import LeadApiSettings, add_lead_routes
from handlers.web.metrics import MetricsSettings, add_metrics_route
from handlers.web.openapi import add_openapi_route
from handlers.web.reports import ReportSettings, add_report_routes
from handlers.web.telephony import add_call_routes
from scheduler import build_scheduler, run_now
from scheduler.jobs import Jobs
from storage.db import SessionFactory, create_engine, session_factory
from storage.migrate import upgrade

log = logging.getLogger("leadbot.app")

UPDATE_DRAIN_SECONDS = 10


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
    webhooks: WebhookSender
    mail: MailSender  # the managers' answers by e-mail (SMTP_*)
    intake: IntakeQueue
    web_app: web.Application
    jobs: Jobs
    scheduler: AsyncIOScheduler
    metrics: Metrics
    mailbox: MailboxWatcher | None = None  # e-mail intake, when IMAP_HOST is set
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
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
            filled = await fill_work_waits(session, self.config)
        if filled:
            log.info("leads from before 0010 given their working-time waits: %d", filled)
        self.intake.start()
        self._tasks.append(asyncio.create_task(self.notifier.run(), name="notifier"))
        self._tasks.append(asyncio.create_task(self.webhooks.run(), name="webhooks"))
        self._tasks.append(asyncio.create_task(self.mail.run(), name="mail"))
        self._runner = web.AppRunner(self.web_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.http_host, self.settings.http_port)
        await site.start()
        self.scheduler.start()
        if self.mailbox is not None:  # a mailbox that is down is retried in the background
            self.mailbox.start()
        await self._check_dialogue_storage()
        # Telegram being down must not stop intake: updates are connected in the background
        self._tasks.append(asyncio.create_task(self._connect_updates(), name="updates"))
        # Startup leaves ~1M long-lived objects (aiogram's types, SQLAlchemy's mappers); keeping
        # them out of the collector's sweeps keeps full collections from stalling requests.
        gc.freeze()
        log.info(
            "leadbot started http=%s:%s mode=%s",
            self.settings.http_host,
            self.http_port,
            "webhook" if self.settings.telegram_webhook_url else "polling",
        )

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
                    self.bot,
                    handle_signals=False,
                    close_bot_session=False,
                    allowed_updates=self.dispatcher.resolve_used_update_types(),
                )
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
                log.warning(
                    "Redis (REDIS_URL) does not answer: %r; dialogues fail until it does", exc
                )

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
        # imports under way stop at their batch (what was committed stays): engine goes next
        await self.dispatcher["import_desk"].stop()
        await self.dispatcher["recordings"].close()
        await self.intake.stop()
        if self.mailbox is not None:  # a letter being processed is rolled back: read again
            await self.mailbox.stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.notifier.stop()
        await self.webhooks.stop()
        await self.mail.stop()
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
        self.webhooks.wake()
        self.mail.wake()
        run_now(self.scheduler)

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
    dialer = pbx_dialer(settings, config)
    if dialer is None and config.telephony.click_to_call == "auto":
        # no PBX's keys: no 📞 Call on the cards, rather than a button that can only say so
        telephony = config.telephony.model_copy(update={"click_to_call": "off"})
        config = config.model_copy(update={"telephony": telephony})
    metrics = Metrics()  # this application's own registry (/metrics)
    token = settings.require_bot_token()
    secrets = outbound_secrets(config)  # a webhook's missing secret stops the start here
    engine = create_engine(settings.database_url)
    senders: list[Notifier | WebhookSender | MailSender] = []

    def woken() -> None:  # a commit wrote outbox, webhook or letter rows: every sender looks
        for sender in senders:
            sender.wake()

    sessions = session_factory(engine, on_outbox_commit=woken)
    bot = Bot(
        token,
        session=BotApiSession(settings.telegram_api_base),
        default=DefaultBotProperties(parse_mode="HTML", link_preview_is_disabled=True),
    )
    # the one path to Telegram: every call, the notifier's and the handlers', within one set
    # of limits, retried through 429s and 5xx (the notifier's once: its rows are retried)
    telegram = config.telegram
    bot.session.middleware(
        TelegramGate(
            SendLimits.of(telegram),
            within=telegram.call_retry_within.total_seconds(),
            backoff_base=telegram.retry_base.total_seconds(),
            backoff_max=telegram.retry_max.total_seconds(),
            metrics=metrics,
        )
    )
    notifier = Notifier(bot, sessions, config, clock)
    # the application's clock: a sandbox or test jump makes back-offs and give-ups due too
    webhooks = WebhookSender(sessions, config, secrets, clock)
    # the managers' answers by e-mail: off (nothing claimed) while SMTP_HOST / SMTP_FROM are unset
    smtp = SmtpServer.of(settings)
    mail = MailSender(sessions, config, smtp, clock, files=TelegramFiles(bot))
    senders += [notifier, webhooks, mail]
    storage, isolation = dialogue_storage(settings.redis_url)
    dispatcher = build_dispatcher(
        sessions, config, clock, storage, isolation, leads_chat_id=settings.leads_chat_id
    )
    # the Reply handler makes an answer's Message-ID on the team address's domain
    dispatcher["mail_from"] = smtp.sender if smtp is not None else None
    dispatcher["dialer"] = dialer  # the card's 📞 Call (None: off, or its PBX's keys not set)
    # call recordings: fetched from the PBX's API when a button is pressed (issue 17)
    dispatcher["recordings"] = RecordingFetcher(PbxAccess.of(settings))
    intake = IntakeQueue(
        sessions, clock, settings.leads_chat_id, config.intake.max_batch, config, metrics
    )
    web_app = web.Application(client_max_size=config.intake.max_body_bytes)
    metrics_token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    add_metrics_route(
        web_app,
        MetricsSettings(
            metrics,
            metrics_token,
            sessions,
            clock,
            webhooks=tuple(delivery_targets(config)),
        ),
    )
    add_intake_routes(
        web_app,
        intake,
        sessions,
        IntakeSettings(
            token=settings.intake_token.get_secret_value() if settings.intake_token else None,
            phone_region=config.phone_region,
            max_body_bytes=config.intake.max_body_bytes,
            bot_username=BotUsername(bot, settings.bot_username),
            clock=clock,
        ),
    )
    add_connector_routes(web_app, settings, config)
    add_call_routes(web_app, settings, config, sessions, clock, settings.leads_chat_id)
    api_token = settings.api_token.get_secret_value() if settings.api_token else None
    add_report_routes(web_app, ReportSettings(api_token, config, sessions, clock))
    add_lead_routes(web_app, LeadApiSettings(api_token, sessions, config))
    add_openapi_route(web_app)
    if settings.telegram_webhook_url:
        secret = settings.telegram_webhook_secret
        SimpleRequestHandler(
            dispatcher, bot, secret_token=secret.get_secret_value() if secret else None
        ).register(web_app, path=urlsplit(settings.telegram_webhook_url).path or "/")
    jobs = Jobs(sessions, config, clock, notifier, bot, storage, isolation, settings.leads_chat_id)
    account = ImapAccount.from_settings(settings)
    mailbox = (
        MailboxWatcher(account, sessions, config, clock, settings.leads_chat_id)
        if account is not None
        else None
    )
    return Application(
        settings=settings,
        config=config,
        clock=clock,
        engine=engine,
        sessions=sessions,
        bot=bot,
        dispatcher=dispatcher,
        notifier=notifier,
        webhooks=webhooks,
        mail=mail,
        intake=intake,
        web_app=web_app,
        jobs=jobs,
        scheduler=build_scheduler(jobs, metrics=metrics),
        metrics=metrics,
        mailbox=mailbox,
    )


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
