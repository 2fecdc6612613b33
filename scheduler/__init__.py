"""Periodic jobs (APScheduler). Each job re-reads what it needs from the database."""

from __future__ import annotations

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.adapters.telegram.notifier import Notifier

OUTBOX_SWEEP_SECONDS = 30


def build_scheduler(notifier: Notifier) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    # the notifier is woken by every commit; this sweep is the safety net for anything
    # that slipped past (a row written by another process, a clock jump)
    scheduler.add_job(
        notifier.wake, "interval", seconds=OUTBOX_SWEEP_SECONDS, id="outbox_sweep",
        coalesce=True, max_instances=1,
    )  # fmt: skip
    return scheduler
