"""A call-back time as a manager types it on a phone, read in their time zone.

"15:30", "завтра 10:00", "tomorrow", "25.12 11:00", "25.12.2027", "in 3h", "через 30 мин",
"+2h". A time of day already past means tomorrow; a date already past (no year given) means
next year. Anything else, or a moment not in the future, is None: the caller shows an example.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_RELATIVE = re.compile(
    r"^(?:in|через|\+)?\s*(\d{1,4})\s*"
    r"(m|min|mins|minutes?|мин|минуты?|минут|h|hrs?|hours?|ч|час|часа|часов|d|days?|д|дн|дня|дней|день)\.?$"
)
_UNITS = {"m": "minutes", "м": "minutes", "h": "hours", "ч": "hours", "d": "days", "д": "days"}
_TIME = re.compile(r"(\d{1,2})[:.](\d{2})$")
_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})(?:\.(\d{4}|\d{2}))?")
_DAY_WORDS = {"today": 0, "сегодня": 0, "tomorrow": 1, "завтра": 1, "послезавтра": 2}


def parse_when(text: str, now: datetime, zone: ZoneInfo, opens: time = time(9)) -> datetime | None:
    """The moment meant by `text` (UTC), or None when it cannot be read or is not ahead."""
    words = " ".join(text.lower().replace(",", " ").split())
    if not words:
        return None
    if relative := _RELATIVE.match(words):
        amount, unit = int(relative.group(1)), relative.group(2)
        moment = now + timedelta(**{_UNITS[unit[0]]: amount})
        return moment if moment > now else None
    local_now = now.astimezone(zone)
    if _is_time_of_day(words):
        day, rest = None, words
    else:
        try:
            day, rest = _day(words, local_now.date())
        except ValueError:  # 31.02: not a day
            return None
    clock = opens
    if rest:
        found = _TIME.match(rest)
        if found is None:
            return None
        hour, minute = int(found.group(1)), int(found.group(2))
        if hour > 23 or minute > 59:
            return None
        clock = time(hour, minute)
    elif day is None:
        return None
    if day is None:  # a time alone: today, or tomorrow if that time has passed
        day = local_now.date()
        if datetime.combine(day, clock, tzinfo=zone) <= local_now:
            day += timedelta(days=1)
    moment = datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)
    return moment if moment > now else None


def _is_time_of_day(words: str) -> bool:
    """ "15:30" and "15.30" are times; "10.12" is a date (the 10th of December)."""
    found = _TIME.fullmatch(words)
    return found is not None and (":" in words or int(found.group(2)) > 12)


def _day(words: str, today: date) -> tuple[date | None, str]:
    """The day named at the start of `words` (None: no day named) and what follows it."""
    first, _, rest = words.partition(" ")
    if first in _DAY_WORDS:
        return today + timedelta(days=_DAY_WORDS[first]), _without_at(rest)
    found = _DATE.match(words)
    if found is None or (found.end() < len(words) and words[found.end()] != " "):
        return None, _without_at(words)
    day_of_month, month = int(found.group(1)), int(found.group(2))
    year_text = found.group(3)
    year = today.year if year_text is None else int(year_text)
    if year < 100:
        year += 2000
    if year_text is None:
        day = _next_date(today, month, day_of_month)
    else:
        day = date(year, month, day_of_month)
    return day, _without_at(words[found.end() :].strip())


def _next_date(today: date, month: int, day_of_month: int) -> date:
    """The first such date from today on; 29.02 may be up to four years away."""
    for year in range(today.year, today.year + 5):
        try:
            day = date(year, month, day_of_month)
        except ValueError:  # 29.02 in a common year, or no such day at all
            continue
        if day >= today:
            return day
    raise ValueError(f"no date {day_of_month}.{month}")


def _without_at(words: str) -> str:
    return words.removeprefix("at ").removeprefix("в ")
