"""What the report's charts draw beyond the summary's numbers: leads a local day by source, the
hour × weekday grid of arrivals, and the period's take times. The same cohort and filter as
`report_summary` (leads created in the period; one source's; one manager's: those they took
first or own)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import AppConfig
from bot.reports.summary import QUARTER, Period, _Scope, _utc_quarter, period_bounds
from storage.models import Lead, Staff


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
    source: str | None = None,
    manager_telegram_id: int | None = None,
) -> ChartData:
    start, end = period_bounds(period, config)
    manager_id: int | None = None
    if manager_telegram_id is not None:
        manager_id = await session.scalar(
            select(Staff.id).where(Staff.telegram_id == manager_telegram_id)
        )
        manager_id = -1 if manager_id is None else manager_id  # unknown: no leads
    scope = _Scope(source, manager_id)
    in_period = (Lead.created_at >= start, Lead.created_at < end)
    days = [period[0] + timedelta(days=n) for n in range((period[1] - period[0]).days + 1)]
    index = {day: n for n, day in enumerate(days)}
    data = ChartData(days=days, by_source={})
    # per UTC quarter hour and source (SQLite knows no time zones): each quarter is placed
    # on its local day, hour and weekday here, as the summary's arrivals are
    hour, quarter = _utc_quarter(Lead.created_at, session.bind.dialect.name)
    rows = await session.execute(
        scope.where(
            select(hour, quarter, Lead.source, func.count()).select_from(Lead).where(*in_period)
        ).group_by(hour, quarter, Lead.source)
    )
    for utc_hour, part, source, count in rows:
        moment = datetime.strptime(utc_hour, "%Y-%m-%d %H").replace(tzinfo=UTC)
        local = (moment + int(part) * QUARTER).astimezone(config.zone)
        series = data.by_source.setdefault(source, [0] * len(days))
        day = index.get(local.date())
        if day is not None:
            series[day] += int(count)
        data.grid[local.weekday()][local.hour] += int(count)
    takes = await session.execute(
        scope.where(
            select(Lead.created_at, scope.take.created_at).select_from(Lead).where(*in_period)
        ).where(scope.take.id.is_not(None))
    )
    data.take_seconds.extend(_seconds(taken - created) for created, taken in takes)
    return data


def _seconds(wait: Any) -> float:
    return max(0.0, wait.total_seconds())
