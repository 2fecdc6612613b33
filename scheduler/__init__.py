"""Every periodic job, its interval and its overlap rule, in one table (APScheduler).

Job ids are part of the interface: `clock_moved` (the sandbox's clock control, tests) asks for
them by name."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.common.metrics import Metrics
from scheduler.jobs import Jobs


@dataclass(frozen=True)
class Job:
    id: str
    seconds: int
    run: str  # the Jobs method
    # Two runs may overlap where the core's claims keep each step once: a run asked for by
    # clock_moved must not be skipped (until the next interval) because the last one is
    # still finishing.
    overlap: int = 1
    # None: a busy loop delays the run, never skips it
    misfire_grace_seconds: int | None = 1


SCHEDULE = (
    Job("outbox_sweep", 30, "sweep_outbox"),
    Job("dialogue_sweep", 60, "close_abandoned_dialogues"),
    Job("offer_sweep", 20, "pass_expired_offers"),
    # reminders and escalations are at most this late
    Job("alert_sweep", 15, "fire_due_alerts", overlap=2, misfire_grace_seconds=None),
    # an interval, not a cron trigger: an instance that was down at `daily_at` still runs it
    Job("daily_job", 60, "run_daily", overlap=2),
    # the same for the weekly report: an instance down at `weekly_at` sends it later that week
    Job("weekly_job", 60, "run_weekly", overlap=2),
    # follow-up sequences' due steps ([[sequences]]): each claimed once, so runs may overlap
    Job("sequence_sweep", 30, "run_sequence_steps", overlap=2),
    # the lead score's full recount, once a local day after `[scoring] recompute_at`
    Job("score_recount", 300, "recount_scores"),
)
# what may have become due when business time jumps
CLOCK_MOVED_JOBS = (
    "dialogue_sweep",
    "offer_sweep",
    "alert_sweep",
    "daily_job",
    "weekly_job",
    "sequence_sweep",
)


def build_scheduler(
    jobs: Jobs, schedule: Iterable[Job] = SCHEDULE, metrics: Metrics | None = None
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    for job in schedule:
        run = getattr(jobs, job.run)
        scheduler.add_job(
            run if metrics is None else _timed(run, job.id, metrics),
            "interval",
            seconds=job.seconds,
            id=job.id,
            coalesce=True,
            max_instances=job.overlap,
            misfire_grace_time=job.misfire_grace_seconds,
        )
    return scheduler


def _timed(run: Callable[[], Any], job_id: str, metrics: Metrics) -> Callable[[], Any]:
    """The job, its every run timed in leadbot_job_duration_seconds{job=<its id>}."""
    if inspect.iscoroutinefunction(run):

        @wraps(run)
        async def timed_async() -> Any:
            with metrics.timed_job(job_id):
                return await run()

        return timed_async

    @wraps(run)
    def timed() -> Any:
        with metrics.timed_job(job_id):
            return run()

    return timed


def run_now(scheduler: AsyncIOScheduler, job_ids: Iterable[str] = CLOCK_MOVED_JOBS) -> None:
    """Run these jobs at once rather than at their next interval (business time jumped)."""
    if scheduler.running:
        for job_id in job_ids:
            scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))
