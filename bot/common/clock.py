"""Time as data: code reads the time from a clock, so tests and the sandbox can move it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to: tests and the sandbox jump it forward."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment


class JumpingClock:
    """Real time plus the jumps made so far: the sandbox moves the application's time forward
    (to see reminders fire) while everything between jumps still ticks."""

    def __init__(self, base: Clock | None = None) -> None:
        self._base = base or SystemClock()
        self.offset = timedelta()

    def now(self) -> datetime:
        return self._base.now() + self.offset

    def jump(self, delta: timedelta) -> datetime:
        if delta <= timedelta():
            raise ValueError("time only moves forward")
        self.offset += delta
        return self.now()

    def jump_to(self, moment: datetime) -> datetime:
        return self.jump(moment - self.now())

    def timestamp(self) -> float:
        """Unix time by this clock, for the emulated Telegram's message dates."""
        return self.now().timestamp()


def next_morning(now: datetime, zone: ZoneInfo, opens: time = time(9)) -> datetime:
    """The next opening time after `now`, on the local calendar of `zone`."""
    local = now.astimezone(zone)
    morning = datetime.combine(local.date(), opens, tzinfo=zone)
    if morning <= local:
        morning = datetime.combine(local.date() + timedelta(days=1), opens, tzinfo=zone)
    return morning.astimezone(UTC)
