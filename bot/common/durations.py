"""Durations as people write them in config: `90s`, `15m`, `2h`, `1d`."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


def parse_duration(text: str | int | float) -> timedelta:
    """Parse `90s`, `15m`, `2h`, `1d`, `1h30m`; a bare number means seconds."""
    if isinstance(text, int | float):
        return timedelta(seconds=text)
    cleaned = text.strip().lower()
    if not cleaned:
        raise ValueError("empty duration")
    if re.fullmatch(r"\d+(?:\.\d+)?", cleaned):
        return timedelta(seconds=float(cleaned))
    pos = 0
    total = timedelta()
    for match in _PART.finditer(cleaned):
        if cleaned[pos : match.start()].strip():
            break
        total += timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
        pos = match.end()
    if pos == 0 or cleaned[pos:].strip():
        raise ValueError(f"cannot read duration {text!r}: write it like 90s, 15m, 2h or 1d")
    return total
