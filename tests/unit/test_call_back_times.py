"""The card's quick call-back times (bot/leads/call_backs.py): +30 min, +2 h, and tomorrow
morning, which is the next working day's opening, never a day off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import load_app_config
from bot.leads.call_backs import CallBackChoice, quick_call_back_time

FRIDAY_NOON = datetime(2026, 3, 13, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
MONDAY_OPENING = datetime(2026, 3, 16, 6, 0, tzinfo=UTC)  # 09:00 in Moscow


def test_quick_times_are_counted_from_now() -> None:
    config = load_app_config()
    assert quick_call_back_time(CallBackChoice.IN_30_MIN, FRIDAY_NOON, config) == (
        FRIDAY_NOON + timedelta(minutes=30)
    )
    assert quick_call_back_time(CallBackChoice.IN_2_HOURS, FRIDAY_NOON, config) == (
        FRIDAY_NOON + timedelta(hours=2)
    )


def test_a_fridays_tomorrow_morning_is_monday_at_the_opening() -> None:
    config = load_app_config()
    assert quick_call_back_time(CallBackChoice.TOMORROW, FRIDAY_NOON, config) == MONDAY_OPENING


def test_tomorrow_morning_follows_the_configured_days_and_opening() -> None:
    config = load_app_config(
        overrides={
            "working_hours": {"days": ["mon", "tue", "wed", "thu", "fri", "sat"], "opens": "10:30"}
        }
    )
    saturday = datetime(2026, 3, 14, 7, 30, tzinfo=UTC)  # 10:30 in Moscow
    assert quick_call_back_time(CallBackChoice.TOMORROW, FRIDAY_NOON, config) == saturday


def test_a_typed_time_is_not_a_quick_time() -> None:
    with pytest.raises(ValueError, match="typed"):
        quick_call_back_time(CallBackChoice.OTHER, FRIDAY_NOON, load_app_config())
