"""The once-a-day job: from `[sla] daily_at` (local time in `timezone`) stale leads are closed,
their owners told in one message each, and supervisors get the digest with its chart.

A run is recorded as a `job_runs` row (name, local date) inserted in the same transaction as
the run's messages: of two instances only one inserts it, a restart after the run finds it
and does nothing, and an instance that was down at `daily_at` runs the job when it comes up
later that day (the scheduler asks every minute; no cron trigger to miss). The stale leads
are closed in batches before that transaction; a lock taken by every batch and by the final
transaction keeps instances from interleaving them, so the owners' messages (read from the
database, not from memory) list every lead closed today exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import false, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.outbox import enqueue
from bot.config import AppConfig
from bot.reports.digest import daily_digest, digest_messages
from bot.reports.runs import claim_run, has_run
from bot.sla.stale import BatchGuard, close_stale_leads, stale_closed_since, stale_notices
from bot.sla.working_hours import local_midnight
from storage.models import JobRun, OutboxKind

DAILY_JOB = "daily"
# PostgreSQL advisory lock id of the daily job (any constant shared by all instances)
DAILY_LOCK = 0x6C64_6461_696C_79  # "ldaily"


@dataclass(frozen=True)
class DailyRun:
    run_key: str  # the local date
    stale_closed: int  # leads closed as stale today (all batches, also an interrupted run's)
    owners_told: int
    digests: int  # supervisors and admins sent the digest (each with its chart)


def daily_run_key(now: datetime, config: AppConfig) -> str | None:
    """Today's run key (the local date) once local time has reached `daily_at`, else None."""
    local = now.astimezone(config.zone)
    if local.time() < config.sla.daily_at:
        return None
    return local.date().isoformat()


async def _hold_daily_lock(session: AsyncSession) -> None:
    """Until the transaction ends, no other daily-job transaction runs, in any instance."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(DAILY_LOCK)))
    else:  # SQLite: take the database's write lock now (as BEGIN IMMEDIATE would)
        await session.execute(
            update(JobRun)
            .where(false())
            .values(ran_at=JobRun.ran_at)
            .execution_options(synchronize_session=False)
        )


def batch_guard(run_key: str) -> BatchGuard:
    """What each auto-close batch does first: take the daily lock, and go on only while
    today's run is not recorded (another instance may have finished it meanwhile)."""

    async def not_done_yet(session: AsyncSession) -> bool:
        await _hold_daily_lock(session)
        return not await has_run(session, DAILY_JOB, run_key)

    return not_done_yet


async def run_daily(session: AsyncSession, now: datetime, config: AppConfig) -> DailyRun | None:
    """Today's daily work if it is due and not yet done (here or by another instance); None
    when there was nothing to do."""
    run_key = daily_run_key(now, config)
    if run_key is None or await has_run(session, DAILY_JOB, run_key):
        await session.rollback()
        return None
    await close_stale_leads(session, now, config, guard=batch_guard(run_key))
    await _hold_daily_lock(session)
    if not await claim_run(session, DAILY_JOB, run_key, now):
        await session.rollback()
        return None
    closed = await stale_closed_since(session, local_midnight(now, config.zone))
    notices = await stale_notices(session, closed, config, now)
    digests = await digest_messages(session, await daily_digest(session, now, config), now)
    await enqueue(session, [*notices, *digests])
    await session.commit()
    readers = sum(1 for row in digests if row["kind"] == OutboxKind.TEXT)  # not the charts
    return DailyRun(run_key, len(closed), len(notices), readers)
