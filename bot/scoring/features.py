"""The facts of a lead the score looks at, each a short string value: where it came from, what
it asks for, how and when it arrived, what the client gave. The same function serves reading a
lead and the recount (whose SQL groups raw values, normalised here afterwards), so the counts
and the scores always speak of the same values."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any, Protocol

from storage.models import TELEGRAM_SOURCE

# the factors, in the order the API and the card name them
FEATURES = (
    "source",
    "utm_source",
    "service",
    "channel",
    "hour",
    "weekday",
    "phone",
    "email",
    "repeat",
    "length",
)
TOTAL = "_all"  # the counts row holding the totals
VALUE_LIMIT = 64  # characters of a value kept (score_counts.value)
NONE = "-"  # a value the lead does not have (no utm_source, no service)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CALL_SOURCES = frozenset({"call", "missed_call"})
EMAIL_SOURCES = frozenset({"email", "e-mail", "mail"})


class ScoredLead(Protocol):
    """What the score reads of a lead (a Lead row, or a test's stand-in)."""

    source: str
    utm: dict[str, Any] | None
    service: str | None
    phone: str | None
    email: str | None
    is_repeat: bool
    message: str | None
    created_at: datetime


def text_value(raw: object) -> str:
    """A free-text value as counted: trimmed, case-folded, cut; NONE when empty."""
    text = " ".join(str(raw or "").split()).casefold()
    return text[:VALUE_LIMIT] if text else NONE


def channel(source: str) -> str:
    """How the lead reached us: a call, a chat with the bot, an e-mail, or a form (the rest)."""
    source = source.casefold()
    if source in CALL_SOURCES:
        return "call"
    if source == TELEGRAM_SOURCE:
        return "chat"
    if source in EMAIL_SOURCES:
        return "email"
    return "form"


def hour_band(hour: int) -> str:
    """The part of the day a lead arrived in (local hours)."""
    if 7 <= hour < 12:
        return "morning"
    if 12 <= hour < 17:
        return "afternoon"
    if 17 <= hour < 22:
        return "evening"
    return "night"


def length_band(length: int) -> str:
    """How much the client wrote: nothing, a line, a paragraph, a letter."""
    if length == 0:
        return "none"
    if length < 40:
        return "short"
    if length < 300:
        return "medium"
    return "long"


def time_values(created_at: datetime, zone: tzinfo) -> tuple[str, str]:
    """(hour band, weekday) of an arrival, in the team's time zone."""
    local = created_at.astimezone(zone)
    return hour_band(local.hour), WEEKDAYS[local.weekday()]


def yes_no(present: object) -> str:
    return "yes" if present else "no"


def lead_features(lead: ScoredLead, zone: tzinfo) -> dict[str, str]:
    """Every factor's value for one lead."""
    hour, weekday = time_values(lead.created_at, zone)
    # untrimmed, as SQL's length() counts it in the recount
    message = lead.message or ""
    return {
        "source": text_value(lead.source),
        "utm_source": text_value((lead.utm or {}).get("utm_source")),
        "service": text_value(lead.service),
        "channel": channel(lead.source or ""),
        "hour": hour,
        "weekday": weekday,
        "phone": yes_no(lead.phone),
        "email": yes_no(lead.email),
        "repeat": yes_no(lead.is_repeat),
        "length": length_band(len(message)),
    }
