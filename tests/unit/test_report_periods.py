"""The report's periods: which local days "this week", "last 7 days" or "this month" cover on a
given day (what the report's headline then shows)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.config import load_app_config
from bot.reports.periods import (
    PeriodKind,
    RangeError,
    RangeProblem,
    day_number,
    from_day_number,
    local_today,
    parse_range,
    report_period,
)

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


# --- typed ranges -----------------------------------------------------------------------------

MONDAY_JAN = date(2026, 1, 5)  # "today" for the typed ranges below


@pytest.mark.parametrize(
    ("typed", "today", "expected"),
    [
        ("01.11–15.11", date(2026, 12, 2), (date(2026, 11, 1), date(2026, 11, 15))),
        ("1.11.2026-15.11.2026", date(2026, 12, 2), (date(2026, 11, 1), date(2026, 11, 15))),
        ("01.11-15.11", date(2026, 12, 2), (date(2026, 11, 1), date(2026, 11, 15))),
        ("01.11 — 15.11", date(2026, 12, 2), (date(2026, 11, 1), date(2026, 11, 15))),
        ("  1.11 -15.11 ", date(2026, 12, 2), (date(2026, 11, 1), date(2026, 11, 15))),
        ("1.11.26–15.11.26", date(2026, 12, 2), (date(2026, 11, 1), date(2026, 11, 15))),
        # no year, and this year's would start in the future: last year's
        ("01.11–15.11", MONDAY_JAN, (date(2025, 11, 1), date(2025, 11, 15))),
        # this year's has started: it may end in the future (the rest is empty)
        ("01.01–31.01", MONDAY_JAN, (date(2026, 1, 1), date(2026, 1, 31))),
        # one date: that day; today is today, tomorrow without a year is last year's
        ("05.01", MONDAY_JAN, (MONDAY_JAN, MONDAY_JAN)),
        ("06.01", MONDAY_JAN, (date(2025, 1, 6), date(2025, 1, 6))),
        ("29.02.2024", MONDAY_JAN, (date(2024, 2, 29), date(2024, 2, 29))),
        # across New Year without years; with the year on one side only
        ("25.12–10.01", MONDAY_JAN, (date(2025, 12, 25), date(2026, 1, 10))),
        ("25.12-05.01.2026", MONDAY_JAN, (date(2025, 12, 25), MONDAY_JAN)),
        ("20.12.2025–05.01", MONDAY_JAN, (date(2025, 12, 20), MONDAY_JAN)),
        ("01.10–31.03", MONDAY_JAN, (date(2025, 10, 1), date(2026, 3, 31))),
        # a whole leap year is 366 days: the longest allowed
        ("01.01.2024–31.12.2024", MONDAY_JAN, (date(2024, 1, 1), date(2024, 12, 31))),
    ],
)
def test_a_typed_range_is_two_local_dates(
    typed: str, today: date, expected: tuple[date, date]
) -> None:
    assert parse_range(typed, today) == expected


@pytest.mark.parametrize(
    ("typed", "problem", "detail"),
    [
        ("15.11–01.11", RangeProblem.REVERSED, "15.11.2025 – 01.11.2025"),
        ("15.11.2025-01.11.2025", RangeProblem.REVERSED, "15.11.2025 – 01.11.2025"),
        ("15.11-01.11.2025", RangeProblem.REVERSED, "15.11.2025 – 01.11.2025"),
        ("31.02", RangeProblem.NO_SUCH_DAY, "31.02"),
        ("29.02.2025", RangeProblem.NO_SUCH_DAY, "29.02"),
        ("01.13–05.13", RangeProblem.NO_SUCH_DAY, "01.13"),
        ("00.05", RangeProblem.NO_SUCH_DAY, "00.05"),
        ("01.01.2024–01.01.2025", RangeProblem.TOO_LONG, "01.01.2024 – 01.01.2025"),
        ("01.01.2027", RangeProblem.FUTURE, "01.01.2027 – 01.01.2027"),
        ("garbage", RangeProblem.UNREADABLE, ""),
        ("", RangeProblem.UNREADABLE, ""),
        ("01.11–15.11–30.11", RangeProblem.UNREADABLE, ""),
        ("2026-11-01", RangeProblem.UNREADABLE, ""),
        ("01/11", RangeProblem.UNREADABLE, ""),
        ("<b>01.11</b>", RangeProblem.UNREADABLE, ""),
        ("01.11 " + "x" * 10_000, RangeProblem.UNREADABLE, ""),
        ("1" * 10_000, RangeProblem.UNREADABLE, ""),
        ("١.١١", RangeProblem.UNREADABLE, ""),  # Arabic-Indic digits are not read as dates
    ],
)
def test_a_range_the_report_cannot_use_says_why(
    typed: str, problem: RangeProblem, detail: str
) -> None:
    """What the answer names: reversed (with the dates read), a day that does not exist,
    more than 366 days, a start after today, or not a range at all (10 kB of it too)."""
    with pytest.raises(RangeError) as refused:
        parse_range(typed, MONDAY_JAN)
    assert (refused.value.problem, refused.value.detail) == (problem, detail)


def test_day_numbers_count_from_1970() -> None:
    """A button carries a date as five digits: 05.01.2026 is day 20458."""
    assert day_number(MONDAY_JAN) == 20458
    assert from_day_number(20458) == MONDAY_JAN
    assert from_day_number(day_number(date(2243, 10, 16))) == date(2243, 10, 16)
