"""Working hours: when the team answers. Clients writing outside them are told when to expect
an answer (the reminders issue counts time limits in working time with the same rules)."""

from __future__ import annotations

from datetime import datetime, timedelta
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


def after_hours_notice(
    now: datetime, told_until: str | None, hours: WorkingHours, zone: ZoneInfo
) -> datetime | None:
    """When the team opens, if a client writing now should be told so: outside working hours
    and not told yet for this closed spell (`told_until`: the opening they were told of)."""
    if is_open(now, hours, zone) or (told_until is not None and now.isoformat() < told_until):
        return None
    return next_opening(now, hours, zone)
