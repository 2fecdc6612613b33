"""Scheduled runs recorded once: a `job_runs` row (the job's name, the run's key: a local date,
an ISO week) inserted in the transaction that queues the run's messages. Whoever inserts it
first ran it; everyone else (another instance, the same one after a restart) finds it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import JobRun


async def claim_run(session: AsyncSession, name: str, run_key: str, now: datetime) -> bool:
    """Record the run of `name` for `run_key` in the caller's transaction; False when it is
    recorded already (by another instance, or before a restart). Not committed here: commit
    it with the run's outbox rows, so a run that failed half-way is not counted as done."""
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    claimed = await session.execute(
        insert(JobRun)
        .values(name=name, run_key=run_key, ran_at=now)
        .on_conflict_do_nothing()
        .returning(JobRun.name)
    )
    return claimed.first() is not None


async def has_run(session: AsyncSession, name: str, run_key: str) -> bool:
    """Whether the run of `name` for `run_key` is recorded (one primary-key lookup)."""
    found = await session.scalar(
        select(JobRun.name).where(JobRun.name == name, JobRun.run_key == run_key)
    )
    return found is not None
