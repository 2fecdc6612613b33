"""Time limits count working time and never ping at night (Mon–Fri 09:00–19:00 Moscow)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import AlertKind, ConfigError, load_app_config
from bot.sla.deadlines import Step, alert_time, ping_time, step_at

MSK = timedelta(hours=3)


def msk(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in January 2026 given in Moscow time (5 Jan is a Monday)."""
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC) - MSK


CONFIG = load_app_config()


def test_a_lead_in_working_hours_is_reminded_after_ten_minutes_and_escalated_after_thirty():
    start = msk(5, 12)
    assert alert_time(AlertKind.NOT_TAKEN, start, 0, CONFIG) == msk(5, 12, 10)
    assert alert_time(AlertKind.NOT_TAKEN, start, 1, CONFIG) == msk(5, 12, 30)
    assert alert_time(AlertKind.NOT_TAKEN, start, 2, CONFIG) is None
    assert step_at(AlertKind.NOT_TAKEN, 0, CONFIG) == Step.REMIND
    assert step_at(AlertKind.NOT_TAKEN, 1, CONFIG) == Step.ESCALATE
    assert step_at(AlertKind.NOT_TAKEN, 2, CONFIG) is None


def test_a_lead_at_23_is_due_after_the_opening():
    assert alert_time(AlertKind.NOT_TAKEN, msk(5, 23), 0, CONFIG) == msk(6, 9, 10)


def test_a_limit_running_past_closing_continues_next_working_day():
    # 2 h from 18:30 on Friday: 30 min on Friday, 1 h 30 min on Monday
    assert alert_time(AlertKind.NO_CONTACT, msk(9, 18, 30), 0, CONFIG) == msk(12, 10, 30)


def test_a_call_back_due_at_night_is_reminded_at_the_opening_not_at_night():
    assert alert_time(AlertKind.CALL_BACK, msk(5, 21), 0, CONFIG) == msk(6, 9)
    assert alert_time(AlertKind.CALL_BACK, msk(5, 15), 0, CONFIG) == msk(5, 15)


def test_wall_clock_limits_and_night_pings_when_configured():
    night = load_app_config(overrides={"sla": {"working_time_only": False, "ping_at_night": True}})
    assert alert_time(AlertKind.NOT_TAKEN, msk(5, 23), 0, night) == msk(5, 23, 10)
    wall = load_app_config(overrides={"sla": {"working_time_only": False}})
    assert alert_time(AlertKind.NOT_TAKEN, msk(5, 23), 0, wall) == msk(6, 9)


def test_a_step_left_out_is_skipped():
    only_escalate = load_app_config(overrides={"sla": {"answer": {"remind": "off"}}})
    assert step_at(AlertKind.ANSWER, 0, only_escalate) == Step.ESCALATE


def test_escalating_before_reminding_is_a_config_error():
    with pytest.raises(Exception, match="escalate"):
        load_app_config(overrides={"sla": {"answer": {"remind": "1h", "escalate": "10m"}}})


@pytest.mark.parametrize("snooze", ["off", "0s", ""])
def test_snooze_cannot_be_switched_off_and_says_so(snooze: str) -> None:
    with pytest.raises(ConfigError, match=r"sla\.snooze: must be a duration longer than zero"):
        load_app_config(overrides={"sla": {"snooze": snooze}})


def test_a_night_retry_pings_at_the_opening() -> None:
    config = load_app_config()  # Mon-Fri 09:00-19:00 Moscow
    friday_night = datetime(2026, 1, 9, 20, 30, tzinfo=UTC)  # 23:30 local
    assert ping_time(friday_night, config) == datetime(2026, 1, 12, 6, 0, tzinfo=UTC)
    noon = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
    assert ping_time(noon, config) == noon
    night_pings = load_app_config(overrides={"sla": {"ping_at_night": True}})
    assert ping_time(friday_night, night_pings) == friday_night
