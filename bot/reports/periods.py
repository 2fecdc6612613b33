"""The report's ready-made periods as pairs of local dates: what "this week" or "last 30 days"
means on a given day. Pure: the caller passes today's local date (from its clock, in
`timezone`), so a test can stand on any day."""

from __future__ import annotations

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
