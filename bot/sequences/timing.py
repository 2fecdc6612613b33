"""When a sequence step may run: after its delay, within working hours, and never a second
sequence message to the same client on one local day."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.config import AppConfig
from bot.sla.working_hours import local_midnight, next_opening, tomorrow_morning


def step_due(base: datetime, after: timedelta, config: AppConfig) -> datetime:
    """`after` from `base`, moved to the next opening when that falls at night or on a day
    off (the step waits for the team, who will handle the client's answer)."""
    return next_opening(base + after, config.working_hours, config.zone)


def may_run_now(now: datetime, config: AppConfig) -> datetime | None:
    """None when a step may run at `now`; else when it may (the next opening)."""
    opening = next_opening(now, config.working_hours, config.zone)
    return None if opening == now else opening


def after_todays_message(
    now: datetime, last_message_at: datetime | None, config: AppConfig
) -> datetime | None:
    """None when the client had no sequence message today (the team's local day); else the
    next working day's opening, when the next one may go."""
    if last_message_at is None or last_message_at < local_midnight(now, config.zone):
        return None
    return tomorrow_morning(now, config.working_hours, config.zone)
