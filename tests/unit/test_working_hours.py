"""Working hours in the configured zone: open or not, and the next opening."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.config import ConfigError, WorkingHours, load_app_config
from bot.sla.working_hours import is_open, next_opening

MOSCOW = ZoneInfo("Europe/Moscow")
HOURS = WorkingHours()  # Mon–Fri 09:00–19:00


def moscow(day: int, hour: int, minute: int = 0) -> datetime:
    """January 2026: the 5th is a Monday."""
    return datetime(2026, 1, day, hour, minute, tzinfo=MOSCOW).astimezone(UTC)


@pytest.mark.parametrize(
    ("moment", "open_now", "opens"),
    [
        (moscow(5, 12), True, moscow(5, 12)),
        (moscow(5, 8, 59), False, moscow(5, 9)),
        (moscow(5, 19), False, moscow(6, 9)),  # closing time is closed
        (moscow(9, 23), False, moscow(12, 9)),  # Friday night: Monday morning
        (moscow(10, 12), False, moscow(12, 9)),  # Saturday
    ],
)
def test_open_and_next_opening(moment: datetime, open_now: bool, opens: datetime) -> None:
    assert is_open(moment, HOURS, MOSCOW) is open_now
    assert next_opening(moment, HOURS, MOSCOW) == opens


def test_days_are_named_and_a_closed_week_is_a_config_error() -> None:
    config = load_app_config(
        overrides={"working_hours": {"days": ["Sat", "sun"], "opens": "10:00"}}
    )
    assert config.working_hours.days == {6, 7} and config.working_hours.opens == time(10)
    for wrong in ({"days": []}, {"days": ["someday"]}, {"opens": "20:00"}):
        with pytest.raises(ConfigError):
            load_app_config(overrides={"working_hours": wrong})
