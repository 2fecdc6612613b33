"""Reading a call-back time as a manager types it (bot/leads/time_input.py `parse_when`) and the
default "tomorrow morning" (`tomorrow_morning`).

The clock stands at Tuesday 10.03.2026 12:00 in Moscow (09:00 UTC; Moscow is UTC+3 all year).
Every result is an aware UTC datetime, checked to the minute.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import WorkingHours
from bot.leads.time_input import parse_when
from bot.sla.working_hours import tomorrow_morning

MOSCOW = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # 12:00 in Moscow


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def moscow(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A Moscow wall-clock time, as the UTC moment parse_when returns."""
    return datetime(year, month, day, hour, minute, tzinfo=MOSCOW).astimezone(UTC)


def test_the_moscow_helper_is_three_hours_ahead_of_utc() -> None:
    assert moscow(2026, 3, 10, 15, 30) == utc(2026, 3, 10, 12, 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15:30", moscow(2026, 3, 10, 15, 30)),
        ("15.30", moscow(2026, 3, 10, 15, 30)),  # minutes > 12: a time, not a date
        ("  15:30  ", moscow(2026, 3, 10, 15, 30)),
        ("12:01", moscow(2026, 3, 10, 12, 1)),
        ("23:59", moscow(2026, 3, 10, 23, 59)),
        ("at 15:30", moscow(2026, 3, 10, 15, 30)),
        ("в 15:30", moscow(2026, 3, 10, 15, 30)),
    ],
)
def test_a_time_of_day_means_today_when_it_is_still_ahead(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW, MOSCOW) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("11:00", moscow(2026, 3, 11, 11, 0)),
        ("12:00", moscow(2026, 3, 11, 12, 0)),  # exactly now is not ahead
        ("0:00", moscow(2026, 3, 11, 0, 0)),
        ("9:05", moscow(2026, 3, 11, 9, 5)),
        ("08.45", moscow(2026, 3, 11, 8, 45)),
    ],
)
def test_a_time_of_day_already_past_means_tomorrow(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW, MOSCOW) == expected


TOMORROW_AT_TEN = [
    "завтра 10:00",
    "tomorrow 10:00",
    "Tomorrow 10:00",
    "ЗАВТРА 10.00",
    "завтра в 10:00",
    "tomorrow at 10:00",
    "tomorrow, 10:00",
]


@pytest.mark.parametrize("text", TOMORROW_AT_TEN)
def test_tomorrow_with_a_time_is_that_time_tomorrow(text: str) -> None:
    assert parse_when(text, NOW, MOSCOW) == moscow(2026, 3, 11, 10, 0)


@pytest.mark.parametrize("text", ["tomorrow", "завтра"])
def test_tomorrow_alone_is_the_start_of_the_working_day(text: str) -> None:
    assert parse_when(text, NOW, MOSCOW) == moscow(2026, 3, 11, 9, 0)


def test_the_day_after_tomorrow_is_read_in_russian() -> None:
    assert parse_when("послезавтра 18:00", NOW, MOSCOW) == moscow(2026, 3, 12, 18, 0)


def test_today_with_a_time_ahead_is_today() -> None:
    assert parse_when("сегодня 18:00", NOW, MOSCOW) == moscow(2026, 3, 10, 18, 0)


@pytest.mark.parametrize("text", ["сегодня 10:00", "today", "today 11:59"])
def test_today_with_a_time_already_past_is_none_not_tomorrow(text: str) -> None:
    assert parse_when(text, NOW, MOSCOW) is None


def test_the_start_of_the_working_day_is_configurable() -> None:
    assert parse_when("tomorrow", NOW, MOSCOW, opens=time(10, 30)) == moscow(2026, 3, 11, 10, 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("25.12 11:00", moscow(2026, 12, 25, 11, 0)),
        ("25.12", moscow(2026, 12, 25, 9, 0)),  # a date alone: the start of the working day
        ("10.12", moscow(2026, 12, 10, 9, 0)),  # minutes <= 12 read as a month
        ("5.4 8:30", moscow(2026, 4, 5, 8, 30)),
        ("11.03 15:00", moscow(2026, 3, 11, 15, 0)),
        ("10.03 18:00", moscow(2026, 3, 10, 18, 0)),  # today's date, a time still ahead
    ],
)
def test_a_date_without_a_year_ahead_is_this_year(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW, MOSCOW) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("01.03 10:00", moscow(2027, 3, 1, 10, 0)),
        ("09.03", moscow(2027, 3, 9, 9, 0)),
        ("1.1", moscow(2027, 1, 1, 9, 0)),
    ],
)
def test_a_date_without_a_year_already_past_is_next_year(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW, MOSCOW) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("25.12.2027", moscow(2027, 12, 25, 9, 0)),
        ("25.12.27", moscow(2027, 12, 25, 9, 0)),
        ("25.12.2027 11:00", moscow(2027, 12, 25, 11, 0)),
        ("01.03.2027 18:15", moscow(2027, 3, 1, 18, 15)),
    ],
)
def test_a_date_with_a_year_is_that_date(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW, MOSCOW) == expected


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("in 3h", timedelta(hours=3)),
        ("in 3 hours", timedelta(hours=3)),
        ("IN 1 HOUR", timedelta(hours=1)),
        ("через 30 мин", timedelta(minutes=30)),
        ("через 30 минут", timedelta(minutes=30)),
        ("через 2 часа", timedelta(hours=2)),
        ("через 1 ч.", timedelta(hours=1)),
        ("+2h", timedelta(hours=2)),
        ("+15m", timedelta(minutes=15)),
        ("45 min", timedelta(minutes=45)),
        ("3 дня", timedelta(days=3)),
        ("1 день", timedelta(days=1)),
        ("5 дней", timedelta(days=5)),
        ("2d", timedelta(days=2)),
        ("in 2 days", timedelta(days=2)),
    ],
)
def test_a_relative_time_counts_from_now(text: str, delta: timedelta) -> None:
    assert parse_when(text, NOW, MOSCOW) == NOW + delta


def test_a_relative_time_counts_exactly_from_now_not_from_the_minute() -> None:
    now = datetime(2026, 3, 10, 9, 0, 42, 123456, tzinfo=UTC)
    assert parse_when("+2h", now, MOSCOW) == datetime(2026, 3, 10, 11, 0, 42, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    ["31.02", "31.02 10:00", "30.02.2027", "32.01", "00.05", "31.04 12:00"],
)
def test_a_date_that_does_not_exist_is_none(text: str) -> None:
    assert parse_when(text, NOW, MOSCOW) is None


@pytest.mark.parametrize("text", ["24:00", "25:10", "12:60", "завтра 25.12", "tomorrow 99:99"])
def test_a_time_that_does_not_exist_is_none(text: str) -> None:
    assert parse_when(text, NOW, MOSCOW) is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "hello",
        "🙂",
        "📞 15:30",
        "15:30 please",
        "завтра утром",
        "через полчаса",
        "3",
        "in h",
        "-2h",
        "15:30:00",
        "25/12",
        "2026-12-25",
        "a" * 10_000,
        "1" * 10_000,
        "15:30 " * 2_000,
    ],
    ids=lambda text: text[:20] if len(text) < 100 else f"{text[:6]!r}x{len(text)}",
)
def test_text_that_is_not_a_time_is_none(text: str) -> None:
    assert parse_when(text, NOW, MOSCOW) is None


@pytest.mark.parametrize(
    "text", ["+0m", "in 0 hours", "25.12.2025", "01.03.2026 10:00", "10.03.2026 11:59"]
)
def test_a_moment_not_in_the_future_is_none(text: str) -> None:
    assert parse_when(text, NOW, MOSCOW) is None


def test_the_day_is_the_local_one_after_midnight_in_moscow_but_not_in_utc() -> None:
    late = utc(2026, 3, 10, 22, 30)  # 01:30 on the 11th in Moscow
    assert parse_when("15:30", late, MOSCOW) == moscow(2026, 3, 11, 15, 30)
    assert parse_when("01:00", late, MOSCOW) == moscow(2026, 3, 12, 1, 0)
    assert parse_when("tomorrow", late, MOSCOW) == moscow(2026, 3, 12, 9, 0)


def test_the_same_text_means_a_different_moment_in_another_zone() -> None:
    assert parse_when("15:30", NOW, ZoneInfo("Asia/Vladivostok")) == utc(2026, 3, 11, 5, 30)


def test_29_february_typed_after_february_is_next_years_leap_day() -> None:
    now = utc(2027, 3, 10, 9, 0)
    assert parse_when("29.02", now, MOSCOW) == moscow(2028, 2, 29, 9, 0)


@pytest.mark.parametrize("text", ["25.12 в 11:00", "25.12 at 11:00"])
def test_at_after_a_date_is_read_as_after_a_day_word(text: str) -> None:
    assert parse_when(text, NOW, MOSCOW) == moscow(2026, 12, 25, 11, 0)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (NOW, moscow(2026, 3, 11, 9, 0)),  # a Tuesday: Wednesday
        (utc(2026, 3, 10, 5, 0), moscow(2026, 3, 11, 9, 0)),  # 08:00 Moscow, before opening
        (utc(2026, 3, 10, 20, 59), moscow(2026, 3, 11, 9, 0)),  # 23:59 Moscow
        (utc(2026, 3, 10, 21, 0), moscow(2026, 3, 12, 9, 0)),  # 00:00 on the 11th in Moscow
        (utc(2026, 12, 31, 12, 0), moscow(2027, 1, 1, 9, 0)),  # Thursday: Friday
        (utc(2028, 2, 28, 12, 0), moscow(2028, 2, 29, 9, 0)),
        (utc(2026, 3, 13, 12, 0), moscow(2026, 3, 16, 9, 0)),  # Friday: Monday, not Saturday
        (utc(2026, 3, 14, 12, 0), moscow(2026, 3, 16, 9, 0)),  # Saturday: Monday
        (utc(2026, 3, 15, 20, 59), moscow(2026, 3, 16, 9, 0)),  # Sunday 23:59: Monday
        (utc(2026, 3, 15, 21, 0), moscow(2026, 3, 17, 9, 0)),  # Monday 00:00: Tuesday
    ],
)
def test_tomorrow_morning_is_the_next_working_days_opening_never_a_day_off(
    now: datetime, expected: datetime
) -> None:
    assert tomorrow_morning(now, WorkingHours(), MOSCOW) == expected


def test_tomorrow_morning_honours_the_configured_days_and_opening_time() -> None:
    six_days = WorkingHours(days=frozenset({1, 2, 3, 4, 5, 6}), opens=time(8, 15))
    result = tomorrow_morning(utc(2026, 3, 13, 12, 0), six_days, MOSCOW)  # Friday
    assert result == moscow(2026, 3, 14, 8, 15)  # Saturday is a working day here
    assert result.tzinfo is UTC
    mondays_only = WorkingHours(days=frozenset({1}))
    assert tomorrow_morning(utc(2026, 3, 16, 12, 0), mondays_only, MOSCOW) == moscow(
        2026, 3, 23, 9, 0
    )


@pytest.mark.parametrize("text", ["15:30", "tomorrow", "25.12 11:00", "25.12.2027", "+2h"])
def test_every_result_is_aware_utc(text: str) -> None:
    result = parse_when(text, NOW, MOSCOW)
    assert result is not None
    assert result.tzinfo is UTC
