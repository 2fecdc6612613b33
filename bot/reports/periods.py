"""The report's ready-made periods as pairs of local dates: what "this week" or "last 30 days"
means on a given day. Pure: the caller passes today's local date (from its clock, in
`timezone`), so a test can stand on any day."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from enum import StrEnum

from bot.config import AppConfig


class PeriodKind(StrEnum):
    # the values travel in button data (`rep:week`): short, and never renamed
    TODAY = "today"
    YESTERDAY = "yday"
    THIS_WEEK = "week"
    LAST_7_DAYS = "d7"
    THIS_MONTH = "month"
    LAST_30_DAYS = "d30"
    # Monday to Sunday of the week before: what the weekly report covers (not in the menu)
    LAST_WEEK = "lweek"


# the periods /report offers, in the menu's order
MENU = (
    PeriodKind.TODAY,
    PeriodKind.YESTERDAY,
    PeriodKind.THIS_WEEK,
    PeriodKind.LAST_7_DAYS,
    PeriodKind.THIS_MONTH,
    PeriodKind.LAST_30_DAYS,
)


def report_period(kind: PeriodKind, today: date) -> tuple[date, date]:
    """First and last local day of the period, both included; every period ends today except
    yesterday and last week (a week starts on Monday, as in Russia and ISO 8601)."""
    if kind is PeriodKind.TODAY:
        return today, today
    if kind is PeriodKind.YESTERDAY:
        day = today - timedelta(days=1)
        return day, day
    if kind is PeriodKind.THIS_WEEK:
        return today - timedelta(days=today.weekday()), today
    if kind is PeriodKind.LAST_7_DAYS:
        return today - timedelta(days=6), today
    if kind is PeriodKind.THIS_MONTH:
        return today.replace(day=1), today
    if kind is PeriodKind.LAST_30_DAYS:
        return today - timedelta(days=29), today
    if kind is PeriodKind.LAST_WEEK:
        monday = today - timedelta(days=today.weekday() + 7)
        return monday, monday + timedelta(days=6)
    raise ValueError(f"unknown period {kind!r}")


def local_today(now: datetime, config: AppConfig) -> date:
    """The local calendar date of `now` in the configured time zone."""
    return now.astimezone(config.zone).date()


# --- a typed range ------------------------------------------------------------------------

MAX_DAYS = 366  # the longest period a report is asked for: a (leap) year
TYPED_LIMIT = 64  # characters of a typed range read; longer is not a range
ACROSS_NEW_YEAR_DAYS = 183  # "25.12–10.01" crosses New Year; "15.11–01.11" is reversed
EPOCH = date(1970, 1, 1)  # day numbers (in button data) count from it

# "1.11", "01.11.2026", "1.11.26": day, month and an optional year of 2 or 4 digits (ASCII
# digits: `\d` would read "١.١١" too)
_DATE = r"([0-9]{1,2})\.([0-9]{1,2})(?:\.([0-9]{4}|[0-9]{2}))?"
# two dates joined by a hyphen, an en dash or an em dash (spaces around it optional), or one
_RANGE = re.compile(rf"^\s*{_DATE}\s*(?:[-–—]\s*{_DATE})?\s*$")


class RangeProblem(StrEnum):
    UNREADABLE = "unreadable"  # not one or two dates
    NO_SUCH_DAY = "no_such_day"  # 31.02, 00.05, 12.13
    REVERSED = "reversed"  # the end before the start
    TOO_LONG = "too_long"  # more than MAX_DAYS days
    FUTURE = "future"  # starts after today (a year was given)


class RangeError(ValueError):
    """A typed range the report cannot use: which problem, and the words it is about (the
    date that does not exist, the range as read) for the answer to name."""

    def __init__(self, problem: RangeProblem, detail: str = "") -> None:
        super().__init__(f"{problem.value}: {detail}")
        self.problem = problem
        self.detail = detail


def parse_range(text: str, today: date) -> tuple[date, date]:
    """Two local dates, both included, from what a person typed after /report: `01.11–15.11`,
    `1.11.2026-15.11.2026`, `01.11 - 15.11`; one date for one day. A missing year is the
    current one, or the previous one when the period would start in the future (in January,
    "20.12–31.12" is last December); an end before the start crosses New Year when that
    makes half a year or less (`25.12–10.01`), else it is reversed. Raises RangeError naming
    what is wrong."""
    found = _RANGE.match(text) if len(text) <= TYPED_LIMIT else None
    if found is None:
        raise RangeError(RangeProblem.UNREADABLE)
    d1, m1, typed1, d2, m2, typed2 = found.groups()
    if d2 is None:  # one date: that day
        d2, m2, typed2 = d1, m1, typed1
    start, end = (int(d1), int(m1)), (int(d2), int(m2))
    year1, year2 = _year(typed1), _year(typed2)
    if year1 is not None and year2 is not None:
        first, last = _day(*start, year1), _day(*end, year2)
    elif year2 is not None:  # "25.12–10.01.2027": the December before
        first, last = _day(*start, year2), _day(*end, year2)
        if first > last and _across_new_year(start, end, year2 - 1):
            first = _day(*start, year2 - 1)
    else:
        if year1 is None:  # no year at all: this year's, unless that starts in the future
            year1 = today.year if _day(*start, today.year) <= today else today.year - 1
        first, last = _day(*start, year1), _day(*end, year1)
        if last < first and _across_new_year(start, end, year1):
            last = _day(*end, year1 + 1)
    shown = f"{first:%d.%m.%Y} – {last:%d.%m.%Y}"
    if last < first:
        raise RangeError(RangeProblem.REVERSED, shown)
    if (last - first).days + 1 > MAX_DAYS:
        raise RangeError(RangeProblem.TOO_LONG, shown)
    if first > today:
        raise RangeError(RangeProblem.FUTURE, shown)
    return first, last


def _across_new_year(start: tuple[int, int], end: tuple[int, int], year: int) -> bool:
    """An end before the start, without a year between them, is read as crossing New Year
    ("25.12–10.01") when that makes a period of half a year or less; a longer one was most
    likely typed the wrong way round ("15.11–01.11") and is refused as reversed."""
    crossed = _day(*end, year + 1) - _day(*start, year)
    return crossed.days < ACROSS_NEW_YEAR_DAYS


def _year(text: str | None) -> int | None:
    if text is None:
        return None
    return 2000 + int(text) if len(text) == 2 else int(text)


def _day(day: int, month: int, year: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise RangeError(RangeProblem.NO_SUCH_DAY, f"{day:02d}.{month:02d}") from None


def day_number(day: date) -> int:
    """A date as the days since 1970-01-01: five digits in a button until the 23rd century."""
    return (day - EPOCH).days


def from_day_number(number: int) -> date:
    return EPOCH + timedelta(days=number)
