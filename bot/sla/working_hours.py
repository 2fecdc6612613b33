"""Working hours: when the team answers. Clients writing outside them are told when to expect
an answer; time limits (bot/sla/deadlines.py) are counted in working time by the same rules."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import WorkingHours


def is_open(moment: datetime, hours: WorkingHours, zone: ZoneInfo) -> bool:
    local = moment.astimezone(zone)
    return local.isoweekday() in hours.days and hours.opens <= local.time() < hours.closes


def next_opening(moment: datetime, hours: WorkingHours, zone: ZoneInfo) -> datetime:
    """The next moment the team is at work (`moment` itself when open), in `moment`'s zone."""
    if is_open(moment, hours, zone):
        return moment
    local = moment.astimezone(zone)
    for ahead in range(0, 8):
        day = local.date() + timedelta(days=ahead)
        opening = datetime.combine(day, hours.opens, tzinfo=zone)
        if day.isoweekday() in hours.days and opening > local:
            return opening.astimezone(moment.tzinfo)
    raise ValueError("working hours name no working day")


def add_working_time(
    start: datetime, duration: timedelta, hours: WorkingHours, zone: ZoneInfo
) -> datetime:
    """`start` plus `duration` of working time: 10 minutes from 23:00 is 10 minutes after the
    next opening, and an hour from 18:30 is 09:30 on the next working day."""
    moment = next_opening(start, hours, zone)
    remaining = duration
    while True:
        local = moment.astimezone(zone)
        closing = datetime.combine(local.date(), hours.closes, tzinfo=zone)
        left = closing - local
        if remaining < left:
            return (local + remaining).astimezone(start.tzinfo)
        remaining -= left
        moment = next_opening(closing, hours, zone)


def after_hours_notice(
    now: datetime, told_until: str | None, hours: WorkingHours, zone: ZoneInfo
) -> datetime | None:
    """When the team opens, if a client writing now should be told so: outside working hours
    and not told yet for this closed spell (`told_until`: the opening they were told of)."""
    if is_open(now, hours, zone) or (told_until is not None and now.isoformat() < told_until):
        return None
    return next_opening(now, hours, zone)


def local_midnight(now: datetime, zone: ZoneInfo) -> datetime:
    """The start of `now`'s day where the team works, as an aware UTC time."""
    local = now.astimezone(zone)
    return datetime.combine(local.date(), time(), tzinfo=zone).astimezone(UTC)


def tomorrow_morning(now: datetime, hours: WorkingHours, zone: ZoneInfo) -> datetime:
    """The opening of the first working day after today in `zone` (UTC): never a day off."""
    tomorrow = now.astimezone(zone).date() + timedelta(days=1)
    midnight = datetime.combine(tomorrow, time(), tzinfo=zone)
    return next_opening(midnight, hours, zone).astimezone(UTC)


def working_time_between(
    start: datetime, end: datetime, hours: WorkingHours, zone: ZoneInfo
) -> timedelta:
    """How much of [start, end) fell in working hours: a lead in at 18:50 on Friday and taken
    at 09:05 on Monday waited 15 minutes of working time. Zero when `end` is not after
    `start`. One step per local day, so a span of a few days costs a few steps."""
    if end <= start:
        return timedelta()
    total = timedelta()
    day = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    while day <= last:
        if day.isoweekday() in hours.days:
            opens = datetime.combine(day, hours.opens, tzinfo=zone).astimezone(UTC)
            closes = datetime.combine(day, hours.closes, tzinfo=zone).astimezone(UTC)
            overlap = min(end, closes) - max(start, opens)
            if overlap > timedelta():
                total += overlap
        day += timedelta(days=1)
    return total
