"""What the report's charts draw beyond the summary's numbers: leads a local day by source, the
hour × weekday grid of arrivals, and the period's take times. The same cohort and filter as
`report_summary` (leads created in the period; one manager's: those they took first or own)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import AppConfig
from bot.reports.measures import quarter_start, seconds_between, utc_quarter
from bot.reports.summary import Period, report_scope
from storage.models import Lead


@dataclass(frozen=True)
class ChartData:
    days: list[date]  # every local day of the period, first to last
    by_source: dict[str, list[int]]  # source -> leads a day, aligned with `days`
    grid: list[list[int]] = field(default_factory=lambda: [[0] * 24 for _ in range(7)])
    take_seconds: list[float] = field(default_factory=list)  # arrival to first take


async def chart_data(
    session: AsyncSession,
    period: Period,
    config: AppConfig,
    *,
    manager_telegram_id: int | None = None,
) -> ChartData:
    scope = await report_scope(session, period, config, manager_telegram_id=manager_telegram_id)
    days = [period[0] + timedelta(days=n) for n in range((period[1] - period[0]).days + 1)]
    index = {day: n for n, day in enumerate(days)}
    data = ChartData(days=days, by_source={})
    # per UTC quarter hour and source (SQLite knows no time zones): each quarter is placed
    # on its local day, hour and weekday here, as the summary's arrivals are
    dialect = session.bind.dialect.name
    quarter = utc_quarter(Lead.created_at, dialect)
    rows = await session.execute(
        scope.where(select(quarter, Lead.source, func.count())).group_by(quarter, Lead.source)
    )
    for number, source, count in rows:
        local = quarter_start(int(number)).astimezone(config.zone)
        series = data.by_source.setdefault(source, [0] * len(days))
        day = index.get(local.date())
        if day is not None:
            series[day] += int(count)
        data.grid[local.weekday()][local.hour] += int(count)
    # the histogram needs every wait, as plain numbers (no datetimes to build in Python)
    waited = seconds_between(Lead.created_at, Lead.first_taken_at, dialect)
    takes = await session.scalars(scope.where(select(waited)).where(waited.is_not(None)))
    # (to the millisecond: SQLite's julianday carries no finer time)
    data.take_seconds.extend(max(0.0, round(float(seconds), 3)) for seconds in takes)
    return data
