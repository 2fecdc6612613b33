"""The periodic work of one instance. Each run opens its own sessions and reads the business
clock; what makes a step happen once across runs, restarts and instances is in the core
(claims, the daily lock), not here."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aiogram import Bot
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from sqlalchemy.exc import IntegrityError

from bot.adapters.telegram.notifier import Notifier
from bot.common.clock import Clock
from bot.config import AppConfig
from bot.reports.daily import DailyRun, run_daily
from bot.reports.weekly import WeeklyRun, run_weekly
from bot.routing.rules import pass_expired_offers
from bot.scoring.recount import Recount, recount_if_due
from bot.sequences.sweep import StepRun, run_due_steps
from bot.sla.sweep import FiredAlert, fire_due_alerts
from bot.team.staff import active_staff
from handlers.dialogues import close_abandoned
from storage.db import SessionFactory

log = logging.getLogger("leadbot.jobs")

ALERT_BATCH = 500  # alerts claimed per transaction when a backlog is drained
SEQUENCE_BATCH = 200  # due sequence steps read per batch (each step its own transaction)


@dataclass
class Jobs:
    sessions: SessionFactory
    config: AppConfig
    clock: Clock
    notifier: Notifier
    bot: Bot
    dialogues: BaseStorage
    dialogue_isolation: BaseEventIsolation | None
    leads_chat_id: int | None
    # one daily run at a time in this process (instances are kept apart by the database)
    _daily_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _weekly_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def fire_due_alerts(self) -> list[FiredAlert]:
        """Reminders and escalations whose time has come ([sla]); every step once, however
        many instances sweep."""
        fired: list[FiredAlert] = []
        while True:  # a backlog (after downtime) is drained in batches, each its own commit
            async with self.sessions() as session:
                batch = await fire_due_alerts(
                    session, self.clock.now(), self.config, self.leads_chat_id, ALERT_BATCH
                )
            fired += batch
            if len(batch) < ALERT_BATCH:
                return fired

    async def run_sequence_steps(self) -> list[StepRun]:
        """Follow-up steps whose time has come ([[sequences]]); every step once, however many
        instances sweep."""
        runs: list[StepRun] = []
        while True:
            async with self.sessions() as session:
                batch = await run_due_steps(
                    session, self.clock.now(), self.config, self.leads_chat_id, SEQUENCE_BATCH
                )
            runs += batch
            if len(batch) < SEQUENCE_BATCH:
                return runs

    async def pass_expired_offers(self) -> list[int]:
        """Offers to one manager not taken within `[routing] offer_timeout` pass to the next;
        the leads passed on."""
        async with self.sessions() as session:
            return await pass_expired_offers(session, self.clock.now(), self.config)

    async def run_daily(self) -> DailyRun | None:
        """Today's auto-close and digest, once `[sla] daily_at` has passed and unless done
        already; None when nothing was due."""
        async with self._daily_lock, self.sessions() as session:
            ran = await run_daily(session, self.clock.now(), self.config)
        if ran is not None:
            log.info(
                "daily run %s: stale closed=%s owners told=%s digests=%s",
                ran.run_key,
                ran.stale_closed,
                ran.owners_told,
                ran.digests,
            )
        return ran

    async def run_weekly(self) -> WeeklyRun | None:
        """Last week's report to supervisors and admins, once `[reports] weekly_at` has passed
        this week and unless sent already; None when nothing was due."""
        async with self._weekly_lock, self.sessions() as session:
            ran = await run_weekly(session, self.clock.now(), self.config)
        if ran is not None:
            log.info(
                "weekly report %s (%s..%s): readers=%s messages=%s",
                ran.run_key,
                ran.first,
                ran.last,
                ran.readers,
                ran.messages,
            )
        return ran

    async def close_abandoned_dialogues(self) -> int:
        """Close dialogues left without an answer for `[dialogues] abandon_after`; the number
        closed."""
        return await close_abandoned(
            self.dialogues,
            self.bot,
            self.clock.now(),
            self.config.dialogues.abandon_after,
            self._locale_of,
            self.dialogue_isolation,
        )

    async def recount_scores(self) -> Recount | None:
        """The lead score's nightly recount ([scoring] recompute_at); None when not due. Two
        instances may start it at once: one writes first, the other's insert fails harmlessly."""
        try:
            async with self.sessions() as session:
                done = await recount_if_due(session, self.clock.now(), self.config)
        except IntegrityError:
            log.info("score recount: another instance did it")
            return None
        if done is not None:
            log.info(
                "score recount: closed=%s counted=%s held out=%s auc=%s",
                done.closed,
                done.counted,
                done.held_out,
                done.auc,
            )
        return done

    def sweep_outbox(self) -> None:
        """The notifier is woken by every commit; this is the safety net for anything that
        slipped past (a row written by another process, a clock jump)."""
        self.notifier.wake()

    async def _locale_of(self, telegram_id: int) -> str:
        async with self.sessions() as session:
            staff = await active_staff(session, telegram_id)
        return (staff.language if staff else None) or self.config.locale
