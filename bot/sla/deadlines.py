"""When each reminder and escalation is due: the steps of a time limit (config [sla]) counted
from when the limit starts, in working time, never at night unless configured.

The sweep (bot/sla/sweep.py) fires the step whose time is in `alert_at` and stores the next one; a
row with `alert_at` NULL has nothing more to say.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from bot.config import AlertKind, AppConfig
from bot.sla.working_hours import add_working_time, next_opening


class Step(enum.StrEnum):
    REMIND = "remind"  # the one who should act (the pool for a lead nobody took, else the owner)
    ESCALATE = "escalate"  # the supervisors


def steps_of(kind: AlertKind | str, config: AppConfig) -> list[tuple[Step, timedelta]]:
    """The steps of one kind of limit, in order; a step left out of the config is skipped."""
    configured = config.sla.steps(kind)
    steps = [(Step.REMIND, configured.remind), (Step.ESCALATE, configured.escalate)]
    return [(step, after) for step, after in steps if after is not None]


def step_at(kind: AlertKind | str, level: int, config: AppConfig) -> Step | None:
    """Which step fires when `level` steps have fired already; None: none left."""
    steps = steps_of(kind, config)
    return steps[level][0] if level < len(steps) else None


def alert_time(
    kind: AlertKind | str, start: datetime, level: int, config: AppConfig
) -> datetime | None:
    """When the step after `level` fired ones is due, for a limit that started at `start`;
    None when every step has fired."""
    steps = steps_of(kind, config)
    if level >= len(steps):
        return None
    after = steps[level][1]
    if config.sla.working_time_only:
        due = add_working_time(start, after, config.working_hours, config.zone)
    else:
        due = start + after
    return ping_time(due, config)


def ping_time(due: datetime, config: AppConfig) -> datetime:
    """When somebody may be pinged about something due at `due`: then, or at the next opening
    when that falls at night (unless `[sla] ping_at_night`)."""
    return due if config.sla.ping_at_night else next_opening(due, config.working_hours, config.zone)
