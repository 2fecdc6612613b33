"""The weekly report: from `[reports] weekly_at` (a weekday and a local time in `timezone`,
Monday 09:00 by default) every active supervisor and admin gets last week's report (Monday to
Sunday, local dates): the messages `/report` shows and its album of charts.

Once a week whatever restarts or instances, as the daily run: the run's key is the ISO week,
recorded as a `job_runs` row inserted in the same transaction as the report's outbox rows. Of
two instances only one inserts it (the other's insert waits for that commit, then finds it),
a restart after the run finds it, and an instance that was down at `weekly_at` sends the
report when it comes up, any time later that week (the scheduler asks every minute). The
report always covers the week before the run's week, however late in it the run is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.lifecycle import SUPERVISING
from bot.common.outbox import charts_message, enqueue, text_message
from bot.config import AppConfig
from bot.leads.cards import reader_for
from bot.reports.chat import ChatReport, chat_report, ready_made, sections
from bot.reports.periods import PeriodKind
from bot.reports.runs import claim_run, has_run
from storage.models import Staff

WEEKLY_JOB = "weekly"
TEMPLATE_SUFFIX = ".html.j2"  # sections() names files; an outbox row names the template


@dataclass(frozen=True)
class WeeklyRun:
    run_key: str  # the ISO week of the run, "2026-W03"
    first: str  # the week reported, local dates
    last: str
    readers: int  # supervisors and admins it was queued for
    messages: int  # outbox rows: every reader's sections and album


def weekly_run_key(now: datetime, config: AppConfig) -> str | None:
    """This week's run key (the ISO week, "2026-W03") once local time has reached
    `weekly_at` in it, else None (also when the weekly report is off)."""
    weekly = config.reports.weekly_at
    if weekly is None:
        return None
    local = now.astimezone(config.zone)
    monday = local.date() - timedelta(days=local.weekday())
    due = datetime.combine(monday + timedelta(days=weekly.weekday), weekly.at, tzinfo=config.zone)
    if local < due:
        return None
    year, week, _ = local.date().isocalendar()
    return f"{year}-W{week:02d}"


def report_messages(
    report: ChatReport, person: Staff, config: AppConfig, now: datetime
) -> list[dict[str, object]]:
    """The report as outbox rows for one reader: its sections as texts, then its album (none
    for a week without leads), worded in the reader's language as it is now; the rows keep
    that language, so the numbers' words and the template's never mix."""
    locale = reader_for(person, config.locale).locale
    rows: list[dict[str, object]] = [
        text_message(
            None,
            person.telegram_id,
            person.id,
            name.removesuffix(TEMPLATE_SUFFIX),
            values,
            now,
            locale=locale,
        )
        for name, values in sections(report, config, locale)
    ]
    if not report.empty:
        album = report.album.payload()
        rows.append(charts_message(person.telegram_id, person.id, album, now, locale=locale))
    return rows


async def run_weekly(session: AsyncSession, now: datetime, config: AppConfig) -> WeeklyRun | None:
    """This week's report if it is due and not yet sent (here or by another instance); None
    when there was nothing to do."""
    run_key = weekly_run_key(now, config)
    if run_key is None or await has_run(session, WEEKLY_JOB, run_key):
        await session.rollback()
        return None
    # computed before the claim: the claim's insert holds the row (and on SQLite the write
    # lock) until the commit, which should not wait for the report's queries
    report = await chat_report(
        session, ready_made(PeriodKind.LAST_WEEK, now, config, own=False), config, 0, now
    )
    people = list(
        await session.scalars(
            select(Staff)
            .where(Staff.is_active.is_(True), Staff.role.in_(SUPERVISING))
            .order_by(Staff.id)
        )
    )
    if not await claim_run(session, WEEKLY_JOB, run_key, now):
        await session.rollback()
        return None
    rows = [row for person in people for row in report_messages(report, person, config, now)]
    await enqueue(session, rows)
    await session.commit()
    summary = report.summary
    return WeeklyRun(
        run_key, summary.first.isoformat(), summary.last.isoformat(), len(people), len(rows)
    )
