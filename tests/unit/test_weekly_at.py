"""`[reports] weekly_at`: how it is written ("mon 09:00", or "off"), what a wrong value is told,
and when in the week the weekly report is due (its run key, the ISO week) and which week it
covers. Moscow time; Monday 12.01.2026 opens ISO week 3."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from bot.config import ConfigError, WeeklyAt, load_app_config
from bot.reports.periods import PeriodKind, report_period
from bot.reports.weekly import weekly_run_key


def _weekly(value: object) -> WeeklyAt | None:
    return load_app_config(overrides={"reports": {"weekly_at": value}}).reports.weekly_at


def test_the_default_is_monday_nine_local_time() -> None:
    assert load_app_config().reports.weekly_at == WeeklyAt(0, time(9))


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("mon 09:00", WeeklyAt(0, time(9))),
        ("Sun 23:59", WeeklyAt(6, time(23, 59))),
        ("  fri   7:30 ", WeeklyAt(4, time(7, 30))),  # spaces and a one-digit hour
        ("WED 00:00", WeeklyAt(2, time(0))),
        ("off", None),
        ("OFF", None),
    ],
)
def test_a_weekday_and_a_local_time_or_off(written: str, read: WeeklyAt | None) -> None:
    assert _weekly(written) == read


@pytest.mark.parametrize(
    "written",
    ["monday 09:00", "mon 9", "mon 24:00", "mon 09:60", "09:00", "mon", "", "пн 09:00", 9, True],
)
def test_anything_else_stops_the_start_naming_the_key_and_the_form(written: object) -> None:
    """`leadbot run` prints this one line and exits 2 (bot/cli.py)."""
    with pytest.raises(ConfigError) as refused:
        _weekly(written)
    assert str(refused.value) == (
        "config: reports.weekly_at: must be a weekday (mon..sun) and a local time, "
        'such as "mon 09:00", or "off"'
    )


def _moscow(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of January 2026 given in Moscow time (UTC+3)."""
    return datetime(2026, 1, day, hour - 3, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("weekly_at", "now", "key"),
    [
        ("mon 09:00", _moscow(12, 8, 59), None),  # Monday before nine: not yet
        ("mon 09:00", _moscow(12, 9), "2026-W03"),
        ("mon 09:00", _moscow(14, 15), "2026-W03"),  # down on Monday: Wednesday will do
        ("mon 09:00", _moscow(18, 23, 59), "2026-W03"),  # still that week on Sunday night
        ("mon 09:00", _moscow(19, 8, 59), None),  # the next Monday before nine
        ("mon 09:00", _moscow(19, 9), "2026-W04"),
        ("wed 18:30", _moscow(14, 18, 29), None),
        ("wed 18:30", _moscow(14, 18, 30), "2026-W03"),
        ("wed 18:30", _moscow(13, 23), None),  # Tuesday: before the moment of this week
        ("sun 23:00", _moscow(18, 23), "2026-W03"),
        ("off", _moscow(12, 9), None),
    ],
)
def test_the_run_is_due_from_the_moment_to_the_end_of_its_iso_week(
    weekly_at: str, now: datetime, key: str | None
) -> None:
    config = load_app_config(overrides={"reports": {"weekly_at": weekly_at}})
    assert weekly_run_key(now, config) == key


def test_the_local_week_not_the_utc_one() -> None:
    """Monday 00:30 Moscow is still Sunday in UTC: with "mon 00:00" week 3's run is due then;
    a minute before Moscow's midnight it is still week 2's (UTC would have said week 2 for
    both)."""
    config = load_app_config(overrides={"reports": {"weekly_at": "mon 00:00"}})
    assert weekly_run_key(datetime(2026, 1, 11, 21, 30, tzinfo=UTC), config) == "2026-W03"
    assert weekly_run_key(datetime(2026, 1, 11, 20, 59, tzinfo=UTC), config) == "2026-W02"


@pytest.mark.parametrize(
    "today",
    [date(2026, 1, 12), date(2026, 1, 14), date(2026, 1, 18)],  # Monday, Wednesday, Sunday
)
def test_any_day_of_a_week_reports_the_monday_to_sunday_before_it(today: date) -> None:
    assert report_period(PeriodKind.LAST_WEEK, today) == (date(2026, 1, 5), date(2026, 1, 11))


def test_the_week_before_the_years_first_reaches_into_december() -> None:
    """Thursday 01.01.2026 is in ISO week 1 (29.12.2025 – 04.01.2026): its last week is
    22.12 – 28.12.2025, and its run key is 2026-W01."""
    config = load_app_config()
    assert report_period(PeriodKind.LAST_WEEK, date(2026, 1, 1)) == (
        date(2025, 12, 22),
        date(2025, 12, 28),
    )
    assert weekly_run_key(_moscow(1, 12), config) == "2026-W01"
