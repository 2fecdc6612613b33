"""The times a client may pick for a call: slot starts on `[self_service] slot_length`
boundaries of the team's clock, inside `[working_hours]` (a slot ends by closing time), at
least `notice` from now, on the first `days_ahead` working days from today. A slot pressed is
checked again against the same rule, so one that has passed meanwhile is refused."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, timedelta

from bot.config import AppConfig


class SlotDay(enum.StrEnum):
    """How a slot's day is named on its button."""

    TODAY = "today"
    TOMORROW = "tomorrow"
    LATER = "later"  # named by its date


def _working_days(now: datetime, config: AppConfig) -> list[date]:
    """The first `days_ahead` working days from today (today counts if it is one)."""
    hours, wanted = config.working_hours, config.self_service.days_ahead
    day = now.astimezone(config.zone).date()
    days: list[date] = []
    while len(days) < wanted:  # at least one working day a week (WorkingHours checks)
        if day.isoweekday() in hours.days:
            days.append(day)
        day += timedelta(days=1)
    return days


def all_slots(now: datetime, config: AppConfig) -> list[datetime]:
    """Every slot a client may pick now, earliest first (aware, UTC)."""
    zone, hours, rules = config.zone, config.working_hours, config.self_service
    earliest = now + rules.notice
    found: list[datetime] = []
    for day in _working_days(now, config):
        start = datetime.combine(day, hours.opens, tzinfo=zone)
        closes = datetime.combine(day, hours.closes, tzinfo=zone)
        # boundaries are counted from the opening: 09:00, 09:30... (or 09:15... for 15 minutes)
        moment = start
        while moment + rules.slot_length <= closes:
            # through UTC: a wall-clock day with a DST change still steps real minutes
            if moment.astimezone(UTC) >= earliest:
                found.append(moment.astimezone(UTC))
            moment = (moment.astimezone(UTC) + rules.slot_length).astimezone(zone)
    return found


def free_slots(now: datetime, config: AppConfig) -> list[datetime]:
    """The slots one picker shows: the first `slots_shown` of all_slots."""
    return all_slots(now, config)[: config.self_service.slots_shown]


def is_free_slot(moment: datetime, now: datetime, config: AppConfig) -> bool:
    """Whether a pressed slot may still be picked now (not past, inside the hours, on a
    boundary, not too far ahead)."""
    return moment.astimezone(UTC) in set(all_slots(now, config))


def slot_day(moment: datetime, now: datetime, config: AppConfig) -> SlotDay:
    today = now.astimezone(config.zone).date()
    day = moment.astimezone(config.zone).date()
    if day == today:
        return SlotDay.TODAY
    if day == today + timedelta(days=1):
        return SlotDay.TOMORROW
    return SlotDay.LATER


def slot_minute(moment: datetime) -> int:
    """A slot as it rides in a button: whole minutes since the Unix epoch."""
    return int(moment.timestamp()) // 60


def minute_slot(minute: int) -> datetime | None:
    """A button's minute back to a time; None when it is out of any sensible range (forged)."""
    if not 0 < minute < 10**9:
        return None
    return datetime.fromtimestamp(minute * 60, tz=UTC)
