"""The report's periods: which local days "this week", "last 7 days" or "this month" cover on a
given day (what the report's headline then shows)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.config import load_app_config
from bot.reports.periods import PeriodKind, local_today, report_period

WEDNESDAY = date(2026, 12, 2)
SUNDAY = date(2026, 11, 29)
FIRST = date(2026, 12, 1)  # a Tuesday
MONDAY = date(2026, 11, 30)


@pytest.mark.parametrize(
    ("kind", "today", "expected"),
    [
        (PeriodKind.TODAY, WEDNESDAY, (WEDNESDAY, WEDNESDAY)),
        (PeriodKind.YESTERDAY, WEDNESDAY, (FIRST, FIRST)),
        (PeriodKind.YESTERDAY, FIRST, (MONDAY, MONDAY)),  # across the month's start
        (PeriodKind.YESTERDAY, date(2026, 1, 1), (date(2025, 12, 31),) * 2),  # and the year's
        (PeriodKind.THIS_WEEK, WEDNESDAY, (MONDAY, WEDNESDAY)),  # across the month's start
        (PeriodKind.THIS_WEEK, SUNDAY, (date(2026, 11, 23), SUNDAY)),  # Sunday ends a week
        (PeriodKind.THIS_WEEK, MONDAY, (MONDAY, MONDAY)),
        (PeriodKind.LAST_7_DAYS, WEDNESDAY, (date(2026, 11, 26), WEDNESDAY)),
        (PeriodKind.LAST_7_DAYS, SUNDAY, (date(2026, 11, 23), SUNDAY)),
        (PeriodKind.THIS_MONTH, WEDNESDAY, (FIRST, WEDNESDAY)),
        (PeriodKind.THIS_MONTH, FIRST, (FIRST, FIRST)),  # the 1st: one day
        (PeriodKind.LAST_30_DAYS, WEDNESDAY, (date(2026, 11, 3), WEDNESDAY)),
        (PeriodKind.LAST_30_DAYS, date(2026, 3, 1), (date(2026, 1, 31), date(2026, 3, 1))),
    ],
)
def test_each_period_covers_its_local_days(
    kind: PeriodKind, today: date, expected: tuple[date, date]
) -> None:
    """The report for `kind` on `today` counts leads created on these local days."""
    assert report_period(kind, today) == expected


def test_today_is_the_local_date() -> None:
    """Past 21:00 UTC it is already the next day in Moscow: the report's "today" is that day."""
    config = load_app_config()
    assert config.timezone == "Europe/Moscow"
    assert local_today(datetime(2026, 11, 30, 21, 30, tzinfo=UTC), config) == FIRST
    assert local_today(datetime(2026, 11, 30, 20, 59, tzinfo=UTC), config) == MONDAY
